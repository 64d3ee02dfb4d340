"""The store's keys: a random data key, wrapped by a key-encryption key from a `KeySource`.

::

    passphrase ──Argon2id(salt, t, m, p)──┐
    OS keyring entry (32 random bytes) ───┼──> KEK ──AEAD──> wrapped data key (in the store's meta table)
    key file, mode 0600 (32 random bytes) ┘                       │
                                                                  └──> per-row AEAD (`RowCipher`)

The data key never changes, so changing the passphrase or moving from a
passphrase to the keyring re-wraps 32 bytes instead of re-encrypting every
row. The AEAD is ChaCha20-Poly1305 (cipher suite 3's, through
`calpico.mls.crypto`); wrapping binds the store id and the method into the
associated data, so a wrapped key cannot be moved to another store.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from calpico.mls.crypto import get_suite
from calpico.mls.errors import MLSError
from calpico.mls.secret import Secret
from calpico.wire.common import b64decode, b64encode

from ..errors import StoreCorrupt, StoreError, StoreLocked, UnsafeKeyFile, WrongPassphrase

__all__ = [
    "Argon2Params",
    "KeyFile",
    "KeySource",
    "KeyringBackend",
    "OSKeyring",
    "Passphrase",
    "RowCipher",
    "unwrap_data_key",
    "wrap_data_key",
]

AEAD = get_suite(3)  # MLS_128_DHKEMX25519_CHACHA20POLY1305_SHA256_Ed25519: only its AEAD is used
KEY_LENGTH = 32
NONCE_LENGTH = 12
_WRAP_AAD = b"calpico store data key v1\x00"
_KEY_FILE_PREFIX = "calpico-store-key-v1:"


@dataclass(frozen=True, slots=True)
class Argon2Params:
    """Argon2id cost parameters (RFC 9106 §4's second recommendation by default: t=3, 64 MiB, p=4).

    They are stored with the wrapped key, so a store opens with the parameters it was created with.
    """

    time_cost: int = 3
    memory_cost: int = 64 * 1024  # KiB
    parallelism: int = 4


@dataclass(frozen=True, slots=True)
class Passphrase:
    """Unlock with a passphrase (Argon2id). ``params`` apply when a store is created or re-wrapped."""

    passphrase: str = field(repr=False)
    params: Argon2Params = Argon2Params()


class KeyringBackend(Protocol):
    """The part of the ``keyring`` API the store uses (the ``keyring`` module itself fits)."""

    def get_password(self, service_name: str, username: str) -> str | None: ...

    def set_password(self, service_name: str, username: str, password: str) -> None: ...


@dataclass(frozen=True, slots=True)
class OSKeyring:
    """Unlock with a random key kept in the OS keyring, under ``service`` and ``name``.

    ``name`` defaults to the store's id; ``backend`` to the ``keyring`` package.
    """

    service: str = "calpico"
    name: str | None = None
    backend: KeyringBackend | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class KeyFile:
    """Unlock with a key file (for unattended devices): created with mode 0600; refused if others can read it."""

    path: Path


KeySource = Passphrase | OSKeyring | KeyFile


# --- key-encryption keys -----------------------------------------------------------------


def _argon2id(passphrase: str, salt: bytes, params: Argon2Params) -> Secret:
    from argon2.exceptions import HashingError
    from argon2.low_level import Type, hash_secret_raw

    try:
        return Secret(
            hash_secret_raw(
                passphrase.encode("utf-8"),
                salt,
                time_cost=params.time_cost,
                memory_cost=params.memory_cost,
                parallelism=params.parallelism,
                hash_len=KEY_LENGTH,
                type=Type.ID,
            )
        )
    except HashingError as exc:
        raise StoreError(f"Argon2id failed: {exc}") from exc


def _keyring(source: OSKeyring) -> KeyringBackend:
    if source.backend is not None:
        return source.backend
    import keyring

    return keyring


def _keyring_call(what: str, call: Callable[[], Any]) -> Any:
    from keyring.errors import KeyringError

    try:
        return call()
    except KeyringError as exc:
        raise StoreLocked(f"the OS keyring is not available ({what}): {exc}") from exc


def _check_key_file(path: Path) -> None:
    try:
        info = path.stat()
    except FileNotFoundError:
        raise StoreLocked(f"key file {path} does not exist") from None
    except OSError as exc:
        raise StoreLocked(f"cannot read key file {path}: {exc.strerror}") from exc
    if not stat.S_ISREG(info.st_mode):
        raise UnsafeKeyFile(f"key file {path} is not a regular file")
    if info.st_mode & 0o077:
        raise UnsafeKeyFile(
            f"key file {path} can be accessed by other users (mode {stat.S_IMODE(info.st_mode):o}); chmod 600 it"
        )
    if hasattr(os, "getuid") and info.st_uid != os.getuid():
        raise UnsafeKeyFile(f"key file {path} belongs to another user")


def _read_key_file(path: Path) -> Secret:
    _check_key_file(path)
    try:
        text = path.read_text("ascii").strip()
        if not text.startswith(_KEY_FILE_PREFIX):
            raise ValueError("missing prefix")
        key = b64decode(text[len(_KEY_FILE_PREFIX) :])
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise StoreLocked(f"key file {path} is not a Calpico key file") from exc
    if len(key) != KEY_LENGTH:
        raise StoreLocked(f"key file {path} is not a Calpico key file")
    return Secret(key)


def _create_key_file(path: Path) -> Secret:
    """A new key file with a fresh key, or the existing one (one key file may serve several stores)."""
    key = Secret(os.urandom(KEY_LENGTH))
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read_key_file(path)
    except OSError as exc:
        raise StoreError(f"cannot create key file {path}: {exc.strerror}") from exc
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(_KEY_FILE_PREFIX + b64encode(key) + "\n")
    return key


def _new_kek(source: KeySource, store_id: bytes) -> tuple[Secret, dict[str, Any]]:
    """A key-encryption key for a new wrapping, and what to record to find it again."""
    if isinstance(source, Passphrase):
        salt = os.urandom(16)
        p = source.params
        kdf = {"alg": "argon2id", "salt": b64encode(salt), "t": p.time_cost, "m": p.memory_cost, "p": p.parallelism}
        return _argon2id(source.passphrase, salt, p), {"method": "passphrase", "kdf": kdf}
    if isinstance(source, OSKeyring):
        name = source.name or b64encode(store_id)
        backend = _keyring(source)
        existing = _keyring_call("read", lambda: backend.get_password(source.service, name))
        if existing:
            kek = _decode_keyring_entry(existing, source.service, name)
        else:
            kek = Secret(os.urandom(KEY_LENGTH))
            _keyring_call("write", lambda: backend.set_password(source.service, name, b64encode(kek)))
        return kek, {"method": "keyring", "service": source.service, "name": name}
    return _create_key_file(source.path), {"method": "keyfile"}


def _decode_keyring_entry(entry: str, service: str, name: str) -> Secret:
    try:
        kek = b64decode(entry)
    except ValueError:
        kek = b""
    if len(kek) != KEY_LENGTH:
        raise StoreLocked(f"the keyring entry {service}/{name} is not a Calpico store key")
    return Secret(kek)


def _kek(source: KeySource, record: dict[str, Any]) -> Secret:
    method = record.get("method")
    if isinstance(source, Passphrase):
        if method != "passphrase":
            raise StoreLocked(f"this store is unlocked with its {method}, not a passphrase")
        kdf = record["kdf"]
        params = Argon2Params(int(kdf["t"]), int(kdf["m"]), int(kdf["p"]))
        return _argon2id(source.passphrase, b64decode(kdf["salt"]), params)
    if isinstance(source, OSKeyring):
        if method != "keyring":
            raise StoreLocked(f"this store is unlocked with its {method}, not the OS keyring")
        service, name = record["service"], record["name"]
        backend = _keyring(source)
        entry = _keyring_call("read", lambda: backend.get_password(service, name))
        if not entry:
            raise StoreLocked(f"the OS keyring has no entry {service}/{name} for this store")
        return _decode_keyring_entry(entry, service, name)
    if method != "keyfile":
        raise StoreLocked(f"this store is unlocked with its {method}, not a key file")
    return _read_key_file(source.path)


def wrap_data_key(source: KeySource, store_id: bytes, data_key: bytes) -> bytes:
    """The meta record (JSON) holding ``data_key`` wrapped under ``source``'s key. Blocking (Argon2id)."""
    kek, record = _new_kek(source, store_id)
    nonce = os.urandom(NONCE_LENGTH)
    aad = _WRAP_AAD + store_id + record["method"].encode()
    record["nonce"] = b64encode(nonce)
    record["wrapped"] = b64encode(AEAD.aead_seal(kek, nonce, aad, data_key))
    return json.dumps(record, sort_keys=True).encode()


def unwrap_data_key(source: KeySource, store_id: bytes, stored: bytes) -> Secret:
    """The data key from the meta record; raises `WrongPassphrase`, `StoreLocked`. Blocking (Argon2id)."""
    try:
        record = json.loads(stored)
        kek = _kek(source, record)
        nonce, wrapped = b64decode(record["nonce"]), b64decode(record["wrapped"])
        aad = _WRAP_AAD + store_id + str(record["method"]).encode()
    except (ValueError, KeyError, TypeError) as exc:
        raise StoreCorrupt("the store's key record is damaged") from exc
    try:
        return Secret(AEAD.aead_open(kek, nonce, aad, wrapped))
    except MLSError:
        what = "passphrase" if isinstance(source, Passphrase) else "key"
        raise WrongPassphrase(f"the {what} does not unlock this store") from None


# --- rows --------------------------------------------------------------------------------


def _identity(table: str, key: tuple[str | bytes | int, ...]) -> bytes:
    """An unambiguous encoding of a row's table and primary key: the AAD that pins a row to its place."""
    out = bytearray(b"calpico store row v1\x00")
    for part in (table, *key):
        if isinstance(part, bytes):
            tag, data = b"b", part
        elif isinstance(part, str):
            tag, data = b"s", part.encode("utf-8")
        else:
            tag, data = b"i", str(int(part)).encode()
        out += tag + len(data).to_bytes(4, "big") + data
    return bytes(out)


class RowCipher:
    """Seals a row's payload with the data key; the AAD is the store id, table and primary key.

    Format: ``0x01 ‖ nonce (12) ‖ ChaCha20-Poly1305 ciphertext``. Nonces are
    random: a device seals far fewer than the 2^32 rows that would make a
    96-bit collision a concern.
    """

    __slots__ = ("_key", "_prefix")

    def __init__(self, data_key: Secret, store_id: bytes) -> None:
        self._key = bytes(data_key)
        self._prefix = store_id

    @property
    def data_key(self) -> Secret:
        return Secret(self._key)

    def seal(self, table: str, key: tuple[str | bytes | int, ...], payload: bytes) -> bytes:
        nonce = os.urandom(NONCE_LENGTH)
        aad = self._prefix + _identity(table, key)
        return b"\x01" + nonce + AEAD.aead_seal(self._key, nonce, aad, payload)

    def open(self, table: str, key: tuple[str | bytes | int, ...], sealed: bytes) -> bytes:
        """The payload; raises `StoreCorrupt` if the row was altered or moved."""
        if len(sealed) < 1 + NONCE_LENGTH + 16 or sealed[0] != 1:
            raise StoreCorrupt(f"a {table} row is damaged")
        aad = self._prefix + _identity(table, key)
        try:
            return AEAD.aead_open(self._key, sealed[1 : 1 + NONCE_LENGTH], aad, sealed[1 + NONCE_LENGTH :])
        except MLSError:
            raise StoreCorrupt(f"a {table} row fails authentication (altered or moved)") from None
