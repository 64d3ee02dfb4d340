"""The store's SQLite schema and its migrations.

The schema version is SQLite's ``PRAGMA user_version``. `MIGRATIONS[i]` takes
a store from version ``i`` to ``i + 1``; opening a store runs the missing ones
in one transaction, and refuses a store from a newer Calpico
(`StoreVersionError`). Every table but ``meta`` and ``deliveries`` keeps its
record sealed in ``sealed``; the other columns are indexes (see `records`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence

from ..errors import StoreVersionError

__all__ = ["MIGRATIONS", "migrate", "schema_version"]

_V1 = """
CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value BLOB NOT NULL
);
CREATE TABLE identity (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    sealed BLOB NOT NULL
);
CREATE TABLE key_packages (
    ref BLOB PRIMARY KEY,
    last_resort INTEGER NOT NULL,
    uploaded INTEGER NOT NULL,
    created_at REAL NOT NULL,
    retired_at REAL,
    sealed BLOB NOT NULL
);
CREATE TABLE group_states (
    group_id BLOB PRIMARY KEY,
    epoch INTEGER NOT NULL,
    updated_at REAL NOT NULL,
    sealed BLOB NOT NULL
);
CREATE TABLE conversations (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    group_id BLOB NOT NULL UNIQUE,
    updated_at REAL NOT NULL,
    sealed BLOB NOT NULL
);
CREATE TABLE messages (
    pos INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id TEXT NOT NULL,
    message_id TEXT NOT NULL,
    sender_user TEXT NOT NULL,
    seq INTEGER,
    received_at REAL NOT NULL,
    expires_at REAL,
    sealed BLOB NOT NULL,
    UNIQUE (conversation_id, message_id)
);
CREATE INDEX messages_by_conversation ON messages (conversation_id, pos);
CREATE INDEX messages_by_expiry ON messages (expires_at) WHERE expires_at IS NOT NULL;
CREATE TABLE contacts (
    username TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    updated_at REAL NOT NULL,
    sealed BLOB NOT NULL
);
CREATE TABLE deliveries (
    group_id BLOB PRIMARY KEY,
    processed_seq INTEGER NOT NULL,
    acked_seq INTEGER NOT NULL
);
CREATE TABLE outbox (
    client_id TEXT PRIMARY KEY,
    group_id BLOB NOT NULL,
    kind TEXT NOT NULL,
    created_at REAL NOT NULL,
    sealed BLOB NOT NULL
);
CREATE TABLE device_links (
    code_id TEXT PRIMARY KEY,
    expires_at REAL NOT NULL,
    sealed BLOB NOT NULL
);
"""


def _v1(conn: sqlite3.Connection) -> None:
    for statement in _V1.split(";"):
        if statement.strip():
            conn.execute(statement)


def _v2(conn: sqlite3.Connection) -> None:
    """The small, per-message part of a group's state in its own row (`GroupMessageState`)."""
    conn.execute(
        "CREATE TABLE group_message_states ("
        " group_id BLOB PRIMARY KEY, epoch INTEGER NOT NULL, updated_at REAL NOT NULL, sealed BLOB NOT NULL)"
    )


def _v3(conn: sqlite3.Connection) -> None:
    """Sealed values of applications built on the SDK (`AppData`: the assistant's settings and memory)."""
    conn.execute(
        "CREATE TABLE app_data (namespace TEXT NOT NULL, key TEXT NOT NULL, updated_at REAL NOT NULL,"
        " sealed BLOB NOT NULL, PRIMARY KEY (namespace, key))"
    )


Migration = Callable[[sqlite3.Connection], None]

MIGRATIONS: Sequence[Migration] = (_v1, _v2, _v3)
"""``MIGRATIONS[i]`` upgrades a store at version ``i`` to ``i + 1``; append, never edit."""


def schema_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(conn: sqlite3.Connection, migrations: Sequence[Migration] | None = None) -> int:
    """Bring the store up to date in one transaction; return the version it is at.

    Raises `StoreVersionError` for a store newer than the code.
    """
    steps = MIGRATIONS if migrations is None else migrations
    current = schema_version(conn)
    if current > len(steps):
        raise StoreVersionError(
            f"this store is at schema version {current}; this Calpico knows up to {len(steps)}: upgrade Calpico"
        )
    if current == len(steps):
        return current
    conn.execute("BEGIN IMMEDIATE")
    try:
        for version in range(current, len(steps)):
            steps[version](conn)
        conn.execute(f"PRAGMA user_version = {len(steps)}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return len(steps)
