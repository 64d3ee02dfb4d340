"""`AppData` (store schema v3): sealed values of applications built on the SDK, bound to their namespace and key."""

from __future__ import annotations

import sqlite3

import pytest

from calpico.client.errors import StoreCorrupt
from calpico.client.store import AppData, KeySource, Store


async def test_values_are_kept_per_namespace_sealed_and_bound_to_their_key(store: Store, key_source: KeySource) -> None:
    async with store.transaction() as tx:
        tx.put_app_data(AppData("assistant.memory", "k1", b"I am vegetarian", 1.0))
        tx.put_app_data(AppData("assistant.memory", "k2", b"likes trains", 2.0))
        tx.put_app_data(AppData("assistant", "card", b"{}", 3.0))
        assert (await tx.app_data("assistant", "card")) == AppData("assistant", "card", b"{}", 3.0)
    assert [d.key for d in await store.app_data_all("assistant.memory")] == ["k1", "k2"]
    async with store.transaction() as tx:
        tx.delete_app_data("assistant.memory", "k1")
    assert [d.value for d in await store.app_data_all("assistant.memory")] == [b"likes trains"]
    assert await store.app_data("nope", "k1") is None
    path = store.path
    await store.close()
    files = [path, *path.parent.glob(path.name + "-wal")]
    assert not any(b"vegetarian" in p.read_bytes() or b"likes trains" in p.read_bytes() for p in files)
    # A value moved under another key no longer opens.
    conn = sqlite3.connect(path)
    conn.execute("UPDATE app_data SET key = 'k9' WHERE key = 'k2'")
    conn.commit()
    conn.close()
    reopened = await Store.open(path, key_source)
    try:
        with pytest.raises(StoreCorrupt):
            await reopened.app_data("assistant.memory", "k9")
    finally:
        await reopened.close()
