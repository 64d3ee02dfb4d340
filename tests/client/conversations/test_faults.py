"""Faults end to end: catching up after being offline, crashes between receive and ack, and between send and answer."""

from __future__ import annotations

import contextlib
from typing import Any

from calpico.client.errors import Offline
from calpico.client.events import ConversationAdded, MemberJoined, MessageReceived, MessageRequestReceived, RoomRenamed
from calpico.wire.delivery import Ack

from .conftest import People


async def test_an_offline_device_catches_up_in_order(people: People) -> None:
    alice = await people.person("alice")
    bob = await people.person("bob")
    carol = await people.person("carol")
    await bob.chats.start_dm(alice.name)
    room = await alice.chats.create_room("later", [bob.name])
    await bob.wait(ConversationAdded, lambda e: e.conversation.id == room.id)
    await people.offline(bob)
    sent = [await alice.chats.send_text(room.id, f"while you were away {i} MARK-away") for i in range(5)]
    await alice.chats.rename(room.id, "later, renamed")
    await alice.chats.invite(room.id, carol.name)
    sent.append(await alice.chats.send_text(room.id, "after the changes MARK-away-last"))
    bob = await people.reopen(bob)
    await bob.wait(MessageReceived, lambda e: e.message.message_id == sent[-1].message_id)
    received = [e.message.message_id for e in bob.events(MessageReceived) if e.conversation_id == room.id]
    assert received == [m.message_id for m in sent]
    assert (await bob.wait(RoomRenamed, lambda e: e.conversation_id == room.id)).name == "later, renamed"
    await bob.wait(MemberJoined, lambda e: e.username == carol.name)
    order = [type(e).__name__ for e in bob.seen if type(e) in (MessageReceived, RoomRenamed, MemberJoined)]
    assert order == ["MessageReceived"] * 5 + ["RoomRenamed", "MemberJoined", "MessageReceived"]


async def test_a_crash_between_receive_and_acknowledge_neither_loses_nor_repeats(people: People) -> None:
    alice = await people.person("alice")
    bob = await people.person("bob")
    dm = await alice.chats.start_dm(bob.name)
    await bob.wait(MessageRequestReceived, lambda e: e.conversation_id == dm.id)
    sync = bob.client._sync
    assert sync is not None

    async def lost(acks: list[Ack]) -> None:  # the process dies right after the commit: no ack leaves
        return None

    sync.acknowledge = lost  # type: ignore[method-assign]
    first = await alice.chats.send_text(dm.id, "before the crash MARK-crash-1")
    await bob.wait(MessageReceived, lambda e: e.message.message_id == first.message_id)
    bob = await people.reopen(bob)  # the server delivers it again: it was never acknowledged
    second = await alice.chats.send_text(dm.id, "after the crash MARK-crash-2")
    got = await bob.wait(MessageReceived, lambda e: e.message.message_id == second.message_id)
    assert got.message.sender_user == alice.name
    assert [e.message.message_id for e in bob.events(MessageReceived)] == [second.message_id]
    assert [m.message_id for m in await bob.chats.messages(dm.id)] == [first.message_id, second.message_id]
    assert (await bob.client.notifications()).total == 0


async def test_our_commit_survives_a_crash_between_send_and_answer(people: People) -> None:
    alice = await people.person("alice")
    bob = await people.person("bob")
    carol = await people.person("carol")
    await bob.chats.start_dm(alice.name)
    room = await alice.chats.create_room("crash", [bob.name])
    await bob.wait(ConversationAdded, lambda e: e.conversation.id == room.id)
    transport = alice.client.transport
    real_send = transport.send

    async def answer_lost(*args: Any, **kwargs: Any) -> Any:
        await real_send(*args, **kwargs)  # the server orders the commit ...
        raise Offline("connection reset")  # ... and the answer never arrives

    transport.send = answer_lost  # type: ignore[method-assign]
    alice.chats._engine.send_timeout = 0.5
    with contextlib.suppress(Offline):
        await alice.chats.invite(room.id, carol.name)
    await bob.wait(MemberJoined, lambda e: e.username == carol.name)
    alice = await people.reopen(alice)  # the outbox resends (a duplicate for the server) and installs the epoch
    await alice.wait(MemberJoined, lambda e: e.username == carol.name)
    assert sorted(p.username for p in await alice.chats.members(room.id)) == sorted([alice.name, bob.name, carol.name])
    hello = await alice.chats.send_text(room.id, "still in sync MARK-crash-3")
    for device in (bob,):
        await device.wait(MessageReceived, lambda e: e.message.message_id == hello.message_id)
