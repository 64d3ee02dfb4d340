"""The AEAD algorithms of the MLS suites (RFC 5116 / RFC 8439), with HPKE ids.

A cipher object is built for every call and dropped after it: AEAD keys in
MLS come from the secret tree and serve one message each, and RFC 9420 §9.2
requires them to be deleted once used, so no cache may keep them alive.
"""

from __future__ import annotations

from collections.abc import Callable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305

from ..errors import DecryptionError, UsageError

__all__ = ["AES_128_GCM", "AES_256_GCM", "CHACHA20_POLY1305", "Aead"]

_Cipher = AESGCM | ChaCha20Poly1305


class Aead:
    """One AEAD algorithm: its HPKE id, key length ``nk``, nonce length ``nn``, tag length ``nt``."""

    __slots__ = ("_cipher", "_cipher_class", "aead_id", "name", "nk", "nn", "nt")

    def __init__(self, aead_id: int, name: str, nk: int, cipher_class: type[_Cipher]) -> None:
        self.aead_id = aead_id
        self.name = name
        self.nk = nk
        self.nn = 12
        self.nt = 16
        self._cipher_class = cipher_class
        # Built per call and never cached: message keys must not outlive their use (§9.2).
        self._cipher: Callable[[bytes], _Cipher] = self._load

    def __repr__(self) -> str:
        return f"<AEAD {self.name}>"

    def _load(self, key: bytes) -> _Cipher:
        # AESGCM takes 16-, 24- and 32-byte keys; a suite fixes one.
        if len(key) != self.nk:
            raise ValueError(f"{self.name} needs a {self.nk}-byte key, got {len(key)} bytes")
        return self._cipher_class(key)

    def seal(self, key: bytes, nonce: bytes, aad: bytes, plaintext: bytes) -> bytes:
        """Encrypt and authenticate; returns ciphertext followed by the tag.

        Raises `UsageError` for a key or nonce of the wrong length.
        """
        # AESGCM would accept other nonce lengths; MLS uses Nn = 12 only.
        if len(nonce) != 12:
            raise UsageError(f"{self.name} needs a 12-byte nonce, got {len(nonce)} bytes")
        try:
            return self._cipher(key).encrypt(nonce, plaintext, aad)
        except (ValueError, TypeError, OverflowError) as exc:
            raise UsageError(f"{self.name} seal: {exc}") from None

    def open(self, key: bytes, nonce: bytes, aad: bytes, ciphertext: bytes) -> bytes:
        """Check the tag and decrypt.

        Raises `DecryptionError` when the tag does not verify, or when the
        key, nonce or ciphertext has an impossible length.
        """
        if len(nonce) != 12:
            raise DecryptionError(f"{self.name} needs a 12-byte nonce, got {len(nonce)} bytes")
        try:
            return self._cipher(key).decrypt(nonce, ciphertext, aad)
        except InvalidTag:
            raise DecryptionError(f"{self.name}: authentication tag does not verify") from None
        except (ValueError, TypeError, OverflowError) as exc:
            raise DecryptionError(f"{self.name} open: {exc}") from None


AES_128_GCM = Aead(0x0001, "AES-128-GCM", 16, AESGCM)
AES_256_GCM = Aead(0x0002, "AES-256-GCM", 32, AESGCM)
CHACHA20_POLY1305 = Aead(0x0003, "ChaCha20-Poly1305", 32, ChaCha20Poly1305)
