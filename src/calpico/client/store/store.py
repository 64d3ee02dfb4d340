"""The device's local store: one SQLite file, sealed rows, one transaction API.

Theory of operation
-------------------
One worker thread owns two SQLite connections to the file (WAL mode): a
writer, used only inside transactions, and a reader, which sees committed
data only. Every SQLite call runs on that thread, so the event loop never
blocks on disk.

``async with store.transaction() as tx:`` holds the store's transaction lock
(transactions of one store run one after another; they do not nest). Writes
(``tx.put_…``, ``tx.delete_…``, ``tx.mark_…``) are sealed at once and
queued; they reach SQLite, inside ``BEGIN IMMEDIATE``, before the next read
of the transaction (so it reads its own writes) or at commit. Leaving the
block normally commits; an exception rolls everything back and propagates.
So "apply an incoming message, store the new group state, record its seq"
commits atomically, and a crash at any point leaves either all or none of
it. Commit and rollback run to the end even if the awaiting task is
cancelled. ``tx.savepoint()`` nests a part that can fail alone, and
``tx.on_commit(fn)`` runs ``fn`` once the commit is durable (with
``durable=True``, the default, SQLite's ``synchronous=FULL``).

The file is created with mode 0600 and locked (``flock``) against a second
process; secrets and contents are sealed per row (`keys.RowCipher`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from calpico.mls.secret import Secret

from ..errors import AccountExists, NoAccount, StoreCorrupt, StoreError, StoreInUse, UsageError
from . import schema
from .keys import KeySource, RowCipher, unwrap_data_key, wrap_data_key
from .reads import Reads
from .records import (
    AppData,
    Contact,
    Conversation,
    DeviceLink,
    GroupMessageState,
    GroupState,
    Identity,
    KeyPackageSecrets,
    Message,
    OutboxItem,
    encode_record,
)

__all__ = ["Store", "Transaction"]

T = TypeVar("T")
Key = tuple[str | bytes | int, ...]


def _guard(fn: Callable[[], T]) -> T:
    """Run ``fn``, turning sqlite3's exceptions into the SDK's."""
    try:
        return fn()
    except sqlite3.IntegrityError as exc:
        raise StoreError(f"store constraint violated: {exc}") from exc
    except sqlite3.OperationalError as exc:
        raise StoreError(f"store I/O failed: {exc}") from exc
    except sqlite3.DatabaseError as exc:
        raise StoreCorrupt(f"the store file is damaged: {exc}") from exc


def _lock(path: Path) -> int:
    """An exclusive lock on ``path``'s sidecar lock file; raises `StoreInUse`. POSIX only (no-op elsewhere)."""
    fd = os.open(str(path) + ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        return fd
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise StoreInUse(f"another process has the store {path} open") from None
    return fd


def _connect(path: Path, durable: bool, readonly: bool = False) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute(f"PRAGMA synchronous = {'FULL' if durable else 'NORMAL'}")
    conn.execute("PRAGMA secure_delete = ON")  # deleted messages leave no sealed remnants in free pages
    conn.execute("PRAGMA busy_timeout = 5000")
    if readonly:
        conn.execute("PRAGMA query_only = ON")
    return conn


class Store(Reads):
    """One device's store. Create with `Store.create`, open with `Store.open`, then `close` (or ``async with``).

    Reads on the store itself see committed data; write through `transaction`.
    """

    def __init__(
        self,
        path: Path,
        store_id: bytes,
        cipher: RowCipher,
        writer: sqlite3.Connection,
        reader: sqlite3.Connection,
        lock_fd: int,
        executor: ThreadPoolExecutor,
    ) -> None:
        self.path = path
        self.store_id = store_id
        self._cipher = cipher
        self._writer = writer
        self._reader = reader
        self._lock_fd = lock_fd
        self._executor = executor
        self._tx_lock = asyncio.Lock()
        self._tx_owner: asyncio.Task[Any] | None = None
        self._closed = False

    # --- opening and closing ------------------------------------------------------------

    @classmethod
    async def create(cls, path: Path | str, key: KeySource, *, durable: bool = True) -> Store:
        """A new, empty store at ``path``, its data key wrapped under ``key``.

        Raises `AccountExists` if a file is there, `StoreLocked` if the key
        source is unavailable (e.g. no OS keyring), `StoreError` for I/O failures.
        """
        path = Path(path)
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        except FileExistsError:
            raise AccountExists(f"a Calpico store already exists at {path}") from None
        except OSError as exc:
            raise StoreError(f"cannot create {path}: {exc.strerror}") from exc
        executor = ThreadPoolExecutor(1, thread_name_prefix="calpico-store")
        loop = asyncio.get_running_loop()
        try:
            store_id = os.urandom(16)
            data_key = Secret(os.urandom(32))
            wrapped = await loop.run_in_executor(executor, wrap_data_key, key, store_id, data_key)

            def setup() -> Store:
                lock_fd = _lock(path)
                writer = _connect(path, durable)
                schema.migrate(writer)
                writer.execute("INSERT INTO meta (key, value) VALUES ('store_id', ?), ('key', ?)", (store_id, wrapped))
                reader = _connect(path, durable, readonly=True)
                return cls(path, store_id, RowCipher(data_key, store_id), writer, reader, lock_fd, executor)

            return await loop.run_in_executor(executor, partial(_guard, setup))
        except BaseException:
            executor.shutdown(wait=False)
            for suffix in ("", "-wal", "-shm", ".lock"):
                with contextlib.suppress(OSError):
                    os.unlink(str(path) + suffix)
            raise

    @classmethod
    async def open(cls, path: Path | str, key: KeySource, *, durable: bool = True) -> Store:
        """Open an existing store and unlock it with ``key``; migrates an older schema.

        Raises `NoAccount` (no store there), `StoreInUse`, `WrongPassphrase`,
        `StoreLocked`, `StoreCorrupt`, `StoreVersionError`.
        """
        path = Path(path)
        if not path.is_file() or path.stat().st_size == 0:
            raise NoAccount(f"no Calpico store at {path}")
        executor = ThreadPoolExecutor(1, thread_name_prefix="calpico-store")
        loop = asyncio.get_running_loop()
        lock_fd: int | None = None
        writer: sqlite3.Connection | None = None
        try:

            def setup() -> tuple[int, sqlite3.Connection, bytes, bytes]:
                fd = _lock(path)
                try:
                    conn = _connect(path, durable)
                    schema.migrate(conn)
                    meta = dict(conn.execute("SELECT key, value FROM meta"))
                except BaseException:
                    os.close(fd)
                    raise
                if "store_id" not in meta or "key" not in meta:
                    conn.close()
                    os.close(fd)
                    raise StoreCorrupt(f"{path} is not a Calpico store")
                return fd, conn, bytes(meta["store_id"]), bytes(meta["key"])

            fd, conn, store_id, wrapped = await loop.run_in_executor(executor, partial(_guard, setup))
            lock_fd, writer = fd, conn
            data_key = await loop.run_in_executor(executor, unwrap_data_key, key, store_id, wrapped)
            reader = await loop.run_in_executor(executor, partial(_guard, partial(_connect, path, durable, True)))
            return cls(path, store_id, RowCipher(data_key, store_id), conn, reader, fd, executor)
        except BaseException:
            if writer is not None:
                writer.close()
            if lock_fd is not None:
                os.close(lock_fd)
            executor.shutdown(wait=False)
            raise

    async def close(self) -> None:
        """Close the connections and release the lock; waits for a running transaction."""
        if self._closed:
            return
        async with self._tx_lock:
            self._closed = True

            def shutdown() -> None:
                self._reader.close()
                self._writer.close()

            await asyncio.get_running_loop().run_in_executor(self._executor, shutdown)
            self._executor.shutdown(wait=True)
            os.close(self._lock_fd)

    async def __aenter__(self) -> Store:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def rewrap(self, key: KeySource) -> None:
        """Wrap the data key under a new key source (change the passphrase, move to the keyring, ...)."""

        data_key = self._cipher.data_key
        wrapped = await self._call(lambda: wrap_data_key(key, self.store_id, data_key))
        async with self.transaction() as tx:
            tx._write("UPDATE meta SET value = ? WHERE key = 'key'", (wrapped,))

    # --- running on the worker thread -----------------------------------------------------

    def _call(self, fn: Callable[[], T]) -> asyncio.Future[T]:
        if self._closed:
            raise UsageError("the store is closed")
        return asyncio.get_running_loop().run_in_executor(self._executor, partial(_guard, fn))

    async def _call_to_end(self, fn: Callable[[], T]) -> T:
        """Like `_call`, but a cancellation waits for ``fn`` to finish (commit/rollback must not be cut short)."""
        future = self._call(fn)
        cancelled = False
        while not future.done():
            try:
                await asyncio.shield(future)
            except asyncio.CancelledError:
                cancelled = True
            except BaseException:
                break  # fn failed: future.result() raises it below
        result = future.result()
        if cancelled:
            raise asyncio.CancelledError
        return result

    def _query(self, fn: Callable[[sqlite3.Connection], T]) -> Awaitable[T]:
        reader = self._reader
        return self._call(lambda: fn(reader))

    # --- transactions -------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Transaction]:
        """One atomic unit of reads and writes (see the module docstring). Raises `UsageError` if nested."""
        task = asyncio.current_task()
        if task is not None and self._tx_owner is task:
            raise UsageError("store transactions do not nest; use tx.savepoint()")
        async with self._tx_lock:
            if self._closed:
                raise UsageError("the store is closed")
            self._tx_owner = task
            tx = Transaction(self)
            try:
                try:
                    yield tx
                except BaseException:
                    if tx._begun:
                        await self._call_to_end(tx._rollback)
                    raise
                await self._call_to_end(tx._commit)
            finally:
                self._tx_owner = None
                tx._closed = True
        for callback in tx._callbacks:
            callback()

    async def expire_messages(self, now: float) -> list[tuple[str, str]]:
        """Delete every message whose disappearing timer ran out; return their ``(conversation, id)``."""
        async with self.transaction() as tx:
            gone = await tx.expired_messages(now)
            for conversation_id, message_id in gone:
                tx.delete_message(conversation_id, message_id)
        return gone


class Transaction(Reads):
    """Writes queued in order and applied atomically; reads see them. Obtain from `Store.transaction`."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._cipher = store._cipher
        self._ops: list[tuple[str, tuple[Any, ...]]] = []
        self._callbacks: list[Callable[[], None]] = []
        self._begun = False
        self._closed = False
        self._savepoints = 0

    # --- plumbing (the sync parts run on the worker thread) -----------------------------

    def _write(self, sql: str, params: tuple[Any, ...]) -> None:
        if self._closed:
            raise UsageError("this transaction is over")
        self._ops.append((sql, params))

    def _seal(self, table: str, key: Key, record: object) -> bytes:
        return self._cipher.seal(table, key, encode_record(record))

    def _flush(self, ops: list[tuple[str, tuple[Any, ...]]]) -> None:
        conn = self._store._writer
        if not self._begun:
            conn.execute("BEGIN IMMEDIATE")
            self._begun = True
        for sql, params in ops:
            conn.execute(sql, params)

    def _take(self) -> list[tuple[str, tuple[Any, ...]]]:
        ops, self._ops = self._ops, []
        return ops

    def _commit(self) -> None:
        ops = self._take()
        if ops:
            self._flush(ops)
        if self._begun:
            self._store._writer.execute("COMMIT")

    def _rollback(self) -> None:
        self._ops = []
        if self._store._writer.in_transaction:
            self._store._writer.execute("ROLLBACK")

    def _query(self, fn: Callable[[sqlite3.Connection], T]) -> Awaitable[T]:
        if self._closed:
            raise UsageError("this transaction is over")
        ops = self._take()
        writer = self._store._writer

        def run() -> T:
            self._flush(ops)
            return fn(writer)

        return self._store._call(run)

    def on_commit(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` after this transaction committed (never if it rolls back)."""
        self._callbacks.append(callback)

    @contextlib.asynccontextmanager
    async def savepoint(self) -> AsyncIterator[Transaction]:
        """A nested part: if its block raises, only its writes (and `on_commit` callbacks) are undone."""
        self._savepoints += 1
        name = f"sp{self._savepoints}"
        mark_ops, mark_callbacks = len(self._ops), len(self._callbacks)
        self._write(f"SAVEPOINT {name}", ())
        try:
            yield self
        except BaseException:
            del self._callbacks[mark_callbacks:]
            if len(self._ops) > mark_ops and self._ops[mark_ops][0] == f"SAVEPOINT {name}":
                del self._ops[mark_ops:]  # none of it reached SQLite: just forget it
            else:
                # SQLite has the savepoint; everything still queued was written inside it.
                self._ops = [(f"ROLLBACK TO {name}", ()), (f"RELEASE {name}", ())]
            raise
        if len(self._ops) > mark_ops and self._ops[mark_ops][0] == f"SAVEPOINT {name}":
            # Nothing of it reached SQLite and it succeeded: its writes simply join the transaction.
            # (Most savepoints end this way — one per delivered message — so SQLite never sees them.)
            del self._ops[mark_ops]
        else:
            self._write(f"RELEASE {name}", ())

    # --- writes -------------------------------------------------------------------------

    def set_identity(self, identity: Identity) -> None:
        self._write(
            "INSERT OR REPLACE INTO identity (id, sealed) VALUES (1, ?)", (self._seal("identity", (1,), identity),)
        )

    def put_key_package(self, kp: KeyPackageSecrets) -> None:
        self._write(
            "INSERT OR REPLACE INTO key_packages (ref, last_resort, uploaded, created_at, retired_at, sealed)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (
                kp.ref,
                int(kp.last_resort),
                int(kp.uploaded),
                kp.created_at,
                kp.retired_at,
                self._seal("key_packages", (kp.ref,), kp),
            ),
        )

    def delete_key_package(self, ref: bytes) -> None:
        self._write("DELETE FROM key_packages WHERE ref = ?", (ref,))

    def put_group_state(self, state: GroupState) -> None:
        self._write(
            "INSERT OR REPLACE INTO group_states (group_id, epoch, updated_at, sealed) VALUES (?, ?, ?, ?)",
            (state.group_id, state.epoch, state.updated_at, self._seal("group_states", (state.group_id,), state)),
        )

    def delete_group_state(self, group_id: bytes) -> None:
        """Delete a group's state (both parts)."""
        self._write("DELETE FROM group_states WHERE group_id = ?", (group_id,))
        self._write("DELETE FROM group_message_states WHERE group_id = ?", (group_id,))

    def put_group_message_state(self, state: GroupMessageState) -> None:
        self._write(
            "INSERT OR REPLACE INTO group_message_states (group_id, epoch, updated_at, sealed) VALUES (?, ?, ?, ?)",
            (
                state.group_id,
                state.epoch,
                state.updated_at,
                self._seal("group_message_states", (state.group_id,), state),
            ),
        )

    def put_conversation(self, conversation: Conversation) -> None:
        c = conversation
        self._write(
            "INSERT OR REPLACE INTO conversations (id, kind, status, group_id, updated_at, sealed)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (c.id, c.kind.value, c.status.value, c.group_id, c.updated_at, self._seal("conversations", (c.id,), c)),
        )

    def delete_conversation(self, conversation_id: str) -> None:
        """Delete a conversation and all its messages."""
        self._write("DELETE FROM messages WHERE conversation_id = ?", (conversation_id,))
        self._write("DELETE FROM conversations WHERE id = ?", (conversation_id,))

    def put_message(self, message: Message) -> None:
        """Insert or replace a message; a replaced message keeps its place in the conversation."""
        m = message
        sealed = self._seal("messages", (m.conversation_id, m.message_id), m)
        self._write(
            "INSERT INTO messages (conversation_id, message_id, sender_user, seq, received_at, expires_at, sealed)"
            " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (conversation_id, message_id) DO UPDATE SET"
            " sender_user = excluded.sender_user, seq = excluded.seq, received_at = excluded.received_at,"
            " expires_at = excluded.expires_at, sealed = excluded.sealed",
            (m.conversation_id, m.message_id, m.sender_user, m.seq, m.received_at, m.expires_at, sealed),
        )

    def add_message(self, message: Message) -> None:
        """Insert a new message; if one with this id is there already, keep that one (no read needed)."""
        m = message
        sealed = self._seal("messages", (m.conversation_id, m.message_id), m)
        self._write(
            "INSERT INTO messages (conversation_id, message_id, sender_user, seq, received_at, expires_at, sealed)"
            " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (conversation_id, message_id) DO NOTHING",
            (m.conversation_id, m.message_id, m.sender_user, m.seq, m.received_at, m.expires_at, sealed),
        )

    def delete_message(self, conversation_id: str, message_id: str) -> None:
        self._write("DELETE FROM messages WHERE conversation_id = ? AND message_id = ?", (conversation_id, message_id))

    def put_contact(self, contact: Contact) -> None:
        c = contact
        self._write(
            "INSERT OR REPLACE INTO contacts (username, state, updated_at, sealed) VALUES (?, ?, ?, ?)",
            (c.username, c.state.value, c.updated_at, self._seal("contacts", (c.username,), c)),
        )

    def delete_contact(self, username: str) -> None:
        self._write("DELETE FROM contacts WHERE username = ?", (username,))

    def mark_processed(self, group_id: bytes, seq: int) -> None:
        """Record that the group's log up to ``seq`` was applied locally (never moves back)."""
        self._write(
            "INSERT INTO deliveries (group_id, processed_seq, acked_seq) VALUES (?, ?, 0)"
            " ON CONFLICT (group_id) DO UPDATE SET processed_seq = max(processed_seq, excluded.processed_seq)",
            (group_id, seq),
        )

    def mark_acked(self, group_id: bytes, seq: int) -> None:
        """Record that the server was told everything up to ``seq`` was processed (never moves back)."""
        self._write(
            "INSERT INTO deliveries (group_id, processed_seq, acked_seq) VALUES (?, 0, ?)"
            " ON CONFLICT (group_id) DO UPDATE SET acked_seq = max(acked_seq, excluded.acked_seq)",
            (group_id, seq),
        )

    def put_outbox(self, item: OutboxItem) -> None:
        self._write(
            "INSERT OR REPLACE INTO outbox (client_id, group_id, kind, created_at, sealed) VALUES (?, ?, ?, ?, ?)",
            (item.client_id, item.group_id, item.kind, item.created_at, self._seal("outbox", (item.client_id,), item)),
        )

    def delete_outbox(self, client_id: str) -> None:
        self._write("DELETE FROM outbox WHERE client_id = ?", (client_id,))

    def put_device_link(self, link: DeviceLink) -> None:
        self._write(
            "INSERT OR REPLACE INTO device_links (code_id, expires_at, sealed) VALUES (?, ?, ?)",
            (link.code_id, link.expires_at, self._seal("device_links", (link.code_id,), link)),
        )

    def delete_device_link(self, code_id: str) -> None:
        self._write("DELETE FROM device_links WHERE code_id = ?", (code_id,))

    def put_app_data(self, data: AppData) -> None:
        """Insert or replace an application's value (sealed; namespace and key stay in clear)."""
        self._write(
            "INSERT OR REPLACE INTO app_data (namespace, key, updated_at, sealed) VALUES (?, ?, ?, ?)",
            (data.namespace, data.key, data.updated_at, self._seal("app_data", (data.namespace, data.key), data)),
        )

    def delete_app_data(self, namespace: str, key: str) -> None:
        self._write("DELETE FROM app_data WHERE namespace = ? AND key = ?", (namespace, key))
