"""The AEAD algorithms of the MLS suites (RFC 5116 / RFC 8439), with HPKE ids.

Building an `AESGCM` or `ChaCha20Poly1305` object costs about as much as
sealing a short message, so the objects are kept in a small LRU cache keyed by
the key bytes: a secret-tree key is typically used for a few messages in a
row, and a Welcome key for GroupInfo once per join.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305

from ..errors import DecryptionError, UsageError

__all__ = ["AES_128_GCM", "AES_256_GCM", "CHACHA20_POLY1305", "Aead"]

_Cipher = AESGCM | ChaCha20Poly1305


@lru_cache(maxsize=256)
def _aes_gcm(key: bytes) -> AESGCM:
    return AESGCM(key)


@lru_cache(maxsize=256)
def _chacha(key: bytes) -> ChaCha20Poly1305:
    return ChaCha20Poly1305(key)


@dataclass(frozen=True, slots=True, eq=False)
class Aead:
    """One AEAD algorithm: its HPKE id, key length ``nk``, nonce length ``nn``, tag length ``nt``."""

    aead_id: int
    name: str
    nk: int
    nn: int
    nt: int = 16

    def _cipher(self, key: bytes) -> _Cipher:
        if len(key) != self.nk:
            raise ValueError(f"{self.name} needs a {self.nk}-byte key, got {len(key)} bytes")
        # Secret is unhashable on purpose; the cache keys on a plain copy.
        raw = key if type(key) is bytes else bytes(key)
        return _chacha(raw) if self.aead_id == 0x0003 else _aes_gcm(raw)

    def seal(self, key: bytes, nonce: bytes, aad: bytes, plaintext: bytes) -> bytes:
        """Encrypt and authenticate; returns ciphertext followed by the tag.

        Raises `UsageError` for a key or nonce of the wrong length.
        """
        if len(nonce) != self.nn:
            raise UsageError(f"{self.name} needs a {self.nn}-byte nonce, got {len(nonce)} bytes")
        try:
            return self._cipher(key).encrypt(nonce, plaintext, aad)
        except (ValueError, TypeError, OverflowError) as exc:
            raise UsageError(f"{self.name} seal: {exc}") from None

    def open(self, key: bytes, nonce: bytes, aad: bytes, ciphertext: bytes) -> bytes:
        """Check the tag and decrypt.

        Raises `DecryptionError` when the tag does not verify, or when the
        key, nonce or ciphertext has an impossible length.
        """
        if len(nonce) != self.nn:
            raise DecryptionError(f"{self.name} needs a {self.nn}-byte nonce, got {len(nonce)} bytes")
        try:
            return self._cipher(key).decrypt(nonce, ciphertext, aad)
        except InvalidTag:
            raise DecryptionError(f"{self.name}: authentication tag does not verify") from None
        except (ValueError, TypeError, OverflowError) as exc:
            raise DecryptionError(f"{self.name} open: {exc}") from None


AES_128_GCM = Aead(0x0001, "AES-128-GCM", 16, 12)
AES_256_GCM = Aead(0x0002, "AES-256-GCM", 32, 12)
CHACHA20_POLY1305 = Aead(0x0003, "ChaCha20-Poly1305", 32, 12)
