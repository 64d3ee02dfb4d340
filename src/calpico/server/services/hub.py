"""The WebSocket connections of this process and delivery of events to them.

Each device has at most one connection (a new one replaces the old). A
connection keeps, per group, ``last``: the seq up to which the device has been
served (sent, or skipped because it is not for this device). It starts at the
device's cursor, so every device gets its groups' messages in order, without
duplicates, whatever the order in which pub/sub events arrive:

- an item at ``last + 1`` advances ``last``; it is sent unless it is the
  device's own message or a Welcome for other devices;
- an item at or below ``last`` is a duplicate and is dropped;
- an item past ``last + 1`` means something in between has not been seen here
  (an event of another process still in flight): the connection reads the
  range from the database, where it is already committed, and sends what it
  finds, in order. The read also tells how far it went — seqs the device does
  not get count as served — so ``last`` moves past them and the next item
  does not trigger another read.

While a read runs for a group (and while the backlog replays at connect),
live items for that group are held on the connection and applied after it,
so nothing that arrives meanwhile is lost or sent twice.

Writing: each message's frame is encoded once (`OutFrame`) and written
straight to every recipient's socket while its queue is empty and its
transport is not paused; otherwise the frame waits in the connection's queue
and a drain task (which exists only while there is a backlog) writes it
honouring flow control. A device more than ``push_queue_limit`` frames behind
is disconnected and resumes from its cursor when it reconnects.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from calpico.wire.common import b64decode, b64encode

from ..websocket import OutFrame, Sink
from . import metrics
from .delivery import RangeRead

__all__ = ["Connection", "Hub", "Push"]

log = logging.getLogger("calpico.server.hub")

FetchRange = Callable[[str, bytes, int, int | None], Awaitable[RangeRead]]


def _by_seq(push: Push) -> int:
    return push.seq


class Push:
    """A stored message as the hub routes it: decoded once per event, shared by every recipient."""

    __slots__ = ("frame", "group_id", "sender", "seq", "targets")

    def __init__(self, group_id: bytes, seq: int, frame: OutFrame, targets: frozenset[str] | None, sender: str) -> None:
        self.group_id = group_id
        self.seq = seq
        self.frame = frame
        self.targets = targets
        self.sender = sender

    def for_device(self, device_id: str) -> bool:
        return self.sender != device_id and (self.targets is None or device_id in self.targets)


class Connection:
    """One device's WebSocket, seen from the hub."""

    __slots__ = (
        "close_cb",
        "closed",
        "counts",
        "device_id",
        "drainer",
        "holding",
        "last",
        "notify_only",
        "queue",
        "sink",
        "upto",
    )

    def __init__(
        self,
        device_id: str,
        sink: Sink,
        close_cb: Callable[[int, str], Awaitable[None]],
        notify_only: bool = False,
    ) -> None:
        self.device_id = device_id
        self.sink = sink
        self.close_cb = close_cb
        self.notify_only = notify_only
        self.closed = False
        self.last: dict[bytes, int] = {}
        self.upto: dict[bytes, int] = {}  # groups the device left: the last seq it may read
        self.counts: dict[bytes, int] = {}
        self.holding: dict[bytes, list[Push]] = {}  # groups being read from the database: live items wait here
        self.queue: deque[OutFrame] | None = None  # made when a frame first has to wait
        self.drainer: asyncio.Task[None] | None = None

    def push(self, frame: OutFrame) -> None:
        """Write ``frame`` now if nothing is queued and the socket takes it; else queue it behind the rest."""
        if self.closed:
            return
        queue = self.queue
        if not queue and self.sink.try_write(frame):
            return
        if queue is None:
            queue = self.queue = deque()
        queue.append(frame)
        if self.drainer is None:
            self.drainer = asyncio.ensure_future(self._drain())

    def push_text(self, text: str) -> None:
        self.push(OutFrame(text))

    async def _drain(self) -> None:
        queue = self.queue
        try:
            while queue and not self.closed:
                await self.sink.write(queue[0])
                queue.popleft()
        except Exception:  # the socket is gone: the read loop sees the disconnect and detaches
            self.close()
        finally:
            self.drainer = None
            if not self.queue:
                self.queue = None  # an idle connection keeps no buffer

    def close(self) -> None:
        self.closed = True
        self.queue = None
        drainer = self.drainer
        if drainer is not None and drainer is not asyncio.current_task():
            drainer.cancel()


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
        self._pushed = 0

    # --- connections ------------------------------------------------------------

    async def attach(self, conn: Connection, cursors: dict[bytes, tuple[int, int | None]]) -> None:
        """Register ``conn`` for its groups; their live items are held until `replay` has run for each."""
        old = self.by_device.get(conn.device_id)
        if old is not None:
            self.detach(old)
            self._spawn(old.close_cb(4000, "replaced by a newer connection"))
        self.by_device[conn.device_id] = conn
        for group_id, (start, left) in cursors.items():
            conn.last[group_id] = start
            if left is not None:
                conn.upto[group_id] = left
            conn.holding[group_id] = []
            self.by_group.setdefault(group_id, set()).add(conn)
        metrics.CONNECTIONS.set(len(self.by_device))

    async def replay(self, conn: Connection, group_id: bytes) -> None:
        """Send the stored backlog of one group (used at connect), then the items held meanwhile."""
        conn.holding.setdefault(group_id, [])
        await self._catch_up(conn, group_id)

    def release(self, conn: Connection, group_id: bytes) -> None:
        """Go live in a group without reading its backlog (notify connections start at the log's end)."""
        held = conn.holding.pop(group_id, None)
        if held:
            for push in held:
                self._apply_to(conn, push)

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
        try:
            self._apply_event(items)
        finally:
            self._count_pushed()

    def _count_pushed(self) -> None:
        if self._pushed:
            metrics.FRAMES_PUSHED.inc(self._pushed)
            self._pushed = 0

    def _apply_event(self, items: list[list[Any]]) -> None:
        for item in items:
            tag = item[0]
            if tag == "m":
                self._message(item)
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

    def _message(self, item: list[Any]) -> None:
        group_id = b64decode(item[1])
        targets = frozenset(item[4]) if item[4] else None
        push = Push(group_id, int(item[2]), OutFrame(item[3]), targets, item[5])
        members = self.by_group.get(group_id, ())
        for conn in list(members):
            self._offer(conn, push)
        if targets:
            # A Welcome also reaches devices that joined in this very event.
            for device_id in targets:
                target = self.by_device.get(device_id)
                if target is not None and target not in members:
                    self._offer(target, push)

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

    def _offer(self, conn: Connection, push: Push) -> None:
        held = conn.holding.get(push.group_id)
        if held is not None:
            held.append(push)
            return
        self._apply_to(conn, push)

    def _apply_to(self, conn: Connection, push: Push) -> None:
        group_id, seq = push.group_id, push.seq
        last = conn.last.get(group_id)
        if last is None or seq <= last:
            return
        upto = conn.upto.get(group_id)
        if upto is not None and seq > upto:
            return
        if seq == last + 1:
            conn.last[group_id] = seq
            if push.for_device(conn.device_id):
                self._deliver(conn, group_id, push.frame)
            return
        # A gap: read it from the database; this item and later ones wait until then.
        conn.holding[group_id] = [push]
        self._spawn(self._catch_up(conn, group_id))

    def _deliver(self, conn: Connection, group_id: bytes, frame: OutFrame) -> None:
        if conn.notify_only:
            conn.counts[group_id] = conn.counts.get(group_id, 0) + 1
            if len(conn.counts) == 1 and conn.counts[group_id] == 1:
                asyncio.get_running_loop().call_soon(self._flush_counts, conn)
            return
        if conn.queue is not None and len(conn.queue) >= self._queue_limit:
            self.detach(conn)
            self._spawn(conn.close_cb(4002, "too far behind; reconnect to resume"))
            return
        self._pushed += 1  # counted into the metric once per event: a 1,000-member fan-out is 1,000 frames
        conn.push(frame)

    def _flush_counts(self, conn: Connection) -> None:
        counts, conn.counts = conn.counts, {}
        if counts:
            body = [{"group_id": b64encode(g), "count": n} for g, n in counts.items()]
            conn.push_text(json.dumps({"type": "notify", "conversations": body}, separators=(",", ":")))

    async def _catch_up(self, conn: Connection, group_id: bytes) -> None:
        """Read from ``last`` on, then apply the held items; again while a gap or a cut page remains."""
        try:
            while not conn.closed:
                last = conn.last.get(group_id)
                if last is None:
                    return
                metrics.CATCH_UP_READS.inc()
                found, high, more = await self._fetch(conn.device_id, group_id, last, None)
                for message in found:
                    if conn.last.get(group_id, message.seq) >= message.seq:
                        continue
                    conn.last[group_id] = message.seq
                    self._deliver(conn, group_id, OutFrame(message.frame()))
                current = conn.last.get(group_id)
                if current is None:  # removed from the group meanwhile
                    return
                if high > current:
                    conn.last[group_id] = high
                held = sorted(conn.holding.get(group_id) or (), key=_by_seq)
                conn.holding[group_id] = []
                for i, push in enumerate(held):
                    current = conn.last.get(group_id)
                    if current is not None and push.seq > current + 1:
                        conn.holding[group_id] = held[i:]  # still a gap: read again
                        break
                    self._apply_to(conn, push)
                if not (conn.holding[group_id] or more):
                    return
        except Exception:
            # Held items would be lost: better the device reconnects and resumes from its cursor.
            log.exception("catching up a connection failed")
            self.detach(conn)
            self._spawn(conn.close_cb(1011, "delivery failed; reconnect to resume"))
        finally:
            conn.holding.pop(group_id, None)
            self._count_pushed()

    def _spawn(self, coro: Awaitable[None]) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
