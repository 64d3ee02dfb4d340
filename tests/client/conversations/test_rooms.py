"""Rooms end to end: invite/accept, decline, removal, leave while offline, rename, policy, concurrency."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from calpico.client.errors import NotPermitted
from calpico.client.events import (
    ConversationAdded,
    ConversationLeft,
    InviteReceived,
    MemberJoined,
    MemberLeft,
    MemberRemoved,
    MessageDeleted,
    MessageEdited,
    MessageReceived,
    ReactionChanged,
    ReceiptReceived,
    RoomRenamed,
    TypingChanged,
)
from calpico.client.store import ConversationStatus
from calpico.wire.app import ReceiptKind, Text

from .conftest import People


def joined(conversation_id: str, username: str) -> Callable[[MemberJoined], bool]:
    return lambda e: e.conversation_id == conversation_id and e.username == username


async def test_a_room_with_invite_accept_messages_and_moderation(people: People) -> None:
    alice = await people.person("alice")
    bob = await people.person("bob")
    carol = await people.person("carol")
    await bob.chats.start_dm(alice.name)  # bob knows alice: her invites are accepted at once
    room = await alice.chats.create_room("plans MARK-name", [bob.name])
    joined = await bob.wait(ConversationAdded, lambda e: e.conversation.id == room.id)
    assert joined.conversation.name == "plans MARK-name" and joined.by == alice.name
    await alice.wait(MemberJoined, lambda e: e.conversation_id == room.id and e.username == bob.name)

    # carol does not know alice: the invite is a request until she accepts it
    await alice.chats.invite(room.id, carol.name)
    invite = await carol.wait(InviteReceived, lambda e: e.conversation_id == room.id)
    assert invite.inviter == alice.name and invite.room_name == "plans MARK-name"
    assert [c.id for c in await carol.chats.requests()] == [room.id]
    await bob.wait(MemberJoined, lambda e: e.conversation_id == room.id and e.username == carol.name)
    await carol.chats.accept(room.id)
    assert (await carol.chats.get(room.id)).status is ConversationStatus.ACCEPTED
    names = [p.username for p in await carol.chats.members(room.id)]
    assert sorted(names) == sorted([alice.name, bob.name, carol.name])

    # text, reply, reaction, edit, receipts, typing
    hello = await bob.chats.send_text(room.id, "hello room MARK-room-1")
    for device in (alice, carol):
        await device.wait(MessageReceived, lambda e: e.message.message_id == hello.message_id)
    await carol.chats.react(room.id, hello.message_id, "👍")
    await bob.wait(ReactionChanged, lambda e: e.message_id == hello.message_id and e.username == carol.name)
    await bob.chats.edit(room.id, hello.message_id, "hello room, edited MARK-room-2")
    edited = await alice.wait(MessageEdited, lambda e: e.message.message_id == hello.message_id)
    content = alice.chats.content(edited.message)
    assert isinstance(content, Text) and content.body == "hello room, edited MARK-room-2"
    with pytest.raises(NotPermitted):
        await carol.chats.edit(room.id, hello.message_id, "not mine")
    await alice.chats.mark_read(room.id, [hello.message_id])
    receipt = await bob.wait(ReceiptReceived, lambda e: e.username == alice.name)
    assert receipt.kind is ReceiptKind.READ and receipt.message_ids == (hello.message_id,)
    stored = await bob.chats.message(room.id, hello.message_id)
    assert [r.username for r in stored.receipts] == [alice.name] and stored.reactions[0].emoji == "👍"
    await carol.chats.typing(room.id)
    await alice.wait(TypingChanged, lambda e: e.username == carol.name and e.active)

    # delete for everyone: the author may; an admin may (moderation); nobody else
    spam = await carol.chats.send_text(room.id, "spam MARK-room-3")
    await bob.wait(MessageReceived, lambda e: e.message.message_id == spam.message_id)
    with pytest.raises(NotPermitted):
        await bob.chats.delete(room.id, spam.message_id)
    await alice.wait(MessageReceived, lambda e: e.message.message_id == spam.message_id)
    await alice.chats.delete(room.id, spam.message_id)
    gone = await bob.wait(MessageDeleted, lambda e: e.message_id == spam.message_id)
    assert gone.by == alice.name
    assert (await bob.chats.message(room.id, spam.message_id)).deleted

    # only admins rename or remove; every client enforces it
    with pytest.raises(NotPermitted):
        await bob.chats.rename(room.id, "mine now")
    await alice.chats.rename(room.id, "plans 2 MARK-rename")
    for device in (bob, carol):
        renamed = await device.wait(RoomRenamed, lambda e: e.conversation_id == room.id)
        assert renamed.name == "plans 2 MARK-rename" and renamed.by == alice.name
    assert (await carol.chats.get(room.id)).name == "plans 2 MARK-rename"
    await alice.chats.remove(room.id, carol.name)
    removed = await bob.wait(MemberRemoved, lambda e: e.username == carol.name)
    assert removed.by == alice.name
    left = await carol.wait(ConversationLeft, lambda e: e.conversation_id == room.id)
    assert left.removed_by == alice.name
    # person-level: carol joined once, however many devices
    assert len([e for e in bob.events(MemberJoined) if e.username == carol.name]) == 1


async def test_decline_and_leave_while_offline(people: People) -> None:
    alice = await people.person("alice")
    bob = await people.person("bob")
    carol = await people.person("carol")
    dave = await people.person("dave")
    for device in (bob, carol):
        await device.chats.start_dm(alice.name)
    room = await alice.chats.create_room("trip", [bob.name, carol.name, dave.name])
    await dave.wait(InviteReceived, lambda e: e.conversation_id == room.id)
    await dave.chats.decline(room.id)
    for device in (alice, bob, carol):
        await device.wait(MemberLeft, lambda e: e.conversation_id == room.id and e.username == dave.name)
    await dave.wait(ConversationLeft, lambda e: e.conversation_id == room.id)
    assert (await dave.chats.get(room.id)).status is ConversationStatus.LEFT

    # carol leaves and goes offline at once; another member commits her proposal
    await carol.wait(ConversationAdded, lambda e: e.conversation.id == room.id)
    await carol.chats.leave(room.id)
    await people.offline(carol)
    for device in (alice, bob):
        await device.wait(MemberLeft, lambda e: e.conversation_id == room.id and e.username == carol.name)
    assert sorted(p.username for p in await bob.chats.members(room.id)) == sorted([alice.name, bob.name])
    carol = await people.reopen(carol)
    await carol.wait(ConversationLeft, lambda e: e.conversation_id == room.id)


async def test_concurrent_commits_from_two_admins_both_land(people: People) -> None:
    alice = await people.person("alice")
    bob = await people.person("bob")
    carol = await people.person("carol")
    dave = await people.person("dave")
    await bob.chats.start_dm(alice.name)
    room = await alice.chats.create_room("race", [bob.name], admins=[bob.name])
    await bob.wait(ConversationAdded, lambda e: e.conversation.id == room.id)
    await asyncio.gather(alice.chats.invite(room.id, carol.name), bob.chats.invite(room.id, dave.name))
    for device in (alice, bob):
        for name in (carol.name, dave.name):
            await device.wait(MemberJoined, joined(room.id, name))
    expected = sorted([alice.name, bob.name, carol.name, dave.name])
    assert sorted(p.username for p in await alice.chats.members(room.id)) == expected
    assert sorted(p.username for p in await bob.chats.members(room.id)) == expected
    await alice.chats.send_text(room.id, "all here MARK-race")
    for device in (carol, dave):
        await device.wait(MessageReceived, lambda e: e.conversation_id == room.id)
