"""DMs end to end: start, reply, edit, react, delete, receipts, typing, requests."""

from __future__ import annotations

from calpico.client.events import ConversationAdded, MessageReceived, MessageRequestReceived
from calpico.client.store import ConversationStatus
from calpico.wire.app import Text

from .conftest import People


async def test_a_dm_reaches_the_other_person_and_back(people: People) -> None:
    alice = await people.person("alice")
    bob = await people.person("bob")
    dm = await alice.chats.start_dm(bob.name)
    sent = await alice.chats.send_text(dm.id, "hello bob MARK-dm-1")
    request = await bob.wait(MessageRequestReceived, lambda e: e.conversation_id == dm.id)
    assert request.sender == alice.name
    got = await bob.wait(MessageReceived, lambda e: e.message.message_id == sent.message_id)
    content = bob.chats.content(got.message)
    assert isinstance(content, Text) and content.body == "hello bob MARK-dm-1"
    assert [c.id for c in await bob.chats.requests()] == [dm.id]
    accepted = await bob.chats.accept(dm.id)
    assert accepted.status is ConversationStatus.ACCEPTED
    reply = await bob.chats.send_text(dm.id, "hi alice MARK-dm-2", reply_to=sent.message_id)
    back = await alice.wait(MessageReceived, lambda e: e.message.message_id == reply.message_id)
    assert back.message.sender_user == bob.name
    assert (await alice.chats.start_dm(bob.name)).id == dm.id
    assert alice.events(ConversationAdded)
