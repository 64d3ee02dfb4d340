"""The push WebSocket against the real server: delivery, acks, resume after a server restart, closing."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio

from calpico.client.push import ConnectionChanged, ConnectionState, PushConnection, PushItem, _parse
from calpico.client.transport import RetryPolicy, Transport
from calpico.wire.delivery import Ack, MessageKind
from calpico.wire.push import MessageFrame, NotifyFrame, SendFrame, SentFrame

from ..server import mls_messages as mls
from .conftest import MakeAccount
from .groups import make_group, post
from .server import ThreadServer

FAST_BACKOFF = RetryPolicy(attempts=0, base_delay=0.05, max_delay=0.3)


async def _take(push: PushConnection, kind: type, n: int, timeout: float = 10.0) -> list[PushItem]:
    """The next ``n`` items of type ``kind`` (others are dropped)."""
    found: list[PushItem] = []
    async with asyncio.timeout(timeout):
        while len(found) < n:
            for item in await push.next_batch():
                if isinstance(item, kind):
                    found.append(item)
    return found


async def test_delivers_in_order_and_resumes_after_the_acknowledged_cursor(make_account: MakeAccount) -> None:
    alice, bob = await make_account(), await make_account()
    group = await make_group(alice, bob)
    offline = [await post(alice, group, b"while offline %d" % i) for i in range(2)]
    async with PushConnection(bob.transport, backoff=FAST_BACKOFF) as push:
        frames = await _take(push, MessageFrame, 3)
        assert [f.kind for f in frames] == [MessageKind.WELCOME, MessageKind.APPLICATION, MessageKind.APPLICATION]  # type: ignore[union-attr]
        assert [f.seq for f in frames][1:] == offline  # type: ignore[union-attr]
        live = await post(alice, group, b"live")
        [frame] = await _take(push, MessageFrame, 1)
        assert frame.seq == live and frame.body.endswith(b"live")  # type: ignore[union-attr]
        assert await push.ack([Ack(group_id=group, seq=offline[-1])])
        await asyncio.sleep(0.3)  # the server applies socket acks asynchronously
    # A new connection replays only what was not acknowledged.
    async with PushConnection(bob.transport, backoff=FAST_BACKOFF) as push:
        [again] = await _take(push, MessageFrame, 1)
        assert again.seq == live  # type: ignore[union-attr]


async def _until(push: PushConnection, state: ConnectionState, timeout: float = 10.0) -> ConnectionChanged:
    """Drop items until the connection reports ``state``."""
    async with asyncio.timeout(timeout):
        while True:
            for item in await push.next_batch():
                if isinstance(item, ConnectionChanged) and item.state is state:
                    return item


@pytest_asyncio.fixture
async def restartable(tmp_path: Path) -> AsyncIterator[ThreadServer]:
    srv = await ThreadServer(tmp_path / "restart").astart()
    yield srv
    await srv.astop()


async def test_reconnects_and_resumes_after_a_server_restart(
    make_account: MakeAccount, restartable: ThreadServer
) -> None:
    alice, bob = await make_account(url=restartable.url), await make_account(url=restartable.url)
    group = await make_group(alice, bob)
    first = await post(alice, group, b"before the restart")
    push = PushConnection(bob.transport, backoff=FAST_BACKOFF)
    push.start()
    try:
        welcome, before = await _take(push, MessageFrame, 2)
        assert before.seq == first  # type: ignore[union-attr]
        assert await push.ack([Ack(group_id=group, seq=welcome.seq)])  # type: ignore[union-attr]
        await asyncio.sleep(0.3)
        await restartable.astop()
        down = await _take(push, ConnectionChanged, 1)
        states = [down[0].state]  # type: ignore[union-attr]
        await asyncio.sleep(0.5)  # a few failed attempts while the server is away
        await restartable.astart()
        await push.wait_connected(15)
        assert push.connects >= 2
        after = await post(alice, group, b"after the restart")
        frames = await _take(push, MessageFrame, 2)
        # The unacknowledged message comes again, then the new one, in order.
        assert [f.seq for f in frames] == [first, after]  # type: ignore[union-attr]
        assert ConnectionState.DISCONNECTED in states
    finally:
        await push.close()


async def test_notify_only_mode_gets_counts_without_content(make_account: MakeAccount) -> None:
    alice, bob = await make_account(), await make_account()
    group = await make_group(alice, bob)
    async with PushConnection(bob.transport, notify_only=True, backoff=FAST_BACKOFF) as push:
        [initial] = await _take(push, NotifyFrame, 1)
        assert initial.conversations[0].count == 1  # type: ignore[union-attr]
        await post(alice, group, b"secret words")
        [note] = await _take(push, NotifyFrame, 1)
        assert note.conversations[0].group_id == group  # type: ignore[union-attr]
        assert b"secret words" not in note.model_dump_json().encode()  # type: ignore[union-attr]


async def test_a_revoked_device_is_closed_for_good(make_account: MakeAccount) -> None:
    alice = await make_account()
    phone = await make_account()  # stands in for the second device: revoke it via its own account
    push = PushConnection(phone.transport, backoff=FAST_BACKOFF)
    push.start()
    try:
        await push.wait_connected(10)
        await phone.revoke_device(phone.device_id)
        closed = await _until(push, ConnectionState.CLOSED)
        assert "revoked" in closed.reason
        assert await push.next_batch() == []  # the stream ended
        assert alice.is_active
    finally:
        await push.close()


async def test_a_newer_connection_of_the_same_device_replaces_the_older(make_account: MakeAccount) -> None:
    bob = await make_account()
    older = PushConnection(bob.transport, backoff=FAST_BACKOFF)
    older.start()
    await older.wait_connected(10)
    async with PushConnection(bob.transport, backoff=FAST_BACKOFF) as newer:
        await newer.wait_connected(10)
        closed = await _until(older, ConnectionState.CLOSED)
        assert "replaced" in closed.reason
        assert newer.state is ConnectionState.CONNECTED
    await older.close()


async def test_restart_drops_queued_frames_and_replays_from_the_cursor(make_account: MakeAccount) -> None:
    alice, bob = await make_account(), await make_account()
    group = await make_group(alice, bob)
    seqs = [await post(alice, group, b"m%d" % i) for i in range(3)]
    async with PushConnection(bob.transport, backoff=FAST_BACKOFF) as push:
        await _take(push, MessageFrame, 4)
        push.restart()  # as after a failed batch: nothing was acknowledged
        frames = await _take(push, MessageFrame, 4)
        assert [f.seq for f in frames][1:] == seqs  # type: ignore[union-attr]
        assert push.connects == 2


async def test_sends_over_the_socket_get_a_sent_frame(make_account: MakeAccount) -> None:
    alice, bob = await make_account(), await make_account()
    group = await make_group(alice, bob)
    async with PushConnection(alice.transport, backoff=FAST_BACKOFF) as push:
        await push.wait_connected(10)
        frame = SendFrame(group_id=group, client_id="ws-1", message=mls.application(group, 1, b"via socket"))
        assert await push.send(frame)
        [sent] = await _take(push, SentFrame, 1)
        assert sent.client_id == "ws-1"  # type: ignore[union-attr]


def test_a_json_array_is_a_batch_and_unknown_frames_are_ignored() -> None:
    message = {
        "type": "message",
        "group_id": "AQ",
        "seq": 1,
        "epoch": 1,
        "kind": "application",
        "sender": "d1",
        "client_id": "c",
        "body": "AA",
        "sent_at": 1.0,
    }
    batch = json.dumps([message, {"type": "from-the-future"}, {"type": "notify", "conversations": []}, 7])
    items = _parse(batch)
    assert [type(i).__name__ for i in items] == ["MessageFrame", "NotifyFrame"]
    assert _parse("not json") == [] and _parse(json.dumps({**message, "seq": "x"})) == []


async def test_an_unreachable_server_keeps_retrying_until_closed(make_account: MakeAccount) -> None:
    account = await make_account()
    gone = Transport(
        "http://127.0.0.1:9", device=account.transport.device, server_name="test.calpico", retry=RetryPolicy(1)
    )
    push = PushConnection(gone, backoff=FAST_BACKOFF)
    push.start()
    changes = await _take(push, ConnectionChanged, 4)
    await push.close()
    await gone.aclose()
    states = [c.state for c in changes]  # type: ignore[union-attr]
    assert states[:2] == [ConnectionState.CONNECTING, ConnectionState.DISCONNECTED]
    down = [c for c in changes if c.state is ConnectionState.DISCONNECTED]  # type: ignore[union-attr]
    assert all(c.retry_in is not None and "cannot reach the server" in c.reason for c in down)  # type: ignore[union-attr]
