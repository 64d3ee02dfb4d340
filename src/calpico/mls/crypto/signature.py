"""The signature schemes of the MLS suites (RFC 9420 §5.1.2, TLS 1.3 names).

Key formats are those of the MLS test vectors: EdDSA private keys are the raw
seed (32 bytes for Ed25519, 57 for Ed448) and public keys the raw point; an
ECDSA private key is the big-endian scalar (Field-Element-to-Octet-String, of
the curve's field length), its public key the X9.62 uncompressed point, and
its signatures are DER-encoded. ECDSA signs deterministically (RFC 6979), so
signing needs no randomness and a given key and message give one signature.

Loading a key means parsing it and, for a private key, a scalar
multiplication; the loaded objects are kept in LRU caches keyed by the key
bytes, because a member signs with one key and verifies a handful of others
for the life of a group.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from os import urandom
from typing import Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519

from ..errors import UsageError, VerificationError
from ..secret import Secret

__all__ = ["ECDSA_P256_SHA256", "ECDSA_P384_SHA384", "ECDSA_P521_SHA512", "ED448", "ED25519", "SignatureScheme"]

Rng = Callable[[int], bytes]
_CACHE = 256
_X962 = (serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)


def _plain(key: bytes) -> bytes:
    # Secret is unhashable on purpose; caches key on a plain copy.
    return key if type(key) is bytes else bytes(key)


class SignatureScheme(Protocol):
    """What `CipherSuite` needs of a signature algorithm."""

    name: str

    def generate(self, rng: Rng | None) -> Secret: ...

    def public_key(self, private_key: bytes) -> bytes: ...

    def sign(self, private_key: bytes, message: bytes) -> bytes: ...

    def verify(self, public_key: bytes, message: bytes, signature: bytes) -> None: ...


# --- EdDSA (RFC 8032) ---------------------------------------------------------------


@lru_cache(maxsize=_CACHE)
def _ed25519_private(seed: bytes) -> ed25519.Ed25519PrivateKey:
    return ed25519.Ed25519PrivateKey.from_private_bytes(seed)


@lru_cache(maxsize=_CACHE)
def _ed25519_public(raw: bytes) -> ed25519.Ed25519PublicKey:
    return ed25519.Ed25519PublicKey.from_public_bytes(raw)


@lru_cache(maxsize=_CACHE)
def _ed448_private(seed: bytes) -> ed448.Ed448PrivateKey:
    return ed448.Ed448PrivateKey.from_private_bytes(seed)


@lru_cache(maxsize=_CACHE)
def _ed448_public(raw: bytes) -> ed448.Ed448PublicKey:
    return ed448.Ed448PublicKey.from_public_bytes(raw)


class _EdDSA:
    """Ed25519 or Ed448 (pure, no context), raw keys."""

    __slots__ = ("_load_private", "_load_public", "name", "seed_length")

    def __init__(
        self,
        name: str,
        seed_length: int,
        load_private: Callable[[bytes], ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey],
        load_public: Callable[[bytes], ed25519.Ed25519PublicKey | ed448.Ed448PublicKey],
    ) -> None:
        self.name = name
        self.seed_length = seed_length
        self._load_private = load_private
        self._load_public = load_public

    def generate(self, rng: Rng | None) -> Secret:
        # Every string of seed_length bytes is a valid EdDSA private key.
        return Secret((rng or urandom)(self.seed_length))

    def _private(self, private_key: bytes) -> ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey:
        try:
            return self._load_private(_plain(private_key))
        except (ValueError, TypeError) as exc:
            raise UsageError(f"invalid {self.name} private key: {exc}") from None

    def public_key(self, private_key: bytes) -> bytes:
        return self._private(private_key).public_key().public_bytes_raw()

    def sign(self, private_key: bytes, message: bytes) -> bytes:
        return self._private(private_key).sign(message)

    def verify(self, public_key: bytes, message: bytes, signature: bytes) -> None:
        try:
            self._load_public(_plain(public_key)).verify(signature, message)
        except InvalidSignature:
            raise VerificationError(f"{self.name} signature does not verify", section="5.1.2") from None
        except (ValueError, TypeError) as exc:
            raise VerificationError(f"invalid {self.name} public key: {exc}", section="5.1.2") from None


# --- ECDSA (FIPS 186-5, RFC 6979 nonces) ---------------------------------------------


@lru_cache(maxsize=_CACHE)
def _ec_private(scalar: bytes, curve: ec.EllipticCurve) -> ec.EllipticCurvePrivateKey:
    return ec.derive_private_key(int.from_bytes(scalar, "big"), curve)


@lru_cache(maxsize=_CACHE)
def _ec_public(point: bytes, curve: ec.EllipticCurve) -> ec.EllipticCurvePublicKey:
    return ec.EllipticCurvePublicKey.from_encoded_point(curve, point)


class _ECDSA:
    """ECDSA on a NIST curve with the hash TLS 1.3 pairs it with."""

    __slots__ = ("_algorithm", "_curve", "name", "order", "scalar_length", "top_mask")

    def __init__(self, name: str, curve: ec.EllipticCurve, hash_algorithm: hashes.HashAlgorithm, order: int) -> None:
        self.name = name
        self._curve = curve
        self._algorithm = ec.ECDSA(hash_algorithm, deterministic_signing=True)
        self.order = order
        self.scalar_length = (curve.key_size + 7) // 8
        self.top_mask = (1 << (curve.key_size % 8 or 8)) - 1

    def generate(self, rng: Rng | None) -> Secret:
        draw = rng or urandom
        while True:  # rejection sampling: uniform in [1, order)
            candidate = bytearray(draw(self.scalar_length))
            candidate[0] &= self.top_mask
            if 0 < int.from_bytes(candidate, "big") < self.order:
                return Secret(candidate)

    def _private(self, private_key: bytes) -> ec.EllipticCurvePrivateKey:
        if len(private_key) != self.scalar_length:
            raise UsageError(f"a {self.name} private key is {self.scalar_length} bytes, got {len(private_key)}")
        try:
            return _ec_private(_plain(private_key), self._curve)
        except (ValueError, TypeError) as exc:
            raise UsageError(f"invalid {self.name} private key: {exc}") from None

    def public_key(self, private_key: bytes) -> bytes:
        return self._private(private_key).public_key().public_bytes(*_X962)

    def sign(self, private_key: bytes, message: bytes) -> bytes:
        return self._private(private_key).sign(message, self._algorithm)

    def verify(self, public_key: bytes, message: bytes, signature: bytes) -> None:
        try:
            self._public(public_key).verify(signature, message, self._algorithm)
        except InvalidSignature:
            raise VerificationError(f"{self.name} signature does not verify", section="5.1.2") from None
        except (ValueError, TypeError) as exc:
            raise VerificationError(f"malformed {self.name} signature: {exc}", section="5.1.2") from None

    def _public(self, public_key: bytes) -> ec.EllipticCurvePublicKey:
        # RFC 9420 §5.1.1: uncompressed points only.
        if len(public_key) != 2 * self.scalar_length + 1 or public_key[:1] != b"\x04":
            raise VerificationError(f"a {self.name} public key must be an uncompressed point", section="5.1.1")
        try:
            return _ec_public(_plain(public_key), self._curve)
        except (ValueError, TypeError) as exc:
            raise VerificationError(f"invalid {self.name} public key: {exc}", section="5.1.1") from None


ED25519 = _EdDSA("ed25519", 32, _ed25519_private, _ed25519_public)
ED448 = _EdDSA("ed448", 57, _ed448_private, _ed448_public)
ECDSA_P256_SHA256 = _ECDSA(
    "ecdsa_secp256r1_sha256",
    ec.SECP256R1(),
    hashes.SHA256(),
    0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551,
)
ECDSA_P384_SHA384 = _ECDSA(
    "ecdsa_secp384r1_sha384",
    ec.SECP384R1(),
    hashes.SHA384(),
    0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF581A0DB248B0A77AECEC196ACCC52973,
)
ECDSA_P521_SHA512 = _ECDSA(
    "ecdsa_secp521r1_sha512",
    ec.SECP521R1(),
    hashes.SHA512(),
    0x01FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFA51868783BF2F966B7FCC0148F709A5D03BB5C9B8899C47AEBB6FB71E91386409,
)
