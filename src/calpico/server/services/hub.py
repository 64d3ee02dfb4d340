"""The WebSocket connections of this process and delivery of events to them.

Each device has at most one connection (a new one replaces the old). A
connection keeps, per group, the last sequence number it delivered; it
starts at the device's cursor and advances as frames go out, so every
device gets its groups' messages in order, without duplicates, whatever the
order in which pub/sub events arrive:

- a frame at ``last + 1`` is sent and advances ``last``;
- a frame at or below ``last`` is a duplicate and is dropped;
- a frame past ``last + 1`` means something in between has not been seen
  here (an event of another process still in flight, or a message this
  device does not get — its own, or a Welcome for others — that arrived out
  of order): the connection reads the range from the database, where it is
  already committed, and sends what it finds, in order.

Frames are queued per connection and written by one task per connection, so
a slow device never holds up delivery to the others; one that falls more than
``push_queue_limit`` frames behind is disconnected and resumes from its
cursor when it reconnects.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from calpico.wire.common import b64decode, b64encode

from . import metrics
from .delivery import StoredMessage

__all__ = ["Connection", "Hub"]

log = logging.getLogger("calpico.server.hub")

FetchRange = Callable[[str, bytes, int, int | None], Awaitable[list[StoredMessage]]]


class Connection:
    """One device's WebSocket, seen from the hub."""

    __slots__ = (
        "_closed",
        "_ready",
        "_wake",
        "buffer",
        "catching_up",
        "close_cb",
        "counts",
        "device_id",
        "dirty",
        "last",
        "notify_only",
        "queue",
        "send",
        "upto",
        "writer",
    )

    def __init__(
        self,
        device_id: str,
        send: Callable[[str], Awaitable[None]],
        close_cb: Callable[[int, str], Awaitable[None]],
        notify_only: bool = False,
    ) -> None:
        self.device_id = device_id
        self.send = send
        self.close_cb = close_cb
        self.notify_only = notify_only
        self.last: dict[bytes, int] = {}
        self.upto: dict[bytes, int] = {}  # groups the device left: the last seq it may read
        self.counts: dict[bytes, int] = {}
        self.queue: deque[str] = deque()
        self.buffer: list[list[Any]] | None = []  # events held back while the backlog replays
        self.catching_up: set[bytes] = set()
        self.dirty: set[bytes] = set()  # groups that had events while catching up
        self._wake = asyncio.Event()
        self._closed = False
        self._ready = False
        self.writer: asyncio.Task[None] | None = None

    def push(self, frame: str) -> None:
        self.queue.append(frame)
        self._wake.set()

    async def run_writer(self) -> None:
        """Write queued frames until closed (one task per connection)."""
        queue = self.queue
        while not self._closed:
            if not queue:
                self._wake.clear()
                await self._wake.wait()
                continue
            frame = queue.popleft()
            await self.send(frame)

    def close(self) -> None:
        self._closed = True
        self._wake.set()


class Hub:
    """Routes events to this process's connections (see the module docstring)."""

    def __init__(self, fetch_range: FetchRange, queue_limit: int = 10_000) -> None:
        self._fetch = fetch_range
        self._queue_limit = queue_limit
        self.by_device: dict[str, Connection] = {}
        self.by_group: dict[bytes, set[Connection]] = {}
        self.on_revoke: list[Callable[[str], None]] = []
        self.on_roster: list[Callable[[bytes], None]] = []
        self._tasks: set[asyncio.Task[None]] = set()

    # --- connections ------------------------------------------------------------

    async def attach(self, conn: Connection, cursors: dict[bytes, tuple[int, int | None]]) -> None:
        """Register ``conn`` for its groups; events are buffered until `ready`."""
        old = self.by_device.get(conn.device_id)
        if old is not None:
            self.detach(old)
            self._spawn(old.close_cb(4000, "replaced by a newer connection"))
        self.by_device[conn.device_id] = conn
        for group_id, (start, left) in cursors.items():
            conn.last[group_id] = start
            if left is not None:
                conn.upto[group_id] = left
            self.by_group.setdefault(group_id, set()).add(conn)
        metrics.CONNECTIONS.set(len(self.by_device))

    def ready(self, conn: Connection) -> None:
        """The backlog went out: apply the events that arrived meanwhile, then go live."""
        held, conn.buffer = conn.buffer or [], None
        for item in held:
            self._apply_to(conn, item)

    def detach(self, conn: Connection) -> None:
        conn.close()
        if self.by_device.get(conn.device_id) is conn:
            del self.by_device[conn.device_id]
        for group_id in list(conn.last):
            members = self.by_group.get(group_id)
            if members is not None:
                members.discard(conn)
                if not members:
                    del self.by_group[group_id]
        metrics.CONNECTIONS.set(len(self.by_device))

    # --- events -------------------------------------------------------------------

    def on_event(self, payload: bytes) -> None:
        """Apply one pub/sub event (the `events` module describes the items)."""
        try:
            items = json.loads(payload)
        except ValueError:
            log.warning("dropping an undecodable pub/sub event")
            return
        for item in items:
            tag = item[0]
            if tag == "m":
                group_id = b64decode(item[1])
                for conn in list(self.by_group.get(group_id, ())):
                    self._offer(conn, group_id, item)
                targets = item[4]
                if targets:
                    # A Welcome also reaches devices that joined in this very event.
                    for device_id in targets:
                        target = self.by_device.get(device_id)
                        if target is not None and target not in self.by_group.get(group_id, ()):
                            self._offer(target, group_id, item)
            elif tag == "r":
                self._roster(item)
            elif tag == "x":
                device_id = item[1]
                for cb in self.on_revoke:
                    cb(device_id)
                revoked = self.by_device.get(device_id)
                if revoked is not None:
                    self.detach(revoked)
                    self._spawn(revoked.close_cb(4001, "device revoked"))

    def _roster(self, item: list[Any]) -> None:
        group_id = b64decode(item[1])
        for cb in self.on_roster:
            cb(group_id)
        for device_id, joined_seq in item[3]:
            conn = self.by_device.get(device_id)
            if conn is not None and group_id not in conn.last:
                conn.last[group_id] = int(joined_seq)
                self.by_group.setdefault(group_id, set()).add(conn)
        for device_id in item[4]:
            conn = self.by_device.get(device_id)
            if conn is not None:
                # The commit that removed it was delivered before this item; nothing after.
                members = self.by_group.get(group_id)
                if members is not None:
                    members.discard(conn)
                conn.last.pop(group_id, None)

    def _offer(self, conn: Connection, group_id: bytes, item: list[Any]) -> None:
        if conn.buffer is not None:
            conn.buffer.append(item)
            return
        self._apply_to(conn, item)

    def _apply_to(self, conn: Connection, item: list[Any]) -> None:
        group_id = b64decode(item[1])
        seq, frame, targets, sender = int(item[2]), item[3], item[4], item[5]
        last = conn.last.get(group_id)
        if last is None or seq <= last or seq > conn.upto.get(group_id, seq):
            return
        if group_id in conn.catching_up:
            conn.dirty.add(group_id)  # the running catch-up will read it from the database
            return
        if sender == conn.device_id or (targets and conn.device_id not in targets):
            if seq == last + 1:
                conn.last[group_id] = seq  # its own message, or a Welcome for someone else: skip its place
            return
        if seq == last + 1:
            conn.last[group_id] = seq
            self._deliver(conn, group_id, frame)
            return
        conn.catching_up.add(group_id)
        self._spawn(self._catch_up(conn, group_id))

    def _deliver(self, conn: Connection, group_id: bytes, frame: str) -> None:
        if conn.notify_only:
            conn.counts[group_id] = conn.counts.get(group_id, 0) + 1
            if len(conn.counts) == 1 and conn.counts[group_id] == 1:
                asyncio.get_running_loop().call_soon(self._flush_counts, conn)
            return
        if len(conn.queue) >= self._queue_limit:
            self.detach(conn)
            self._spawn(conn.close_cb(4002, "too far behind; reconnect to resume"))
            return
        metrics.FRAMES_PUSHED.inc()
        conn.push(frame)

    def _flush_counts(self, conn: Connection) -> None:
        counts, conn.counts = conn.counts, {}
        if counts:
            body = [{"group_id": b64encode(g), "count": n} for g, n in counts.items()]
            conn.push(json.dumps({"type": "notify", "conversations": body}, separators=(",", ":")))

    async def _catch_up(self, conn: Connection, group_id: bytes) -> None:
        try:
            while True:
                last = conn.last.get(group_id)
                if last is None:
                    return
                conn.dirty.discard(group_id)
                found = await self._fetch(conn.device_id, group_id, last, None)
                if not found:
                    if group_id in conn.dirty:
                        continue
                    return
                for message in found:
                    if conn.last.get(group_id, message.seq) >= message.seq:
                        continue
                    conn.last[group_id] = message.seq
                    self._deliver(conn, group_id, message.frame())
        except Exception:
            log.exception("catching up a connection failed")
        finally:
            conn.catching_up.discard(group_id)

    async def replay(self, conn: Connection, group_id: bytes) -> None:
        """Send the stored backlog of one group (used at connect), then leave it live."""
        conn.catching_up.add(group_id)
        await self._catch_up(conn, group_id)

    def _spawn(self, coro: Awaitable[None]) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
