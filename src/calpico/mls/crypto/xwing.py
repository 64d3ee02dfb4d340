"""X-Wing, the ML-KEM-768 + X25519 hybrid KEM (draft-connolly-cfrg-xwing-kem).

Keys and ciphertexts (draft §3.1): the private (decapsulation) key is a
32-byte seed; ``expandDecapsulationKey`` stretches it with SHAKE256 to 96
bytes, of which the first 64 are the ML-KEM-768 seed ``d ‖ z`` and the last 32
the X25519 private key. The public key is ``pk_M ‖ pk_X`` (1184 + 32 bytes),
the ciphertext ``ct_M ‖ ct_X`` (1088 + 32 bytes), and the shared secret

    SHA3-256(ss_M ‖ ss_X ‖ ct_X ‖ pk_X ‖ "\\.//^\\")

In HPKE (draft §5) X-Wing is KEM 0x647a; DeriveKeyPair(ikm) is
GenerateKeyPairDerand(SHAKE256(ikm, 32 bytes)). ``cryptography``'s
``hpke.KEM.MLKEM768_X25519`` is this same KEM, so HPKE uses it natively when no
randomness is injected. With injected randomness, encapsulation is
EncapsulateDerand(pk, rng(64)), whose ML-KEM half is the plain-Python
`mlkem.encaps_internal`; without it, ``cryptography`` draws the ML-KEM
randomness and an X25519 key is generated natively.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from os import urandom
from typing import Any

from cryptography.hazmat.primitives import hpke as native
from cryptography.hazmat.primitives.asymmetric import mlkem, x25519

from ..errors import DecryptionError, ProtocolError, UsageError
from ..secret import Secret
from . import mlkem as mlkem_derand
from .kem import Rng

__all__ = [
    "CIPHERTEXT_LENGTH",
    "PRIVATE_KEY_LENGTH",
    "PUBLIC_KEY_LENGTH",
    "XWING",
    "XWingKem",
    "decapsulate",
    "encapsulate",
    "encapsulate_derand",
    "generate_key_pair_derand",
]

PRIVATE_KEY_LENGTH = 32
PUBLIC_KEY_LENGTH = 1216
CIPHERTEXT_LENGTH = 1120
_PK_M = 1184
_CT_M = 1088
XWING_LABEL = b"\\.//^\\"  # 5c2e2f2f5e5c

_CACHE = 64


class _Expanded:
    """expandDecapsulationKey(sk), loaded: the ML-KEM and X25519 key objects and the public key."""

    __slots__ = ("native", "pk", "pk_x", "sk_m", "sk_x")

    def __init__(self, seed: bytes) -> None:
        expanded = hashlib.shake_256(seed).digest(96)
        self.sk_m = mlkem.MLKEM768PrivateKey.from_seed_bytes(expanded[:64])
        self.sk_x = x25519.X25519PrivateKey.from_private_bytes(expanded[64:96])
        self.pk_x = self.sk_x.public_key().public_bytes_raw()
        self.pk = self.sk_m.public_key().public_bytes_raw() + self.pk_x
        self.native = native.MLKEM768X25519PrivateKey(self.sk_m, self.sk_x)


def _expand(seed: bytes) -> _Expanded:
    # Not cached: a private key must not outlive its use (RFC 9420 §16.6).
    if len(seed) != PRIVATE_KEY_LENGTH:
        raise ValueError(f"an X-Wing private key is {PRIVATE_KEY_LENGTH} bytes, got {len(seed)}")
    return _Expanded(seed)


@lru_cache(maxsize=_CACHE)
def _load_public(pk: bytes) -> tuple[mlkem.MLKEM768PublicKey, native.MLKEM768X25519PublicKey]:
    if len(pk) != PUBLIC_KEY_LENGTH:
        raise ValueError(f"an X-Wing public key is {PUBLIC_KEY_LENGTH} bytes, got {len(pk)}")
    # from_public_bytes performs the ML-KEM encapsulation key check (FIPS 203 §7.2).
    pk_m = mlkem.MLKEM768PublicKey.from_public_bytes(pk[:_PK_M])
    pk_x = x25519.X25519PublicKey.from_public_bytes(pk[_PK_M:])
    return pk_m, native.MLKEM768X25519PublicKey(pk_m, pk_x)


def _plain(key: bytes) -> bytes:
    return key if type(key) is bytes else bytes(key)


def _combiner(ss_m: bytes, ss_x: bytes, ct_x: bytes, pk_x: bytes) -> Secret:
    return Secret(hashlib.sha3_256(ss_m + ss_x + ct_x + pk_x + XWING_LABEL).digest())


def generate_key_pair_derand(seed: bytes) -> tuple[Secret, bytes]:
    """GenerateKeyPairDerand(sk): ``(sk, pk)`` for a 32-byte seed; raises `UsageError` otherwise."""
    try:
        return Secret(seed), _expand(_plain(seed)).pk
    except ValueError as exc:
        raise UsageError(f"invalid X-Wing private key: {exc}") from None


def encapsulate_derand(pk: bytes, eseed: bytes) -> tuple[Secret, bytes]:
    """EncapsulateDerand(pk, eseed) -> ``(ss, ct)``; ``eseed`` is 64 bytes.

    Raises `ProtocolError` if ``pk`` is malformed or fails the ML-KEM key check.
    """
    if len(eseed) != 64:
        raise UsageError("X-Wing encapsulation randomness is 64 bytes")
    if len(pk) != PUBLIC_KEY_LENGTH:
        raise ProtocolError(f"an X-Wing public key is {PUBLIC_KEY_LENGTH} bytes, got {len(pk)}", section="5.1.3")
    pk_m, pk_x = pk[:_PK_M], pk[_PK_M:]
    ss_m, ct_m = mlkem_derand.encaps_internal(pk_m, eseed[:32])
    ek_x = x25519.X25519PrivateKey.from_private_bytes(eseed[32:64])
    return _finish(ss_m, ct_m, ek_x, pk_x)


def encapsulate(pk: bytes) -> tuple[Secret, bytes]:
    """Encapsulate(pk) -> ``(ss, ct)`` with randomness from ``cryptography`` (OpenSSL)."""
    pk_m, _ = _public(pk)
    ss_m, ct_m = pk_m.encapsulate()
    return _finish(ss_m, ct_m, x25519.X25519PrivateKey.generate(), pk[_PK_M:])


def _finish(ss_m: bytes, ct_m: bytes, ek_x: x25519.X25519PrivateKey, pk_x: bytes) -> tuple[Secret, bytes]:
    ct_x = ek_x.public_key().public_bytes_raw()
    try:
        ss_x = ek_x.exchange(x25519.X25519PublicKey.from_public_bytes(pk_x))
    except ValueError as exc:  # a small-order X25519 point
        raise ProtocolError(f"X-Wing public key gives no X25519 secret: {exc}", section="5.1.3") from None
    return _combiner(ss_m, ss_x, ct_x, pk_x), ct_m + ct_x


def decapsulate(ct: bytes, sk: bytes) -> Secret:
    """Decapsulate(ct, sk); raises `DecryptionError` for a malformed ciphertext or key."""
    if len(ct) != CIPHERTEXT_LENGTH:
        raise DecryptionError(f"an X-Wing ciphertext is {CIPHERTEXT_LENGTH} bytes, got {len(ct)}", section="5.1.3")
    try:
        expanded = _expand(_plain(sk))
        ss_m = expanded.sk_m.decapsulate(ct[:_CT_M])
        ct_x = ct[_CT_M:]
        ss_x = expanded.sk_x.exchange(x25519.X25519PublicKey.from_public_bytes(ct_x))
    except ValueError as exc:
        raise DecryptionError(f"X-Wing decapsulation failed: {exc}", section="5.1.3") from None
    return _combiner(ss_m, ss_x, ct_x, expanded.pk_x)


def _public(pk: bytes) -> tuple[mlkem.MLKEM768PublicKey, native.MLKEM768X25519PublicKey]:
    try:
        return _load_public(_plain(pk))
    except ValueError as exc:
        raise ProtocolError(f"invalid X-Wing public key: {exc}", section="5.1.3") from None


class XWingKem:
    """X-Wing as an HPKE KEM (kem_id 0x647a), for `hpke.Hpke`."""

    name = "X-Wing"
    kem_id = 0x647A
    n_secret = 32
    n_enc = CIPHERTEXT_LENGTH
    n_pk = PUBLIC_KEY_LENGTH
    n_sk = PRIVATE_KEY_LENGTH
    native_kem: Any | None = native.KEM.MLKEM768_X25519

    def __repr__(self) -> str:
        return "<KEM X-Wing 0x647a>"

    def derive_key_pair(self, ikm: bytes) -> tuple[Secret, bytes]:
        """DeriveKeyPair(ikm) = GenerateKeyPairDerand(SHAKE256(ikm, 32 bytes)) (draft §5)."""
        return generate_key_pair_derand(hashlib.shake_256(ikm).digest(PRIVATE_KEY_LENGTH))

    def generate_key_pair(self, rng: Rng | None = None) -> tuple[Secret, bytes]:
        """GenerateKeyPair(): a random 32-byte seed, from ``rng`` if given."""
        return generate_key_pair_derand((rng or urandom)(PRIVATE_KEY_LENGTH))

    def public_key(self, private_key: bytes) -> bytes:
        return generate_key_pair_derand(private_key)[1]

    def encap(self, public_key: bytes, rng: Rng | None = None) -> tuple[Secret, bytes]:
        if rng is not None:
            return encapsulate_derand(public_key, rng(64))
        return encapsulate(public_key)

    def decap(self, enc: bytes, private_key: bytes) -> Secret:
        return decapsulate(enc, private_key)

    def native_private_key(self, private_key: bytes) -> Any:
        try:
            return _expand(_plain(private_key)).native
        except ValueError as exc:
            raise DecryptionError(f"invalid X-Wing private key: {exc}", section="5.1.3") from None

    def native_public_key(self, public_key: bytes) -> Any:
        return _public(public_key)[1]


XWING = XWingKem()
