"""Reading records: the queries shared by `Store` (committed data) and `Transaction` (its own writes too).

Each query is a function of a SQLite connection, run on the store's worker
thread; `Reads` turns them into async methods over whichever connection its
subclass provides.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from .keys import RowCipher
from .records import (
    AppData,
    Contact,
    ContactState,
    Conversation,
    ConversationStatus,
    DeliveryCursor,
    DeviceLink,
    GroupMessageState,
    GroupState,
    Identity,
    KeyPackageSecrets,
    Message,
    OutboxItem,
    decode_record,
)

__all__ = ["Reads"]

T = TypeVar("T")
R = TypeVar("R")


class Reads:
    """Async reads of every record kind; subclasses provide `_query` and `_cipher`."""

    _cipher: RowCipher

    def _query(self, fn: Callable[[sqlite3.Connection], T]) -> Awaitable[T]:
        raise NotImplementedError

    def _one(self, cls: type[R], table: str, key: tuple[str | bytes | int, ...], sql: str) -> Awaitable[R | None]:
        cipher = self._cipher

        def run(conn: sqlite3.Connection) -> R | None:
            row = conn.execute(sql, key).fetchone()
            return None if row is None else decode_record(cls, cipher.open(table, key, row[0]))

        return self._query(run)

    def _many(
        self,
        cls: type[R],
        table: str,
        sql: str,
        params: tuple[object, ...],
        key_of: Callable[[Any], tuple[str | bytes | int, ...]],
    ) -> Awaitable[list[R]]:
        cipher = self._cipher

        def run(conn: sqlite3.Connection) -> list[R]:
            return [decode_record(cls, cipher.open(table, key_of(row), row[0])) for row in conn.execute(sql, params)]

        return self._query(run)

    # --- identity and keys ------------------------------------------------------------

    async def identity(self) -> Identity | None:
        """This device's identity, or ``None`` before it is set."""
        return await self._one(Identity, "identity", (1,), "SELECT sealed FROM identity WHERE id = ?")

    async def key_package(self, ref: bytes) -> KeyPackageSecrets | None:
        """The private keys of one of our KeyPackages, by KeyPackageRef."""
        return await self._one(
            KeyPackageSecrets, "key_packages", (ref,), "SELECT sealed FROM key_packages WHERE ref = ?"
        )

    async def key_packages(self) -> list[KeyPackageSecrets]:
        """All KeyPackages this device keeps keys for, oldest first."""
        return await self._many(
            KeyPackageSecrets,
            "key_packages",
            "SELECT sealed, ref FROM key_packages ORDER BY created_at, rowid",
            (),
            lambda row: (row[1],),
        )

    async def group_state(self, group_id: bytes) -> GroupState | None:
        return await self._one(
            GroupState, "group_states", (group_id,), "SELECT sealed FROM group_states WHERE group_id = ?"
        )

    async def group_message_state(self, group_id: bytes) -> GroupMessageState | None:
        return await self._one(
            GroupMessageState,
            "group_message_states",
            (group_id,),
            "SELECT sealed FROM group_message_states WHERE group_id = ?",
        )

    # --- conversations and messages --------------------------------------------------------

    async def conversation(self, conversation_id: str) -> Conversation | None:
        return await self._one(
            Conversation, "conversations", (conversation_id,), "SELECT sealed FROM conversations WHERE id = ?"
        )

    async def conversation_for_group(self, group_id: bytes) -> Conversation | None:
        found = await self._many(
            Conversation,
            "conversations",
            "SELECT sealed, id FROM conversations WHERE group_id = ?",
            (group_id,),
            lambda row: (row[1],),
        )
        return found[0] if found else None

    async def conversations(self, status: ConversationStatus | None = None) -> list[Conversation]:
        """Conversations, most recently active first; only those with ``status`` if given."""
        where, params = ("WHERE status = ?", (status.value,)) if status is not None else ("", ())
        return await self._many(
            Conversation,
            "conversations",
            f"SELECT sealed, id FROM conversations {where} ORDER BY updated_at DESC, id",  # noqa: S608
            params,
            lambda row: (row[1],),
        )

    async def message(self, conversation_id: str, message_id: str) -> Message | None:
        return await self._one(
            Message,
            "messages",
            (conversation_id, message_id),
            "SELECT sealed FROM messages WHERE conversation_id = ? AND message_id = ?",
        )

    async def messages(self, conversation_id: str, *, limit: int = 50, before: str | None = None) -> list[Message]:
        """The latest ``limit`` messages (before message ``before``, if given), oldest first."""
        sql = "SELECT sealed, message_id FROM messages WHERE conversation_id = ?"
        params: tuple[object, ...] = (conversation_id,)
        if before is not None:
            sql += " AND pos < (SELECT pos FROM messages WHERE conversation_id = ? AND message_id = ?)"
            params += (conversation_id, before)
        sql += " ORDER BY pos DESC LIMIT ?"
        found = await self._many(
            Message,
            "messages",
            sql,
            (*params, limit),
            lambda row: (conversation_id, row[1]),
        )
        found.reverse()
        return found

    async def expired_messages(self, now: float) -> list[tuple[str, str]]:
        """``(conversation_id, message_id)`` of every message whose ``expires_at`` has passed."""

        def run(conn: sqlite3.Connection) -> list[tuple[str, str]]:
            rows = conn.execute(
                "SELECT conversation_id, message_id FROM messages WHERE expires_at IS NOT NULL AND expires_at <= ?",
                (now,),
            )
            return [(str(c), str(m)) for c, m in rows]

        return await self._query(run)

    # --- contacts ----------------------------------------------------------------------

    async def contact(self, username: str) -> Contact | None:
        return await self._one(Contact, "contacts", (username,), "SELECT sealed FROM contacts WHERE username = ?")

    async def contacts(self, state: ContactState | None = None) -> list[Contact]:
        """Contacts by username; only those in ``state`` if given."""
        where, params = ("WHERE state = ?", (state.value,)) if state is not None else ("", ())
        return await self._many(
            Contact,
            "contacts",
            f"SELECT sealed, username FROM contacts {where} ORDER BY username",  # noqa: S608
            params,
            lambda row: (row[1],),
        )

    # --- delivery ----------------------------------------------------------------------

    async def delivery(self, group_id: bytes) -> DeliveryCursor:
        """How far this device got in a group's log (zeros for a group never seen)."""

        def run(conn: sqlite3.Connection) -> DeliveryCursor:
            row = conn.execute(
                "SELECT processed_seq, acked_seq FROM deliveries WHERE group_id = ?", (group_id,)
            ).fetchone()
            return DeliveryCursor(group_id) if row is None else DeliveryCursor(group_id, int(row[0]), int(row[1]))

        return await self._query(run)

    async def deliveries(self) -> list[DeliveryCursor]:
        def run(conn: sqlite3.Connection) -> list[DeliveryCursor]:
            rows = conn.execute("SELECT group_id, processed_seq, acked_seq FROM deliveries ORDER BY group_id")
            return [DeliveryCursor(bytes(g), int(p), int(a)) for g, p, a in rows]

        return await self._query(run)

    async def outbox(self) -> list[OutboxItem]:
        """Messages waiting to be sent, oldest first."""
        return await self._many(
            OutboxItem,
            "outbox",
            "SELECT sealed, client_id FROM outbox ORDER BY created_at, rowid",
            (),
            lambda row: (row[1],),
        )

    async def device_link(self, code_id: str) -> DeviceLink | None:
        return await self._one(
            DeviceLink, "device_links", (code_id,), "SELECT sealed FROM device_links WHERE code_id = ?"
        )

    # --- application data -------------------------------------------------------------

    async def app_data(self, namespace: str, key: str) -> AppData | None:
        """One value an application kept (`Transaction.put_app_data`)."""
        return await self._one(
            AppData,
            "app_data",
            (namespace, key),
            "SELECT sealed FROM app_data WHERE namespace = ? AND key = ?",
        )

    async def app_data_all(self, namespace: str) -> list[AppData]:
        """Every value of one namespace, by key."""
        return await self._many(
            AppData,
            "app_data",
            "SELECT sealed, key FROM app_data WHERE namespace = ? ORDER BY key",
            (namespace,),
            lambda row: (namespace, row[1]),
        )
