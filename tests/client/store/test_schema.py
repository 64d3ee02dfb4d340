"""Schema versioning: migrations run once, in order; a newer store is refused."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from calpico.client.errors import StoreVersionError
from calpico.client.store import Message, Passphrase, Store, schema

from .conftest import FAST


def _add_pinned(conn: sqlite3.Connection) -> None:
    conn.execute("ALTER TABLE messages ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0")


async def test_a_store_is_migrated_when_the_code_is_newer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "device.db"
    key = Passphrase("pw", FAST)
    async with await Store.create(path, key) as store, store.transaction() as tx:
        tx.put_message(Message("c", "m", "bob", "d", 1.0, 2.0, b"kept"))
    monkeypatch.setattr(schema, "MIGRATIONS", (*schema.MIGRATIONS, _add_pinned))
    async with await Store.open(path, key) as store:
        message = await store.message("c", "m")
        assert message is not None and message.content == b"kept"
    with sqlite3.connect(path) as conn:
        assert schema.schema_version(conn) == len(schema.MIGRATIONS)
        assert "pinned" in {row[1] for row in conn.execute("PRAGMA table_info(messages)")}
    # Opening again runs nothing twice (ALTER TABLE would fail on a second run).
    await (await Store.open(path, key)).close()


async def test_a_store_from_a_newer_calpico_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "device.db"
    key = Passphrase("pw", FAST)
    await (await Store.create(path, key)).close()
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA user_version = 99")
    with pytest.raises(StoreVersionError) as info:
        await Store.open(path, key)
    assert "upgrade Calpico" in str(info.value)
    # The refusal released the lock: fixing the version lets it open.
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {len(schema.MIGRATIONS)}")
    await (await Store.open(path, key)).close()


def test_a_failing_migration_changes_nothing(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "x.db", isolation_level=None)

    def broken(c: sqlite3.Connection) -> None:
        c.execute("CREATE TABLE half_done (x)")
        raise RuntimeError("bug in a migration")

    with pytest.raises(RuntimeError):
        schema.migrate(conn, (*schema.MIGRATIONS, broken))
    assert schema.schema_version(conn) == 0
    assert conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0
    conn.close()
