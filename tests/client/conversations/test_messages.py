"""Messages end to end: attachments, unknown types, disappearing timer, blocking."""

from __future__ import annotations

import pytest

from calpico.client.errors import Blocked
from calpico.client.events import (
    ConversationAdded,
    DisappearingTimerChanged,
    MessageDeleted,
    MessageReceived,
    MessageRequestReceived,
)
from calpico.wire.app import Attachment, Unknown

from .conftest import People


async def test_attachments_and_unknown_types_arrive(people: People) -> None:
    alice = await people.person("alice")
    bob = await people.person("bob")
    dm = await alice.chats.start_dm(bob.name)
    data = b"MARK-file-" + bytes(range(256)) * 40
    sent = await alice.chats.send_attachment(dm.id, data, name="notes.bin", caption="MARK-caption")
    got = await bob.wait(MessageReceived, lambda e: e.message.message_id == sent.message_id)
    shared = bob.chats.content(got.message)
    assert isinstance(shared, Attachment) and shared.name == "notes.bin" and shared.size == len(data)
    assert await bob.chats.download(dm.id, sent.message_id) == data

    future = b'{"v":1,"type":"sticker","id":"stickerMARK1","sent_at":1700000000000,"pack":"cats"}'
    await alice.chats.send(dm.id, Unknown(payload=future, reason="newer type"))
    odd = await bob.wait(MessageReceived, lambda e: e.message.message_id == "stickerMARK1")
    content = bob.chats.content(odd.message)
    assert isinstance(content, Unknown) and content.type == "sticker" and content.payload == future
    assert [m.message_id for m in await bob.chats.messages(dm.id)][-1] == "stickerMARK1"


async def test_a_disappearing_timer_deletes_messages_on_every_device(people: People) -> None:
    alice = await people.person("alice")
    bob = await people.person("bob")
    dm = await alice.chats.start_dm(bob.name)
    await bob.wait(MessageRequestReceived, lambda e: e.conversation_id == dm.id)
    await bob.chats.accept(dm.id)
    await alice.chats.set_disappearing_timer(dm.id, 1)
    changed = await bob.wait(DisappearingTimerChanged, lambda e: e.conversation_id == dm.id)
    assert changed.seconds == 1 and changed.by == alice.name
    assert (await bob.chats.settings(dm.id)).disappearing_seconds == 1
    sent = await alice.chats.send_text(dm.id, "this will vanish MARK-vanish")
    got = await bob.wait(MessageReceived, lambda e: e.message.message_id == sent.message_id)
    assert got.message.expires_at is not None
    for device in (alice, bob):
        expired = await device.wait(MessageDeleted, lambda e: e.message_id == sent.message_id)
        assert expired.by is None
        assert sent.message_id not in [m.message_id for m in await device.chats.messages(dm.id)]


async def test_a_blocked_persons_messages_are_hidden_and_they_cannot_reach_us(people: People) -> None:
    alice = await people.person("alice")
    bob = await people.person("bob")
    carol = await people.person("carol")
    for device in (bob, carol):
        await device.chats.start_dm(alice.name)
    room = await alice.chats.create_room("club", [bob.name, carol.name])
    await carol.wait(ConversationAdded, lambda e: e.conversation.id == room.id)
    await alice.chats.block(carol.name)
    hidden = await carol.chats.send_text(room.id, "you cannot see me MARK-hidden")
    shown = await bob.chats.send_text(room.id, "visible MARK-shown")
    await alice.wait(MessageReceived, lambda e: e.message.message_id == shown.message_id)
    await bob.wait(MessageReceived, lambda e: e.message.message_id == hidden.message_id)
    assert not [e for e in alice.events(MessageReceived) if e.message.message_id == hidden.message_id]
    assert hidden.message_id not in [m.message_id for m in await alice.chats.messages(room.id)]
    with pytest.raises(Blocked):
        await carol.chats.create_room("again", [alice.name])
    await alice.chats.unblock(carol.name)
    assert hidden.message_id in [m.message_id for m in await alice.chats.messages(room.id)]
