"""The AEADs, checked against the raw cryptography classes."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305

from calpico.mls.crypto.aead import AES_128_GCM, AES_256_GCM, CHACHA20_POLY1305, Aead
from calpico.mls.errors import DecryptionError, UsageError
from calpico.mls.secret import Secret


@pytest.mark.parametrize("aead", [AES_128_GCM, AES_256_GCM, CHACHA20_POLY1305], ids=lambda a: a.name)
def test_matches_cryptography(aead: Aead) -> None:
    key, nonce = Secret(bytes(range(aead.nk))), bytes(range(12))
    raw = ChaCha20Poly1305(key) if aead.aead_id == 3 else AESGCM(key)
    sealed = aead.seal(key, nonce, b"aad", b"hello")
    assert sealed == raw.encrypt(nonce, b"hello", b"aad")
    assert aead.open(key, nonce, b"aad", sealed) == b"hello"
    # A key of another AES size is refused even though AESGCM itself would take it.
    other = bytes(32 if aead.nk == 16 else 16)
    with pytest.raises(UsageError):
        aead.seal(other, nonce, b"", b"")
    with pytest.raises(DecryptionError):
        aead.open(other, nonce, b"aad", sealed)
