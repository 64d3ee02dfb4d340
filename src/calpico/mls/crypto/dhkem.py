"""RFC 9180 §4.1 DHKEM over X25519, X448, P-256, P-384 and P-521.

``cryptography`` exposes the Diffie-Hellman functions but not the KEM around
them (nor X448 in its HPKE module, nor DeriveKeyPair), so the KEM is written
here from the RFC:

- Encap draws an ephemeral key pair, computes ``dh = DH(skE, pkR)`` and
  ``shared_secret = ExtractAndExpand(dh, enc || pkRm)``; Decap mirrors it.
- DeriveKeyPair (§7.1.3): ``dkp_prk = LabeledExtract("", "dkp_prk", ikm)``,
  then ``LabeledExpand(dkp_prk, "sk", "", Nsk)`` for X25519/X448 (clamping is
  the DH function's job), or rejection sampling over
  ``LabeledExpand(dkp_prk, "candidate", I2OSP(counter, 1), Nsk)`` with the top
  byte masked (0x01 for P-521) for the NIST curves.
- With an injected ``rng`` the ephemeral key is ``DeriveKeyPair(rng(Nsk))``,
  which is how RFC 9180's test vectors are built (``ikmE``); without one, the
  native generator of ``cryptography`` is used.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

from cryptography.hazmat.primitives import hpke as native
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, x448, x25519

from ..errors import DecryptionError, ProtocolError, UsageError
from ..secret import Secret
from .kdf import HKDF_SHA256, HKDF_SHA384, HKDF_SHA512, Kdf, i2osp
from .kem import Rng
from .signature import ECDSA_P256_SHA256, ECDSA_P384_SHA384, ECDSA_P521_SHA512

__all__ = ["DHKEM_P256", "DHKEM_P384", "DHKEM_P521", "DHKEM_X448", "DHKEM_X25519", "DHKem"]

_CACHE = 256
_X962 = (serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)


def _plain(key: bytes) -> bytes:
    return key if type(key) is bytes else bytes(key)


class DHKem:
    """DHKEM(Group, HKDF) of RFC 9180 §4.1; subclasses supply the group."""

    native_kem: Any | None

    def __init__(self, name: str, kem_id: int, kdf: Kdf, n_pk: int, n_sk: int, native_kem: Any | None) -> None:
        self.name = name
        self.kem_id = kem_id
        self.kdf = kdf
        self.n_secret = kdf.nh
        self.n_enc = n_pk
        self.n_pk = n_pk
        self.n_sk = n_sk
        self.native_kem = native_kem
        self.suite_id = b"KEM" + i2osp(kem_id, 2)
        # Public keys are cached by their serialization; private keys are loaded per
        # use and never cached, so a replaced path key does not linger (RFC 9420 §16.6).
        self._private: Callable[[bytes], tuple[Any, bytes]] = self._load_private
        self._public: Callable[[bytes], Any] = lru_cache(maxsize=_CACHE)(self._load_public)

    def __repr__(self) -> str:
        return f"<KEM {self.name} 0x{self.kem_id:04x}>"

    # --- the group, supplied by subclasses -------------------------------------------

    def _load_private(self, raw: bytes) -> tuple[Any, bytes]:
        raise NotImplementedError

    def _load_public(self, raw: bytes) -> Any:
        raise NotImplementedError

    def _generate(self) -> Any:
        raise NotImplementedError

    def _dh(self, private: Any, public: Any) -> bytes:
        raise NotImplementedError

    def _serialize_public(self, private: Any) -> bytes:
        raise NotImplementedError

    def _private_from_dkp_prk(self, dkp_prk: bytes) -> bytes:
        raise NotImplementedError

    # --- RFC 9180 §4.1 and §7.1.3 -----------------------------------------------------

    def derive_key_pair(self, ikm: bytes) -> tuple[Secret, bytes]:
        """DeriveKeyPair(ikm) (RFC 9180 §7.1.3)."""
        dkp_prk = self.kdf.labeled_extract(self.suite_id, b"", b"dkp_prk", ikm)
        sk = Secret(self._private_from_dkp_prk(dkp_prk))
        return sk, self.public_key(sk)

    def generate_key_pair(self, rng: Rng | None = None) -> tuple[Secret, bytes]:
        """GenerateKeyPair(): DeriveKeyPair over ``Nsk`` bytes from ``rng``, or native generation."""
        if rng is not None:
            return self.derive_key_pair(rng(self.n_sk))
        private = self._generate()
        return Secret(self._serialize_private(private)), self._serialize_public(private)

    def _serialize_private(self, private: Any) -> bytes:
        raise NotImplementedError

    def public_key(self, private_key: bytes) -> bytes:
        """SerializePublicKey(pk(sk)); raises `UsageError` for an invalid private key."""
        try:
            return self._private(_plain(private_key))[1]
        except (ValueError, TypeError) as exc:
            raise UsageError(f"invalid {self.name} private key: {exc}") from None

    def encap(self, public_key: bytes, rng: Rng | None = None) -> tuple[Secret, bytes]:
        """Encap(pkR) -> (shared_secret, enc); raises `ProtocolError` for an invalid ``pkR``."""
        recipient = self.native_public_key(public_key)
        if rng is not None:
            sk_e, enc = self.derive_key_pair(rng(self.n_sk))
            ephemeral = self._load_private(_plain(sk_e))[0]  # not cached: used once
        else:
            ephemeral = self._generate()
            enc = self._serialize_public(ephemeral)
        try:
            dh = self._dh(ephemeral, recipient)
        except ValueError as exc:  # e.g. an X25519 key of small order
            raise ProtocolError(f"{self.name} public key gives no shared secret: {exc}", section="5.1.3") from None
        return self._extract_and_expand(dh, enc + public_key), enc

    def decap(self, enc: bytes, private_key: bytes) -> Secret:
        """Decap(enc, skR); raises `DecryptionError` on any failure."""
        try:
            ephemeral = self._public(_plain(enc))
            private, public = self._private(_plain(private_key))
            dh = self._dh(private, ephemeral)
        except (ValueError, TypeError) as exc:
            raise DecryptionError(f"{self.name} decapsulation failed: {exc}", section="5.1.3") from None
        return self._extract_and_expand(dh, enc + public)

    def _extract_and_expand(self, dh: bytes, kem_context: bytes) -> Secret:
        eae_prk = self.kdf.labeled_extract(self.suite_id, b"", b"eae_prk", dh)
        return self.kdf.labeled_expand(self.suite_id, eae_prk, b"shared_secret", kem_context, self.n_secret)

    def native_private_key(self, private_key: bytes) -> Any:
        """The loaded private key object; raises `DecryptionError` if invalid."""
        try:
            return self._private(_plain(private_key))[0]
        except (ValueError, TypeError) as exc:
            raise DecryptionError(f"invalid {self.name} private key: {exc}", section="5.1.3") from None

    def native_public_key(self, public_key: bytes) -> Any:
        """The loaded public key object; raises `ProtocolError` if invalid."""
        try:
            return self._public(_plain(public_key))
        except (ValueError, TypeError) as exc:
            raise ProtocolError(f"invalid {self.name} public key: {exc}", section="5.1.3") from None


class _XDHKem(DHKem):
    """DHKEM over X25519 or X448 (RFC 7748), raw keys."""

    def __init__(self, name: str, kem_id: int, kdf: Kdf, n: int, module: Any, native_kem: Any | None) -> None:
        super().__init__(name, kem_id, kdf, n, n, native_kem)
        prefix = "X25519" if module is x25519 else "X448"
        self._private_cls = getattr(module, f"{prefix}PrivateKey")
        self._public_cls = getattr(module, f"{prefix}PublicKey")

    def _load_private(self, raw: bytes) -> tuple[Any, bytes]:
        key = self._private_cls.from_private_bytes(raw)
        return key, key.public_key().public_bytes_raw()

    def _load_public(self, raw: bytes) -> Any:
        return self._public_cls.from_public_bytes(raw)

    def _generate(self) -> Any:
        return self._private_cls.generate()

    def _dh(self, private: Any, public: Any) -> bytes:
        result: bytes = private.exchange(public)
        return result

    def _serialize_public(self, private: Any) -> bytes:
        result: bytes = private.public_key().public_bytes_raw()
        return result

    def _serialize_private(self, private: Any) -> bytes:
        result: bytes = private.private_bytes_raw()
        return result

    def _private_from_dkp_prk(self, dkp_prk: bytes) -> bytes:
        return self.kdf.labeled_expand(self.suite_id, dkp_prk, b"sk", b"", self.n_sk)


class _ECDHKem(DHKem):
    """DHKEM over a NIST curve: big-endian scalars, uncompressed X9.62 points."""

    def __init__(
        self, name: str, kem_id: int, kdf: Kdf, curve: ec.EllipticCurve, order: int, native_kem: Any | None
    ) -> None:
        n_sk = (curve.key_size + 7) // 8
        super().__init__(name, kem_id, kdf, 2 * n_sk + 1, n_sk, native_kem)
        self.curve = curve
        self.order = order
        self.bitmask = 0x01 if curve.key_size == 521 else 0xFF

    def _load_private(self, raw: bytes) -> tuple[Any, bytes]:
        if len(raw) != self.n_sk:
            raise ValueError(f"a {self.name} private key is {self.n_sk} bytes, got {len(raw)}")
        key = ec.derive_private_key(int.from_bytes(raw, "big"), self.curve)
        return key, key.public_key().public_bytes(*_X962)

    def _load_public(self, raw: bytes) -> Any:
        if len(raw) != self.n_pk or raw[0] != 0x04:
            raise ValueError(f"a {self.name} public key is an uncompressed point of {self.n_pk} bytes")
        return ec.EllipticCurvePublicKey.from_encoded_point(self.curve, raw)

    def _generate(self) -> Any:
        return ec.generate_private_key(self.curve)

    def _dh(self, private: Any, public: Any) -> bytes:
        result: bytes = private.exchange(ec.ECDH(), public)
        return result

    def _serialize_public(self, private: Any) -> bytes:
        result: bytes = private.public_key().public_bytes(*_X962)
        return result

    def _serialize_private(self, private: Any) -> bytes:
        return i2osp(private.private_numbers().private_value, self.n_sk)

    def _private_from_dkp_prk(self, dkp_prk: bytes) -> bytes:
        for counter in range(256):
            candidate = bytearray(
                self.kdf.labeled_expand(self.suite_id, dkp_prk, b"candidate", i2osp(counter, 1), self.n_sk)
            )
            candidate[0] &= self.bitmask
            if 0 < int.from_bytes(candidate, "big") < self.order:
                return bytes(candidate)
        # Probability below 2^-256 for every curve here.
        raise ProtocolError("DeriveKeyPairError: no valid scalar in 256 candidates")


DHKEM_P256 = _ECDHKem(
    "DHKEM(P-256, HKDF-SHA256)", 0x0010, HKDF_SHA256, ec.SECP256R1(), ECDSA_P256_SHA256.order, native.KEM.P256
)
DHKEM_P384 = _ECDHKem(
    "DHKEM(P-384, HKDF-SHA384)", 0x0011, HKDF_SHA384, ec.SECP384R1(), ECDSA_P384_SHA384.order, native.KEM.P384
)
DHKEM_P521 = _ECDHKem(
    "DHKEM(P-521, HKDF-SHA512)", 0x0012, HKDF_SHA512, ec.SECP521R1(), ECDSA_P521_SHA512.order, native.KEM.P521
)
DHKEM_X25519 = _XDHKem("DHKEM(X25519, HKDF-SHA256)", 0x0020, HKDF_SHA256, 32, x25519, native.KEM.X25519)
DHKEM_X448 = _XDHKem("DHKEM(X448, HKDF-SHA512)", 0x0021, HKDF_SHA512, 56, x448, None)
