"""Storing and reading the per-group message logs — group commit, cursors, acks, retention.

Theory of operation
-------------------
Application messages go through one `MessageWriter` per process. Senders
enqueue and wait on a future; the writer takes everything queued (up to
``max_batch``) and writes it in **one transaction**: one lookup for resent
client ids, one conditional ``UPDATE groups ... WHERE epoch = :e RETURNING
last_seq`` per group in the batch (this allocates the group's next sequence
numbers and, under PostgreSQL's row lock, orders the group's log across
processes), one multi-row ``INSERT`` into ``messages``, and the acks that
arrived meanwhile. Only after the commit returns (SQLite ``synchronous=FULL``,
PostgreSQL's default ``fsync``) are the futures resolved: a sender that got
its result knows the message is on disk. Then one event goes to pub/sub
carrying each message's push frame, encoded once.

On SQLite the batch runs on the writer's own thread with its own connection
(``BEGIN IMMEDIATE``: it takes the write lock first, and a busy timeout lets
the engine's connection and it take turns), so a batch is one trip off the
event loop instead of one per statement: under load each trip waits for the
loop, and those waits were most of a message's send→deliver time. The same
function (`_write_batch`) runs through ``run_sync`` on PostgreSQL.

Devices read with a cursor per group (``memberships.acked_seq``): their
inbox is every message after it, up to ``left_seq`` if they left.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from sqlalchemy import Connection, Engine, and_, bindparam, case, delete, exists, func, or_, select, tuple_, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from calpico.wire.common import b64encode
from calpico.wire.delivery import MessageKind

from ..db.models import groups, memberships, messages, welcome_targets
from ..errors import NotFound, ServerError, StaleEpoch, Unavailable
from . import metrics
from .events import KIND_CODES, encode_event, message_frame

__all__ = [
    "MessageWriter",
    "PendingSend",
    "RangeRead",
    "SendOutcome",
    "StoredMessage",
    "read_group_range",
    "read_inbox",
]

log = logging.getLogger("calpico.server.delivery")
WELCOME = KIND_CODES[MessageKind.WELCOME]


@dataclass(frozen=True, slots=True)
class SendOutcome:
    seq: int
    epoch: int
    duplicate: bool = False


@dataclass(slots=True)
class PendingSend:
    group_id: bytes
    epoch: int
    sender: str
    client_id: str
    body: bytes
    future: asyncio.Future[SendOutcome] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


@dataclass(frozen=True, slots=True)
class StoredMessage:
    group_id: bytes
    seq: int
    epoch: int
    kind: int
    sender: str
    client_id: str
    body: bytes
    created_at: float

    def frame(self) -> str:
        return message_frame(
            b64encode(self.group_id),
            self.seq,
            self.epoch,
            self.kind,
            self.sender,
            self.client_id,
            self.body,
            self.created_at,
        )


class MessageWriter:
    """Batches application messages and acks into few transactions (see the module docstring)."""

    def __init__(
        self,
        engine: AsyncEngine,
        publish: Callable[[bytes], Awaitable[None]],
        clock: Callable[[], float] = time.time,
        max_batch: int = 2000,
        sync_engine: Engine | None = None,
    ) -> None:
        """``sync_engine``: SQLite only, a second connection to the same file for this writer's thread."""
        self._engine = engine
        self._sync_engine = sync_engine
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="calpico-writer") if sync_engine else None
        self._publish = publish
        self._clock = clock
        self._max_batch = max_batch
        self._queue: list[PendingSend] = []
        self._acks: dict[tuple[str, bytes], int] = {}
        self._ack_waiters: list[asyncio.Future[None]] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="calpico-writer")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for item in self._queue:
            if not item.future.done():
                item.future.set_exception(Unavailable("server shutting down"))
        if self._thread is not None and self._sync_engine is not None:
            await asyncio.get_running_loop().run_in_executor(self._thread, self._sync_engine.dispose)
            self._thread.shutdown(wait=False)

    def submit(self, item: PendingSend) -> asyncio.Future[SendOutcome]:
        self._queue.append(item)
        self._wake.set()
        return item.future

    def ack(self, device_id: str, group_id: bytes, seq: int) -> asyncio.Future[None]:
        """Record that ``device_id`` processed ``group_id`` up to ``seq``; the future resolves once stored."""
        key = (device_id, group_id)
        if seq > self._acks.get(key, -1):
            self._acks[key] = seq
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._ack_waiters.append(fut)
        self._wake.set()
        return fut

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue or self._acks:
                batch = self._queue[: self._max_batch]
                del self._queue[: self._max_batch]
                acks, self._acks = self._acks, {}
                waiters, self._ack_waiters = self._ack_waiters, []
                try:
                    event = await self._flush(batch, acks)
                except Exception as exc:
                    log.exception("writing a batch of %d messages failed", len(batch))
                    error = Unavailable("storage is unavailable; retry")
                    error.__cause__ = exc
                    for item in batch:
                        if not item.future.done():
                            item.future.set_exception(error)
                    for w in waiters:
                        if not w.done():
                            w.set_exception(error)
                    continue
                for w in waiters:
                    if not w.done():
                        w.set_result(None)
                if event is not None:
                    try:
                        await self._publish(event)
                    except Exception:
                        log.exception("publishing a batch failed; devices will catch up from the database")

    async def _flush(self, batch: list[PendingSend], acks: dict[tuple[str, bytes], int]) -> bytes | None:
        for attempt in range(3):
            try:
                return await self._flush_once(batch, acks)
            except DBAPIError as exc:  # deadlock or serialization failure between processes: retry
                if attempt == 2 or "deadlock" not in str(exc).lower():
                    raise
        return None  # pragma: no cover

    async def _flush_once(self, batch: list[PendingSend], acks: dict[tuple[str, bytes], int]) -> bytes | None:
        now = self._clock()
        if self._sync_engine is not None:
            # SQLite: the whole transaction in one trip to the writer's own thread.
            written = await asyncio.get_running_loop().run_in_executor(
                self._thread, self._write_on_thread, batch, acks, now
            )
        else:
            async with self._engine.begin() as conn:
                written = await conn.run_sync(_write_batch, batch, acks, now)
        # Committed: now, and only now, the senders hear back.
        for item, first in written.same_batch:
            first.future.add_done_callback(_copy_as_duplicate(item.future))
        for item, outcome in written.results:
            if item.future.done():
                continue
            if isinstance(outcome, ServerError):
                item.future.set_exception(outcome)
            else:
                item.future.set_result(outcome)
        rows = written.rows
        if not rows:
            return None
        metrics.MESSAGES_STORED.inc(len(rows))
        metrics.BATCH_SIZE.observe(len(rows))
        event: list[list[Any]] = []
        for r in rows:
            g = b64encode(r[0])
            frame = message_frame(g, r[1], r[3], 1, r[4], r[5], r[6], now)
            event.append(["m", g, r[1], frame, None, r[4]])
        return encode_event(event)

    def _write_on_thread(self, batch: list[PendingSend], acks: dict[tuple[str, bytes], int], now: float) -> _Written:
        assert self._sync_engine is not None
        with self._sync_engine.begin() as conn:
            return _write_batch(conn, batch, acks, now)


@dataclass(slots=True)
class _Written:
    """What one batch's transaction did, for the event loop to act on after the commit."""

    results: list[tuple[PendingSend, SendOutcome | ServerError]] = field(default_factory=list)
    same_batch: list[tuple[PendingSend, PendingSend]] = field(default_factory=list)  # (resend, first)
    rows: list[tuple[Any, ...]] = field(default_factory=list)  # in _MESSAGE_COLUMNS order


def _write_batch(
    conn: Connection, batch: list[PendingSend], acks: dict[tuple[str, bytes], int], now: float
) -> _Written:
    """The batch's transaction (the caller begins and commits it). Touches no future: it may run on a thread.

    Written once, run two ways: on the SQLite writer thread with a plain
    connection (one trip for the whole batch), or through ``run_sync`` on
    the async engine (PostgreSQL).
    """
    out = _Written()
    if acks:
        # Before this batch's messages are numbered: an ack is clamped to what the
        # group's log held when the device sent it, never to messages it has not seen.
        _store_acks(conn, acks)
    fresh = _drop_duplicates(conn, batch, out)
    by_group: dict[tuple[bytes, int], list[PendingSend]] = defaultdict(list)
    for item in fresh:
        by_group[(item.group_id, item.epoch)].append(item)
    allocated = _allocate_seqs(conn, {key: len(items) for key, items in by_group.items()})
    for (group_id, epoch), items in sorted(by_group.items()):
        last = allocated.get((group_id, epoch))
        if last is None:
            current = conn.execute(select(groups.c.epoch).where(groups.c.group_id == group_id)).scalar_one_or_none()
            err: ServerError = (
                NotFound("no such group")
                if current is None
                else StaleEpoch(f"the group is at epoch {current}", current_epoch=int(current))
            )
            out.results.extend((item, err) for item in items)
            continue
        first = last - len(items) + 1
        for offset, item in enumerate(items):
            seq = first + offset
            out.rows.append((group_id, seq, 1, epoch, item.sender, item.client_id, item.body, now))
            out.results.append((item, SendOutcome(seq, epoch)))
    if out.rows:
        conn.exec_driver_sql(_insert_sql(conn.dialect.paramstyle), out.rows)
    return out


def _drop_duplicates(conn: Connection, batch: list[PendingSend], out: _Written) -> list[PendingSend]:
    """Answer resends (same group, sender and client id) with the stored result; return the rest."""
    if not batch:
        return []
    seen: dict[tuple[bytes, str, str], SendOutcome] = {}
    ids = sorted({item.client_id for item in batch})
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        found = conn.execute(
            select(
                messages.c.group_id, messages.c.sender, messages.c.client_id, messages.c.seq, messages.c.epoch
            ).where(messages.c.client_id.in_(chunk))
        )
        for r in found:
            seen[(r.group_id, r.sender, r.client_id)] = SendOutcome(int(r.seq), int(r.epoch), duplicate=True)
    fresh: list[PendingSend] = []
    in_batch: dict[tuple[bytes, str, str], PendingSend] = {}
    for item in batch:
        key = (item.group_id, item.sender, item.client_id)
        if key in seen:
            out.results.append((item, seen[key]))
        elif key in in_batch:
            # Same id twice in one batch: the second gets the first's result once it is known.
            out.same_batch.append((item, in_batch[key]))
        else:
            in_batch[key] = item
            fresh.append(item)
    return fresh


_GROUPS_PER_UPDATE = 200
_MESSAGE_COLUMNS = ("group_id", "seq", "kind", "epoch", "sender", "client_id", "body", "created_at")


@functools.cache
def _insert_sql(paramstyle: str) -> str:
    """The batch's INSERT as driver SQL: SQLAlchemy's per-value bind processing cost more than the insert.

    Rows are tuples in ``_MESSAGE_COLUMNS`` order; the values are plain bytes,
    str, int and float, which both drivers (aiosqlite, asyncpg) take as they are.
    """
    n = len(_MESSAGE_COLUMNS)
    if paramstyle == "qmark":
        marks = ", ".join("?" * n)
    elif paramstyle == "numeric_dollar":
        marks = ", ".join(f"${i}" for i in range(1, n + 1))
    else:
        raise ValueError(f"unsupported paramstyle {paramstyle}")
    # Only constants go into this SQL: the table and column names above, and placeholders.
    return f"INSERT INTO {messages.name} ({', '.join(_MESSAGE_COLUMNS)}) VALUES ({marks})"  # noqa: S608


def _allocate_seqs(conn: Connection, wanted: dict[tuple[bytes, int], int]) -> dict[tuple[bytes, int], int]:
    """Take ``n`` seqs in each ``(group, epoch)`` still at that epoch; return each one's new ``last_seq``.

    One ``UPDATE ... RETURNING`` covers many groups: a statement is a round trip
    to the database, and a batch of a busy server touches many groups. Groups
    are taken in group-id order (PostgreSQL locks the rows as the primary key
    index is scanned), so concurrent writers of several processes lock in the
    same order; a deadlock nonetheless is retried by the caller. A group
    listed with two epochs (a message sent just before a commit and one just
    after) gets a statement per epoch.
    """
    out: dict[tuple[bytes, int], int] = {}
    pending = sorted(wanted)
    while pending:
        seen: set[bytes] = set()
        this_round: list[tuple[bytes, int]] = []
        later: list[tuple[bytes, int]] = []
        for key in pending:
            (later if key[0] in seen else this_round).append(key)
            seen.add(key[0])
        for start in range(0, len(this_round), _GROUPS_PER_UPDATE):
            chunk = this_round[start : start + _GROUPS_PER_UPDATE]
            if len(chunk) == 1:
                (group_id, epoch), n = chunk[0], wanted[chunk[0]]
                where = and_(groups.c.group_id == group_id, groups.c.epoch == epoch)
                add: Any = n
            else:
                where = tuple_(groups.c.group_id, groups.c.epoch).in_(chunk)
                add = case({g: wanted[(g, e)] for g, e in chunk}, value=groups.c.group_id)
            found = conn.execute(
                update(groups)
                .where(where)
                .values(last_seq=groups.c.last_seq + add)
                .returning(groups.c.group_id, groups.c.epoch, groups.c.last_seq)
            )
            for r in found:
                out[(bytes(r.group_id), int(r.epoch))] = int(r.last_seq)
        pending = later
    return out


def _store_acks(conn: Connection, acks: dict[tuple[str, bytes], int]) -> None:
    """Move cursors forward, each clamped to its group's last seq.

    A seq past the end of the log (a confused or malicious client) would
    otherwise move the cursor beyond messages not yet written, and the device
    would never get them: the cursor stops at the end of the log instead.
    """
    last = select(groups.c.last_seq).where(groups.c.group_id == memberships.c.group_id).scalar_subquery()
    wanted = bindparam("b_seq", type_=memberships.c.acked_seq.type)
    clamped = case((wanted > last, last), else_=wanted)
    conn.execute(
        update(memberships)
        .where(
            memberships.c.device_id == bindparam("b_device"),
            memberships.c.group_id == bindparam("b_group"),
            memberships.c.acked_seq < clamped,
        )
        .values(acked_seq=clamped),
        [{"b_device": d, "b_group": g, "b_seq": s} for (d, g), s in sorted(acks.items())],
    )


def _copy_as_duplicate(target: asyncio.Future[SendOutcome]) -> Callable[[asyncio.Future[SendOutcome]], None]:
    def copy(source: asyncio.Future[SendOutcome]) -> None:
        if target.done():
            return
        if source.exception() is not None:
            target.set_exception(source.exception())  # type: ignore[arg-type]
        else:
            r = source.result()
            target.set_result(SendOutcome(r.seq, r.epoch, duplicate=True))

    return copy


class RangeRead(NamedTuple):
    """What `read_group_range` found: the messages, the seq it accounts for up to, and whether a page was cut."""

    messages: list[StoredMessage]
    high: int
    more: bool


def _visible_to(device_id: str) -> Any:
    """Messages a device gets: not its own, and of the Welcomes only those naming it."""
    return and_(
        messages.c.sender != device_id,
        or_(
            messages.c.kind != WELCOME,
            exists().where(
                welcome_targets.c.group_id == messages.c.group_id,
                welcome_targets.c.seq == messages.c.seq,
                welcome_targets.c.device_id == device_id,
            ),
        ),
    )


async def read_inbox(conn: AsyncConnection, device_id: str, limit: int) -> tuple[list[StoredMessage], bool]:
    """Up to ``limit`` messages after the device's cursors, ordered by group then seq."""
    stmt = (
        select(
            messages.c.group_id,
            messages.c.seq,
            messages.c.epoch,
            messages.c.kind,
            messages.c.sender,
            messages.c.client_id,
            messages.c.body,
            messages.c.created_at,
        )
        .join(
            memberships,
            and_(
                memberships.c.group_id == messages.c.group_id,
                messages.c.seq > memberships.c.acked_seq,
                or_(memberships.c.left_seq.is_(None), messages.c.seq <= memberships.c.left_seq),
            ),
        )
        .where(memberships.c.device_id == device_id, _visible_to(device_id))
        .order_by(messages.c.group_id, messages.c.seq)
        .limit(limit + 1)
    )
    rows = [StoredMessage(*r) for r in await conn.execute(stmt)]
    return rows[:limit], len(rows) > limit


async def read_group_range(
    conn: AsyncConnection, device_id: str, group_id: bytes, after: int, upto: int | None, limit: int
) -> RangeRead:
    """Messages of one group with ``after < seq <= upto`` that the device may read, and how far that went.

    ``high`` is the highest seq this read accounts for: every seq up to it
    was either returned or is not for this device (its own messages, Welcomes
    for others), so a caller can move its position there. The
    group's ``last_seq`` is read first: under READ COMMITTED the messages
    query then sees at least every message up to it (a group's seqs are
    allocated under its row lock, so they commit in order).
    """
    ms = (
        await conn.execute(
            select(memberships.c.acked_seq, memberships.c.left_seq, groups.c.last_seq)
            .join(groups, groups.c.group_id == memberships.c.group_id)
            .where(memberships.c.device_id == device_id, memberships.c.group_id == group_id)
            .order_by(memberships.c.joined_seq.desc())
            .limit(1)
        )
    ).first()
    if ms is None:
        return RangeRead([], after, False)
    lower = max(after, int(ms.acked_seq))
    bound = int(ms.last_seq)
    if ms.left_seq is not None:
        bound = min(bound, int(ms.left_seq))
    if upto is not None:
        bound = min(bound, upto)
    if bound <= lower:
        return RangeRead([], max(after, bound), False)
    rows = await conn.execute(
        select(
            messages.c.group_id,
            messages.c.seq,
            messages.c.epoch,
            messages.c.kind,
            messages.c.sender,
            messages.c.client_id,
            messages.c.body,
            messages.c.created_at,
        )
        .where(messages.c.group_id == group_id, messages.c.seq > lower, messages.c.seq <= bound, _visible_to(device_id))
        .order_by(messages.c.seq)
        .limit(limit)
    )
    found = [StoredMessage(*r) for r in rows]
    if len(found) >= limit:
        return RangeRead(found, found[-1].seq, True)
    return RangeRead(found, bound, False)


async def pending_counts(conn: AsyncConnection, device_id: str) -> dict[bytes, int]:
    """How many unacknowledged messages the device has, per group (content-free)."""
    rows = await conn.execute(
        select(messages.c.group_id, func.count())
        .join(
            memberships,
            and_(
                memberships.c.group_id == messages.c.group_id,
                messages.c.seq > memberships.c.acked_seq,
                or_(memberships.c.left_seq.is_(None), messages.c.seq <= memberships.c.left_seq),
            ),
        )
        .where(memberships.c.device_id == device_id, _visible_to(device_id))
        .group_by(messages.c.group_id)
    )
    return {r[0]: int(r[1]) for r in rows}


async def device_cursors(conn: AsyncConnection, device_id: str) -> dict[bytes, tuple[int, int | None]]:
    """``group → (acked_seq, left_seq)`` for every membership of the device that still has a range."""
    rows = await conn.execute(
        select(memberships.c.group_id, memberships.c.acked_seq, memberships.c.left_seq).where(
            memberships.c.device_id == device_id,
            or_(memberships.c.left_seq.is_(None), memberships.c.acked_seq < memberships.c.left_seq),
        )
    )
    return {r.group_id: (int(r.acked_seq), None if r.left_seq is None else int(r.left_seq)) for r in rows}


async def sweep(conn: AsyncConnection, now: float, retention: float) -> int:
    """Delete messages every device acknowledged or older than the retention; return how many."""
    cutoff = now - retention
    old = await conn.execute(delete(messages).where(messages.c.created_at < cutoff))
    needing = (
        select(func.min(memberships.c.acked_seq))
        .where(
            memberships.c.group_id == messages.c.group_id,
            or_(memberships.c.left_seq.is_(None), memberships.c.acked_seq < memberships.c.left_seq),
        )
        .scalar_subquery()
    )
    last = select(groups.c.last_seq).where(groups.c.group_id == messages.c.group_id).scalar_subquery()
    acked = await conn.execute(delete(messages).where(messages.c.seq <= func.coalesce(needing, last)))
    await conn.execute(
        delete(welcome_targets).where(
            ~exists().where(messages.c.group_id == welcome_targets.c.group_id, messages.c.seq == welcome_targets.c.seq)
        )
    )
    await conn.execute(
        delete(memberships).where(
            memberships.c.left_seq.is_not(None), memberships.c.acked_seq >= memberships.c.left_seq
        )
    )
    return int(old.rowcount or 0) + int(acked.rowcount or 0)
