"""Several devices per person: linking by one-time code, one person in events, key-change warnings, safety numbers."""

from __future__ import annotations

import pytest

from calpico.client.conversations.linking import parse_code
from calpico.client.errors import CredentialMismatch, UsageError
from calpico.client.events import (
    ContactKeysChanged,
    ConversationAdded,
    DeviceLinked,
    MemberJoined,
    MessageReceived,
    MessageRequestReceived,
)

from .conftest import People


async def test_a_linked_device_joins_every_conversation_and_others_are_warned(people: People) -> None:
    alice = await people.person("alice")
    bob = await people.person("bob")
    carol = await people.person("carol")
    dm = await alice.chats.start_dm(bob.name)
    await bob.wait(MessageRequestReceived, lambda e: e.conversation_id == dm.id)
    await bob.chats.accept(dm.id)
    for device in (bob, carol):
        await device.chats.start_dm(alice.name)
    room = await alice.chats.create_room("family", [bob.name, carol.name])
    await bob.wait(ConversationAdded, lambda e: e.conversation.id == room.id)
    number_before = await carol.chats.safety_number(bob.name)
    assert number_before == await bob.chats.safety_number(carol.name)
    await carol.chats.verify(bob.name, number_before)

    bob2 = await people.second_device(bob)
    linked = await bob.wait(DeviceLinked)
    assert linked.device_id == bob2.client.device_id and linked.conversations == 2
    added_dm = await bob2.wait(ConversationAdded, lambda e: e.conversation.id == dm.id)
    added_room = await bob2.wait(ConversationAdded, lambda e: e.conversation.id == room.id)
    assert added_dm.by == added_room.by == bob.name  # our own device added it: accepted, not a request
    # others see one person with one more device, and a warning that bob's keys changed
    more = await alice.wait(MemberJoined, lambda e: e.conversation_id == room.id and e.device_id is not None)
    assert more.username == bob.name and more.device_id == bob2.client.device_id
    warning = await carol.wait(ContactKeysChanged, lambda e: e.username == bob.name)
    assert warning.added == (bob2.client.device_id,) and warning.was_verified
    assert [p.device_ids for p in await alice.chats.members(room.id) if p.username == bob.name] == [
        tuple(sorted([bob.client.device_id, bob2.client.device_id]))
    ]
    assert await carol.chats.safety_number(bob.name) != number_before
    assert len([e for e in alice.events(MemberJoined) if e.username == bob.name and e.device_id is None]) == 2

    # both of bob's devices get what others send, and what the other device of bob sends
    hello = await alice.chats.send_text(room.id, "hello both MARK-dev-1")
    for device in (bob, bob2):
        await device.wait(MessageReceived, lambda e: e.message.message_id == hello.message_id)
    mine = await bob2.chats.send_text(dm.id, "from my new phone MARK-dev-2")
    own = await bob.wait(MessageReceived, lambda e: e.message.message_id == mine.message_id)
    assert own.message.sender_user == bob.name and own.message.sender_device == bob2.client.device_id
    await alice.wait(MessageReceived, lambda e: e.message.message_id == mine.message_id)


async def test_a_wrong_code_is_refused(people: People) -> None:
    alice = await people.person("alice")
    with pytest.raises(UsageError):
        parse_code("not a code")
    offer = await alice.chats.offer_link()
    name, link_id, _ = parse_code(offer.code)
    forged = f"{name}:{link_id}:{'A' * 22}"
    with pytest.raises(CredentialMismatch):
        await people.second_device_with_code(alice, offer, forged)
