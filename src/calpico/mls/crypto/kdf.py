"""RFC 5869 HKDF, and RFC 9180 §4's labeled variants, for the suites' hashes.

HKDF is HMAC used in two patterns, so it is written here on the standard
library's one-shot ``hmac.digest`` (OpenSSL's HMAC underneath, as in
``cryptography``): MLS expands at most ``Nh`` bytes nearly everywhere, which
is a single HMAC call without building any object, and that call costs about
what ``cryptography``'s `HKDFExpand` does for the same work
(benchmarks/mls_primitives.py prints both).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..errors import UsageError
from ..secret import Secret

__all__ = ["HKDF_SHA256", "HKDF_SHA384", "HKDF_SHA512", "HPKE_VERSION", "Kdf", "i2osp"]

HPKE_VERSION = b"HPKE-v1"


def i2osp(value: int, length: int) -> bytes:
    """I2OSP: ``value`` as a big-endian integer of ``length`` bytes (RFC 8017 §4.1)."""
    return value.to_bytes(length, "big")


@dataclass(frozen=True, slots=True, eq=False)
class Kdf:
    """HKDF over one hash function, with its RFC 9180 KDF id.

    ``hash_name`` is the `hashlib` name ("sha256", "sha384", "sha512");
    ``nh`` is the hash output length, which RFC 9420 calls KDF.Nh.
    """

    kdf_id: int
    hash_name: str
    nh: int
    _new_hash: Callable[[bytes], Any] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        # hashlib.sha256 and friends are faster to call than hashlib.new(name).
        object.__setattr__(self, "_new_hash", getattr(hashlib, self.hash_name))

    def hash(self, data: bytes) -> bytes:
        """Hash ``data`` with this KDF's hash function."""
        digest: bytes = self._new_hash(data).digest()
        return digest

    def mac(self, key: bytes, data: bytes) -> bytes:
        """HMAC(key, data) with this KDF's hash function."""
        return hmac.digest(key, data, self.hash_name)

    def extract(self, salt: bytes, ikm: bytes) -> Secret:
        """HKDF-Extract(salt, IKM) (RFC 5869 §2.2); an empty salt means ``Nh`` zero bytes."""
        # HMAC pads any key shorter than the block with zeros, so b"" already
        # behaves as the RFC's string of Nh zeros.
        return Secret(hmac.digest(salt, ikm, self.hash_name))

    def expand(self, prk: bytes, info: bytes, length: int) -> Secret:
        """HKDF-Expand(PRK, info, L) (RFC 5869 §2.3).

        Raises `UsageError` if ``length`` exceeds 255 * Nh or is negative.
        """
        nh = self.nh
        if length <= nh:
            if length < 0:
                raise UsageError(f"HKDF-Expand: negative length {length}")
            # One block: T(1) = HMAC(PRK, info | 0x01), the common case.
            block = hmac.digest(prk, info + b"\x01", self.hash_name)
            return Secret(block if length == nh else block[:length])
        if length > 255 * nh:
            raise UsageError(f"HKDF-Expand: length {length} exceeds 255 * Nh = {255 * nh}")
        blocks: list[bytes] = []
        previous = b""
        for counter in range(1, -(-length // nh) + 1):
            previous = hmac.digest(prk, previous + info + bytes((counter,)), self.hash_name)
            blocks.append(previous)
        return Secret(b"".join(blocks)[:length])

    # --- RFC 9180 §4 ---------------------------------------------------------------

    def labeled_extract(self, suite_id: bytes, salt: bytes, label: bytes, ikm: bytes) -> Secret:
        """LabeledExtract(salt, label, ikm) under ``suite_id`` (RFC 9180 §4)."""
        return self.extract(salt, HPKE_VERSION + suite_id + label + ikm)

    def labeled_expand(self, suite_id: bytes, prk: bytes, label: bytes, info: bytes, length: int) -> Secret:
        """LabeledExpand(prk, label, info, L) under ``suite_id`` (RFC 9180 §4)."""
        if not 0 <= length <= 255 * self.nh:
            raise UsageError(f"LabeledExpand: length {length} out of range")
        return self.expand(prk, i2osp(length, 2) + HPKE_VERSION + suite_id + label + info, length)


HKDF_SHA256 = Kdf(0x0001, "sha256", 32)
HKDF_SHA384 = Kdf(0x0002, "sha384", 48)
HKDF_SHA512 = Kdf(0x0003, "sha512", 64)
