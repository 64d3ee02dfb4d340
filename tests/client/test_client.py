"""The `Client` facade against the real server: its event stream, live delivery, timers, outbox."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from calpico.client import Client, Passphrase
from calpico.client.account import Account
from calpico.client.errors import UsageError
from calpico.client.events import (
    ConnectionStateChanged,
    ContactKeysChanged,
    Event,
    KeyPackagesReplenished,
    MessageDeleted,
    MessageReceived,
    NotificationsPending,
    Subscription,
)
from calpico.client.keypackages import KeyPackagePolicy
from calpico.client.push import ConnectionState
from calpico.client.store import Message, OutboxItem
from calpico.client.transport import RetryPolicy
from calpico.wire.common import b64encode

from ..server import mls_messages as mls
from .conftest import FAST_KDF, QUICK_RETRY, MakeAccount
from .groups import FakeConversations, make_group, post
from .server import ThreadServer

FAST_BACKOFF = RetryPolicy(attempts=0, base_delay=0.05, max_delay=0.3)


async def _wait_for(events: Subscription, kind: type[Event], timeout: float = 10.0, **match: object) -> Event:
    async with asyncio.timeout(timeout):
        while True:
            event = await events.next()
            if isinstance(event, kind) and all(getattr(event, k) == v for k, v in match.items()):
                return event


async def test_without_a_conversation_layer_it_reports_content_free_notifications(make_account: MakeAccount) -> None:
    alice, bob = await make_account(), await make_account()
    client = Client(bob, push_backoff=FAST_BACKOFF)
    events = client.events()
    await client.start()
    try:
        await _wait_for(events, ConnectionStateChanged, state=ConnectionState.CONNECTED)
        group = await make_group(alice, bob)
        await post(alice, group, b"hi")
        note = await _wait_for(events, NotificationsPending)
        assert isinstance(note, NotificationsPending) and note.total >= 1
        with pytest.raises(UsageError):
            await client.sync()
    finally:
        await client.close()
    # Closing ends every stream.
    with pytest.raises(StopAsyncIteration):
        while True:
            await events.next(timeout=5)


async def test_live_delivery_through_the_conversation_layer(make_account: MakeAccount) -> None:
    alice = await make_account()
    bob = await make_account(key_package_policy=KeyPackagePolicy(batch=4, low_water=4))
    handler = FakeConversations()
    client = Client(bob, handler=handler, push_backoff=FAST_BACKOFF)
    events = client.events()
    await client.start()
    try:
        await client.wait_connected(10)
        group = await make_group(alice, bob)  # claims one of Bob's KeyPackages
        seqs = [await post(alice, group, b"live %d" % i) for i in range(3)]
        seen: list[Event] = []
        async with asyncio.timeout(10):
            while sum(isinstance(e, MessageReceived) for e in seen) < 4 or KeyPackagesReplenished(1) not in seen:
                seen.append(await events.next())
        received = [e for e in seen if isinstance(e, MessageReceived)]
        assert [e.message.seq for e in received][1:] == seqs
        # The Welcome showed a KeyPackage was used: topped up again (KeyPackagesReplenished above).
        assert (await bob.transport.key_package_count()).available == 4
        # Acknowledged over the socket.
        async with asyncio.timeout(10):
            while (await bob.transport.notifications()).total:
                await asyncio.sleep(0.05)
        assert len(await bob.store.messages(b64encode(group))) == 4
    finally:
        await client.close()


async def test_a_failed_batch_is_retried_from_the_server_cursor_without_gaps(make_account: MakeAccount) -> None:
    alice, bob = await make_account(), await make_account()
    group = await make_group(alice, bob)
    seqs = [await post(alice, group, b"m%d" % i) for i in range(4)]
    handler = FakeConversations(crash_at=seqs[1])
    client = Client(bob, handler=handler, push_backoff=FAST_BACKOFF)
    events = client.events()
    await client.start()
    try:
        for _ in range(5):
            await _wait_for(events, MessageReceived)
        assert [s for _, s in handler.applied][-4:] == seqs  # each once, in order
        assert len(handler.applied) == 5
    finally:
        await client.close()


async def test_the_outbox_is_flushed_when_the_connection_comes_up(make_account: MakeAccount) -> None:
    alice, bob = await make_account(), await make_account()
    group = await make_group(alice, bob)
    async with alice.store.transaction() as tx:
        tx.put_outbox(OutboxItem("queued-1", group, "application", mls.application(group, 1, b"queued")))
    handler = FakeConversations()
    client = Client(alice, handler=handler, push_backoff=FAST_BACKOFF)
    await client.start()
    try:
        async with asyncio.timeout(10):
            while not handler.sent:
                await asyncio.sleep(0.02)
        assert handler.sent[0][0] == "queued-1"
        assert await alice.store.outbox() == []
    finally:
        await client.close()


async def test_disappearing_messages_are_deleted_on_time(make_account: MakeAccount) -> None:
    bob = await make_account()
    now = time.time()
    async with bob.store.transaction() as tx:
        tx.put_message(Message("c", "gone", "alice", "d", now, now, b"x", expires_at=now - 1))
        tx.put_message(Message("c", "kept", "alice", "d", now, now, b"y", expires_at=now + 3600))
    client = Client(bob, expiry_interval=0.05)
    events = client.events()
    await client.start(push=False)
    try:
        deleted = await _wait_for(events, MessageDeleted)
        assert deleted == MessageDeleted("c", "gone", None)
        assert [m.message_id for m in await bob.store.messages("c")] == ["kept"]
    finally:
        await client.close()


async def test_contact_key_changes_are_published(
    make_account: MakeAccount, server: ThreadServer, tmp_path: Path
) -> None:
    alice, bob = await make_account(), await make_account()
    client = Client(alice)
    events = client.events()
    try:
        await client.check_contact_keys(bob.username)  # first sight: nothing to report
        phone = await Account.prepare_device(server.url, bob.username, tmp_path / "p.db", Passphrase("pw", FAST_KDF))
        info = await bob.add_device(phone.signature_public_key, phone.cipher_suite)
        await phone.close()
        check = await client.check_contact_keys(bob.username)
        assert check.their_keys_changed
        assert events.pending() == [ContactKeysChanged(bob.username, (info.device_id,), (), (), False)]
    finally:
        await client.close()


async def test_create_and_open_through_the_facade(server: ThreadServer, tmp_path: Path) -> None:
    path = tmp_path / "carol.db"
    key = Passphrase("pw", FAST_KDF)
    async with await Client.create(
        server.url, "carol-" + tmp_path.name[-8:].lower(), path, key, retry=QUICK_RETRY
    ) as c:
        username, device_id = c.username, c.device_id
        assert [d.device_id for d in await c.devices()] == [device_id]
        assert c.connection_state is ConnectionState.CLOSED
        with pytest.raises(UsageError):
            await c.wait_connected(1)
    async with await Client.open(path, Passphrase("pw")) as c:
        assert (c.username, c.device_id) == (username, device_id)
        assert (await c.notifications()).total == 0
