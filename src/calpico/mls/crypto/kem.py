"""The KEM interface HPKE is built on (RFC 9180 §4), shared by DHKEM and X-Wing.

Private keys are their ``SerializePrivateKey`` bytes and public keys their
``SerializePublicKey`` bytes throughout, as in the MLS test vectors. Each
method raises the typed error that fits where its input comes from:

=====================  =========================================================
`Kem.encap`            `ProtocolError` if the recipient's public key is invalid
`Kem.decap`            `DecryptionError` on any failure (bad ``enc`` or key)
`Kem.public_key`       `UsageError` for an invalid private key (our own)
`Kem.derive_key_pair`  never fails in practice (see RFC 9180 §7.1.3)
=====================  =========================================================

A KEM that `cryptography.hpke` also implements says so with ``native_kem``
and loads its keys as that module's key objects (cached), so `hpke.Hpke` can
use the native one-shot encryption where it applies.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from ..secret import Secret

__all__ = ["Kem", "Rng"]

Rng = Callable[[int], bytes]
"""A source of randomness: ``rng(n)`` returns ``n`` random bytes (default `os.urandom`)."""


class Kem(Protocol):
    """An HPKE KEM with its RFC 9180 sizes."""

    name: str
    kem_id: int
    n_secret: int
    n_enc: int
    n_pk: int
    n_sk: int
    native_kem: Any | None
    """The `cryptography.hpke.KEM` member for this KEM, or None if it has none."""

    def derive_key_pair(self, ikm: bytes) -> tuple[Secret, bytes]:
        """DeriveKeyPair(ikm): a deterministic key pair from input keying material."""
        ...

    def generate_key_pair(self, rng: Rng | None = None) -> tuple[Secret, bytes]:
        """GenerateKeyPair(), drawing from ``rng``."""
        ...

    def public_key(self, private_key: bytes) -> bytes:
        """The serialized public key belonging to ``private_key``."""
        ...

    def encap(self, public_key: bytes, rng: Rng | None = None) -> tuple[Secret, bytes]:
        """Encap(pkR): ``(shared_secret, enc)``."""
        ...

    def decap(self, enc: bytes, private_key: bytes) -> Secret:
        """Decap(enc, skR): the shared secret."""
        ...

    def native_private_key(self, private_key: bytes) -> Any:
        """The `cryptography` key object for ``native_kem`` (raises `DecryptionError`)."""
        ...

    def native_public_key(self, public_key: bytes) -> Any:
        """The `cryptography` key object for ``native_kem`` (raises `ProtocolError`)."""
        ...
