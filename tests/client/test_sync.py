"""The delivery engine against the real server: exactly once, atomic with the seq, crash-safe, outbox."""

from __future__ import annotations

import uuid

import pytest

from calpico.client.errors import Offline
from calpico.client.events import DeliveryFailed, EventBus, MessageReceived
from calpico.client.store import OutboxItem
from calpico.client.sync import Sync
from calpico.client.transport import RetryPolicy, Transport
from calpico.wire.common import b64encode

from ..server import mls_messages as mls
from .conftest import MakeAccount
from .groups import FakeConversations, SimulatedCrash, make_group, post


async def _engine(account: object, handler: FakeConversations) -> tuple[Sync, EventBus, list[object]]:
    bus = EventBus()
    seen: list[object] = []
    original = bus.publish

    def publish(event: object) -> None:
        seen.append(event)
        original(event)  # type: ignore[arg-type]

    sync = Sync(account.store, account.transport, handler, publish)  # type: ignore[attr-defined]
    return sync, bus, seen


async def test_catch_up_applies_each_message_once_in_order(make_account: MakeAccount) -> None:
    alice, bob = await make_account(), await make_account()
    group = await make_group(alice, bob)
    seqs = [await post(alice, group, f"hello {i}".encode()) for i in range(5)]
    handler = FakeConversations()
    sync, _, events = await _engine(bob, handler)
    assert await sync.catch_up() == 6  # the Welcome and five messages
    assert [s for g, s in handler.applied if g == group][-5:] == seqs
    stored = await bob.store.messages(b64encode(group))
    assert [m.content[-7:] for m in stored][-5:] == [f"hello {i}".encode() for i in range(5)]
    assert sum(isinstance(e, MessageReceived) for e in events) == 6
    # Acknowledged: the server has nothing left, and a second catch-up applies nothing.
    assert (await bob.transport.notifications()).total == 0
    assert await sync.catch_up() == 0
    cursor = await bob.store.delivery(group)
    assert cursor.processed_seq == cursor.acked_seq == seqs[-1]


async def test_a_crash_before_the_commit_loses_nothing(make_account: MakeAccount) -> None:
    alice, bob = await make_account(), await make_account()
    group = await make_group(alice, bob)
    seqs = [await post(alice, group, f"m{i}".encode()) for i in range(4)]
    handler = FakeConversations(crash_at=seqs[2])
    sync, _, _ = await _engine(bob, handler)
    with pytest.raises(SimulatedCrash):
        await sync.catch_up()
    # The whole batch rolled back: no message, no seq, nothing acknowledged.
    assert await bob.store.messages(b64encode(group)) == []
    assert (await bob.store.delivery(group)).processed_seq == 0
    assert (await bob.transport.notifications()).total == 5
    # After the "restart", everything is applied exactly once.
    assert await sync.catch_up() == 5
    assert [s for _, s in handler.applied][-4:] == seqs
    assert len(await bob.store.messages(b64encode(group))) == 5


async def test_a_crash_between_commit_and_ack_applies_nothing_twice(make_account: MakeAccount) -> None:
    alice, bob = await make_account(), await make_account()
    group = await make_group(alice, bob)
    seqs = [await post(alice, group, f"m{i}".encode()) for i in range(3)]
    handler = FakeConversations()
    sync, _, _ = await _engine(bob, handler)
    inbox = await bob.transport.inbox()
    acks = await sync.apply(inbox.messages)  # committed locally...
    assert acks  # ...and the process dies before telling the server.
    assert (await bob.transport.notifications()).total == 4
    # A new process: the server delivers the same messages again.
    handler_after = FakeConversations()
    sync_after, _, _ = await _engine(bob, handler_after)
    replay = await bob.transport.inbox()
    assert [m.seq for m in replay.messages] == [m.seq for m in inbox.messages]
    await sync_after.apply(replay.messages)
    assert handler_after.applied == [] and sync_after.duplicates == 4
    # The pending acknowledgement goes out at start-up.
    assert await sync_after.resend_acks() == 1
    assert (await bob.transport.notifications()).total == 0
    assert (await bob.store.delivery(group)).acked_seq == seqs[-1]


async def test_a_message_that_cannot_be_processed_is_skipped_alone(make_account: MakeAccount) -> None:
    alice, bob = await make_account(), await make_account()
    group = await make_group(alice, bob)
    seqs = [await post(alice, group, f"m{i}".encode()) for i in range(3)]
    handler = FakeConversations(poison={seqs[1]})
    sync, _, events = await _engine(bob, handler)
    assert await sync.catch_up() == 4
    failed = [e for e in events if isinstance(e, DeliveryFailed)]
    assert len(failed) == 1 and failed[0].seq == seqs[1] and "cannot process" in failed[0].reason
    ids = {m.message_id for m in await bob.store.messages(b64encode(group))}
    assert f"seq-{seqs[1]}" not in ids and {f"seq-{seqs[0]}", f"seq-{seqs[2]}"} <= ids
    assert (await bob.transport.notifications()).total == 0  # acknowledged: not retried forever


async def test_outbox_sends_in_order_and_reports_refusals(make_account: MakeAccount) -> None:
    alice, bob = await make_account(), await make_account()
    group = await make_group(alice, bob)
    handler = FakeConversations()
    sync, _, _ = await _engine(alice, handler)
    items = [
        OutboxItem(f"out-{i}", group, "application", mls.application(group, 1, b"x%d" % i), created_at=float(i))
        for i in range(2)
    ]
    stale = OutboxItem("out-stale", group, "commit", mls.commit(group, 0, 0), created_at=5.0)
    async with alice.store.transaction() as tx:
        for item in [*items, stale]:
            tx.put_outbox(item)
    assert await sync.flush_outbox() == 3
    assert [c for c, _ in handler.sent] == ["out-0", "out-1"]
    assert handler.refused == [("out-stale", "epoch_conflict")]
    assert await alice.store.outbox() == []
    # Bob got both, once each.
    inbox = await bob.transport.inbox()
    assert [m.client_id for m in inbox.messages][-2:] == ["out-0", "out-1"]


async def test_outbox_waits_when_the_server_is_unreachable(make_account: MakeAccount) -> None:
    alice = await make_account()
    handler = FakeConversations()
    offline = Transport(
        "http://127.0.0.1:9",
        device=alice.transport.device,
        server_name="test.calpico",
        retry=RetryPolicy(attempts=1),
    )
    sync = Sync(alice.store, offline, handler, lambda e: None)
    group = uuid.uuid4().bytes
    async with alice.store.transaction() as tx:
        tx.put_outbox(OutboxItem("kept", group, "application", b"m"))
    assert await sync.flush_outbox() == 0
    [item] = await alice.store.outbox()
    assert item.client_id == "kept" and item.attempts == 1
    with pytest.raises(Offline):
        await sync.catch_up()
    await offline.aclose()
