"""Encryption at rest: nothing readable in the file, keys from a passphrase, the keyring or a key file."""

from __future__ import annotations

import os
import sqlite3
import stat
from pathlib import Path

import pytest

from calpico.client.errors import (
    StoreCorrupt,
    StoreLocked,
    UnsafeKeyFile,
    WrongPassphrase,
)
from calpico.client.store import (
    Contact,
    ContactState,
    GroupState,
    Identity,
    KeyFile,
    KeyPackageSecrets,
    KeySource,
    Message,
    OSKeyring,
    Passphrase,
    Store,
)
from calpico.mls.secret import Secret

from ..keyring_memory import BrokenKeyring, MemoryKeyring
from .conftest import FAST

MARKER = b"PLAINTEXT-MARKER-7f3a"


def _file_bytes(path: Path) -> bytes:
    return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*") if p.is_file())


async def test_nothing_secret_is_readable_in_the_file(tmp_path: Path, key_source: KeySource) -> None:
    path = tmp_path / "device.db"
    signature_key = Secret(os.urandom(32))
    init_key = Secret(os.urandom(32))
    store = await Store.create(path, key_source)
    async with store.transaction() as tx:
        tx.set_identity(Identity("http://server", "alice", 1, signature_key, b"pub" * 10, device_id="dev-a"))
        tx.put_key_package(KeyPackageSecrets(b"ref", b"kp", init_key, Secret(os.urandom(32))))
        tx.put_group_state(GroupState(b"g", 1, Secret(MARKER + b" group state")))
        tx.put_message(Message("c", "m", "bob", "dev-b", 1.0, 2.0, MARKER + b" hello"))
        tx.put_contact(Contact("bob", ContactState.ACCEPTED, display_name=MARKER.decode()))
    data_key = store._cipher.data_key
    raw = _file_bytes(path)  # the database, its WAL and shared memory, before any checkpoint
    await store.close()
    raw += _file_bytes(path)
    for secret in (MARKER, bytes(signature_key), bytes(init_key), bytes(data_key), b"correct horse"):
        assert secret not in raw
    # The data key is really what unlocks it: the file reopens.
    async with await Store.open(path, key_source) as again:
        message = await again.message("c", "m")
        assert message is not None and message.content.startswith(MARKER)


async def test_wrong_passphrase_fails_cleanly_and_the_right_one_still_works(tmp_path: Path) -> None:
    path = tmp_path / "device.db"
    await (await Store.create(path, Passphrase("right", FAST))).close()
    with pytest.raises(WrongPassphrase) as info:
        await Store.open(path, Passphrase("wrong"))
    assert str(info.value) == "the passphrase does not unlock this store"
    # The failed attempt released the file lock.
    await (await Store.open(path, Passphrase("right"))).close()
    with pytest.raises(StoreLocked):
        await Store.open(path, KeyFile(tmp_path / "no.key"))


async def test_argon2_parameters_are_kept_with_the_store(tmp_path: Path) -> None:
    path = tmp_path / "device.db"
    strong = Passphrase("pw", type(FAST)(time_cost=2, memory_cost=16 * 1024, parallelism=2))
    await (await Store.create(path, strong)).close()
    with sqlite3.connect(path) as conn:
        record = dict(conn.execute("SELECT key, value FROM meta"))["key"]
    assert b'"t": 2' in record and b'"m": 16384' in record and b'"alg": "argon2id"' in record
    # Opening uses the stored parameters, whatever the Passphrase object says.
    await (await Store.open(path, Passphrase("pw", FAST))).close()


async def test_key_file_is_created_private_and_refused_when_others_can_read_it(tmp_path: Path) -> None:
    key_path = tmp_path / "device.key"
    path = tmp_path / "device.db"
    await (await Store.create(path, KeyFile(key_path))).close()
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    key_path.chmod(0o644)
    with pytest.raises(UnsafeKeyFile) as info:
        await Store.open(path, KeyFile(key_path))
    assert "chmod 600" in str(info.value)
    key_path.chmod(0o600)
    await (await Store.open(path, KeyFile(key_path))).close()
    key_path.unlink()
    with pytest.raises(StoreLocked):
        await Store.open(path, KeyFile(key_path))
    key_path.write_text("not a key\n")
    key_path.chmod(0o600)
    with pytest.raises(StoreLocked):
        await Store.open(path, KeyFile(key_path))
    # A different valid key file: the wrapped key does not open.
    await (await Store.create(tmp_path / "other.db", KeyFile(tmp_path / "other.key"))).close()
    with pytest.raises(WrongPassphrase):
        await Store.open(path, KeyFile(tmp_path / "other.key"))


async def test_keyring_entry_missing_or_keyring_unavailable(tmp_path: Path) -> None:
    ring = MemoryKeyring()
    path = tmp_path / "device.db"
    await (await Store.create(path, OSKeyring(backend=ring))).close()
    assert len(ring.entries) == 1
    with pytest.raises(StoreLocked):
        await Store.open(path, OSKeyring(backend=MemoryKeyring()))
    with pytest.raises(StoreLocked) as info:
        await Store.open(path, OSKeyring(backend=BrokenKeyring()))
    assert "keyring is not available" in str(info.value)
    # Creating with no usable keyring fails and leaves no file behind.
    with pytest.raises(StoreLocked):
        await Store.create(tmp_path / "second.db", OSKeyring(backend=BrokenKeyring()))
    assert not (tmp_path / "second.db").exists()


async def test_rewrap_changes_the_key_without_touching_rows(tmp_path: Path) -> None:
    path = tmp_path / "device.db"
    store = await Store.create(path, Passphrase("old", FAST))
    async with store.transaction() as tx:
        tx.put_message(Message("c", "m", "bob", "d", 1.0, 2.0, b"kept"))
    await store.rewrap(Passphrase("new", FAST))
    await store.close()
    with pytest.raises(WrongPassphrase):
        await Store.open(path, Passphrase("old"))
    async with await Store.open(path, Passphrase("new")) as store:
        await store.rewrap(KeyFile(tmp_path / "k"))
    async with await Store.open(path, KeyFile(tmp_path / "k")) as store:
        message = await store.message("c", "m")
        assert message is not None and message.content == b"kept"


async def test_rows_cannot_be_swapped_or_moved(store: Store) -> None:
    async with store.transaction() as tx:
        tx.put_message(Message("c", "m1", "bob", "d", 1.0, 2.0, b"one"))
        tx.put_message(Message("c", "m2", "bob", "d", 1.0, 2.0, b"two"))
        tx.put_contact(Contact("bob", ContactState.BLOCKED))
    raw = sqlite3.connect(store.path)
    try:
        (a,), (b,) = raw.execute("SELECT sealed FROM messages ORDER BY message_id").fetchall()
        raw.execute("UPDATE messages SET sealed = ? WHERE message_id = 'm1'", (b,))
        raw.execute("UPDATE messages SET sealed = ? WHERE message_id = 'm2'", (a,))
        # Also move the blocked contact's row onto another username.
        raw.execute("UPDATE contacts SET username = 'mallory'")
        raw.commit()
    finally:
        raw.close()
    with pytest.raises(StoreCorrupt):
        await store.message("c", "m1")
    with pytest.raises(StoreCorrupt):
        await store.messages("c")
    with pytest.raises(StoreCorrupt):
        await store.contact("mallory")


async def test_a_tampered_row_is_refused(store: Store) -> None:
    async with store.transaction() as tx:
        tx.put_message(Message("c", "m1", "bob", "d", 1.0, 2.0, b"one"))
    raw = sqlite3.connect(store.path)
    try:
        (sealed,) = raw.execute("SELECT sealed FROM messages").fetchone()
        flipped = sealed[:-1] + bytes([sealed[-1] ^ 1])
        raw.execute("UPDATE messages SET sealed = ?", (flipped,))
        raw.commit()
    finally:
        raw.close()
    with pytest.raises(StoreCorrupt):
        await store.message("c", "m1")


async def test_a_file_that_is_not_a_store(tmp_path: Path) -> None:
    path = tmp_path / "junk.db"
    path.write_bytes(os.urandom(4096))
    with pytest.raises(StoreCorrupt):
        await Store.open(path, Passphrase("pw"))
