"""RFC 9420 §5 — Cipher suites, and the labelled operations MLS builds on them.

A `CipherSuite` bundles the primitives of one suite (§5.1: KEM, KDF and AEAD
for HPKE; hash and HMAC; a signature scheme) and offers MLS's labelled
constructions on top:

=====================  ==========================================================
§5.1.2                 `sign_with_label`, `verify_with_label`
§5.1.3                 `encrypt_with_label`, `decrypt_with_label`; `encrypt_with_label_many`
§5.2                   `ref_hash` (the caller passes the whole label)
§8                     `expand_with_label`, `derive_secret`; §9.1 `derive_tree_secret`
§8.3                   `hpke_export_to`, `hpke_export_from` (external init)
=====================  ==========================================================

Everything takes and returns bytes; derived key material comes back as
`Secret`. Failures raise the typed errors of `calpico.mls.errors`: a bad
signature or MAC `VerificationError`, anything that stops a decryption
`DecryptionError`, an invalid key of our own `UsageError`, a remote public key
we cannot encrypt to `ProtocolError`. Randomness is injectable everywhere it
is used (``rng``, a ``Callable[[int], bytes]``, default `os.urandom`).

Which HPKE implementation runs is explained in `calpico.mls.crypto.hpke`: the
native ``cryptography.hpke`` for encryption without injected randomness and
for all decryption, the hand-written RFC 9180 code otherwise (X448, export,
injected randomness).
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from functools import lru_cache
from types import MappingProxyType
from typing import NamedTuple

from ..codec import encode_varint
from ..errors import UnsupportedError, UsageError, VerificationError
from ..secret import Secret
from . import aead, dhkem, kdf, signature, xwing
from .aead import Aead
from .hpke import Hpke
from .kdf import Kdf
from .kem import Kem, Rng
from .signature import SignatureScheme

__all__ = ["SUITES", "CipherSuite", "CipherSuiteId", "KeyPair", "get_suite"]


class CipherSuiteId(IntEnum):
    """MLS cipher suite code points (RFC 9420 §17.1, plus OpenMLS's X-Wing suite)."""

    MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519 = 0x0001
    MLS_128_DHKEMP256_AES128GCM_SHA256_P256 = 0x0002
    MLS_128_DHKEMX25519_CHACHA20POLY1305_SHA256_Ed25519 = 0x0003
    MLS_256_DHKEMX448_AES256GCM_SHA512_Ed448 = 0x0004
    MLS_256_DHKEMP521_AES256GCM_SHA512_P521 = 0x0005
    MLS_256_DHKEMX448_CHACHA20POLY1305_SHA512_Ed448 = 0x0006
    MLS_256_DHKEMP384_AES256GCM_SHA384_P384 = 0x0007
    # Not IANA-registered: OpenMLS's code point (draft-ietf-mls-pq-ciphersuites
    # leaves it TBD). HPKE KEM id 0x647a, as in hpke-rs >= 0.4.
    MLS_256_XWING_CHACHA20POLY1305_SHA256_Ed25519 = 0x004D


class KeyPair(NamedTuple):
    """A private key (its serialization, as a `Secret`) and its public key."""

    private_key: Secret
    public_key: bytes


_LABEL_PREFIX = b"MLS 1.0 "


@lru_cache(maxsize=128)
def _mls_label(label: bytes) -> bytes:
    """``opaque label<V> = "MLS 1.0 " + Label``, encoded (the labels are a small fixed set)."""
    full = _LABEL_PREFIX + label
    return encode_varint(len(full)) + full


# The one-byte varint of each length below 64: most contexts and contents are that short.
_SHORT_LENGTH = [bytes((n,)) for n in range(0x40)]


def _vl(value: bytes) -> bytes:
    n = len(value)
    return _SHORT_LENGTH[n] + value if n < 0x40 else encode_varint(n) + value


@dataclass(frozen=True, slots=True, eq=False)
class CipherSuite:
    """One MLS cipher suite (RFC 9420 §5.1). Obtain them from `SUITES` or `get_suite`."""

    suite_id: CipherSuiteId
    kem: Kem = field(repr=False)
    kdf: Kdf = field(repr=False)
    aead: Aead = field(repr=False)
    signature: SignatureScheme = field(repr=False)
    # The parameters, derived from the components (plain attributes: other modules read them per message).
    name: str = field(init=False, repr=False)
    """The §17.1 name, e.g. ``MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519``."""
    kem_id: int = field(init=False, repr=False)
    kdf_id: int = field(init=False, repr=False)
    aead_id: int = field(init=False, repr=False)
    nh: int = field(init=False, repr=False)
    """KDF.Nh, the hash output length."""
    nk: int = field(init=False, repr=False)
    """AEAD.Nk, the AEAD key length."""
    nn: int = field(init=False, repr=False)
    """AEAD.Nn, the AEAD nonce length."""
    hpke_enc_length: int = field(init=False, repr=False)
    """KEM.Nenc, the length of an HPKE ``kem_output``."""
    signature_scheme: str = field(init=False, repr=False)
    """The TLS 1.3 SignatureScheme name, e.g. ``ed25519``."""
    hpke: Hpke = field(init=False, repr=False)
    # The AEAD's own bound methods, so that message protection pays for no extra call.
    aead_seal: Callable[[bytes, bytes, bytes, bytes], bytes] = field(init=False, repr=False)
    """``aead_seal(key, nonce, aad, plaintext)``: AEAD.Seal; raises `UsageError` for a bad key or nonce length."""
    aead_open: Callable[[bytes, bytes, bytes, bytes], bytes] = field(init=False, repr=False)
    """``aead_open(key, nonce, aad, ciphertext)``: AEAD.Open; raises `DecryptionError` on any failure."""
    _hash_name: str = field(init=False, repr=False)
    _heads: dict[tuple[bytes, int], bytes] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        for attribute, value in {
            "name": self.suite_id.name,
            "kem_id": self.kem.kem_id,
            "kdf_id": self.kdf.kdf_id,
            "aead_id": self.aead.aead_id,
            "nh": self.kdf.nh,
            "nk": self.aead.nk,
            "nn": self.aead.nn,
            "hpke_enc_length": self.kem.n_enc,
            "signature_scheme": self.signature.name,
            "hpke": Hpke(self.kem, self.kdf, self.aead),
            "aead_seal": self.aead.seal,
            "aead_open": self.aead.open,
            "_hash_name": self.kdf.hash_name,
            "_heads": {},
        }.items():
            object.__setattr__(self, attribute, value)

    def _head(self, label: bytes, length: int) -> bytes:
        """``uint16 length ‖ opaque label<V>``: the fixed start of KDFLabel (§8), cached per (label, length)."""
        if not 0 <= length <= 0xFFFF:
            raise UsageError(f"ExpandWithLabel: length {length} does not fit in uint16")
        head = length.to_bytes(2, "big") + _mls_label(label)
        if len(self._heads) < 1024:  # labels are constants of the callers; bound it anyway
            self._heads[label, length] = head
        return head

    # --- hash and MAC -----------------------------------------------------------------

    def hash(self, data: bytes) -> bytes:
        """Hash(data) with the suite's hash function."""
        return self.kdf.hash(data)

    def mac(self, key: bytes, data: bytes) -> bytes:
        """MAC(key, data): HMAC with the suite's hash function."""
        return hmac.digest(key, data, self._hash_name)

    def verify_mac(self, key: bytes, data: bytes, tag: bytes) -> None:
        """Check ``tag`` == MAC(key, data) in constant time; raises `VerificationError`."""
        if not hmac.compare_digest(hmac.digest(key, data, self._hash_name), tag):
            raise VerificationError("MAC does not verify")

    # --- KDF (§5.1, §8, §9.1) --------------------------------------------------------

    def extract(self, salt: bytes, ikm: bytes) -> Secret:
        """KDF.Extract(salt, ikm)."""
        return self.kdf.extract(salt, ikm)

    def expand(self, prk: bytes, info: bytes, length: int) -> Secret:
        """KDF.Expand(prk, info, length); raises `UsageError` if ``length`` is out of range."""
        return self.kdf.expand(prk, info, length)

    def expand_with_label(self, secret: bytes, label: bytes, context: bytes, length: int) -> Secret:
        """ExpandWithLabel(Secret, Label, Context, Length) (§8); ``label`` without the "MLS 1.0 " prefix."""
        head = self._heads.get((label, length)) or self._head(label, length)
        n = len(context)
        if length <= self.nh and n < 0x40:
            # The common case, inlined: one HKDF-Expand block, T(1) = HMAC(secret, info ‖ 0x01).
            block = hmac.digest(secret, head + _SHORT_LENGTH[n] + context + b"\x01", self._hash_name)
            return Secret(block if length == self.nh else block[:length])
        return self.kdf.expand(secret, head + _vl(context), length)

    def derive_secret(self, secret: bytes, label: bytes) -> Secret:
        """DeriveSecret(Secret, Label) = ExpandWithLabel(Secret, Label, "", Nh) (§8)."""
        nh = self.nh
        head = self._heads.get((label, nh)) or self._head(label, nh)
        return Secret(hmac.digest(secret, head + b"\x00\x01", self._hash_name))

    def derive_tree_secret(self, secret: bytes, label: bytes, generation: int, length: int) -> Secret:
        """DeriveTreeSecret(Secret, Label, Generation, Length) (§9.1), generation a uint32."""
        try:
            context = generation.to_bytes(4, "big")
        except OverflowError:
            raise UsageError(f"DeriveTreeSecret: generation {generation} does not fit in uint32") from None
        return self.expand_with_label(secret, label, context, length)

    def ref_hash(self, label: bytes, value: bytes) -> bytes:
        """RefHash(label, value) = Hash(RefHashInput) (§5.2); ``label`` is used as given."""
        return self.kdf.hash(_vl(label) + _vl(value))

    # --- signatures (§5.1.2) ----------------------------------------------------------

    def generate_signature_key_pair(self, rng: Rng | None = None) -> KeyPair:
        """A fresh signature key pair, drawing from ``rng``."""
        private_key = self.signature.generate(rng)
        return KeyPair(private_key, self.signature.public_key(private_key))

    def signature_public_key(self, private_key: bytes) -> bytes:
        """The public key of ``private_key``; raises `UsageError` if it is invalid."""
        return self.signature.public_key(private_key)

    def sign_with_label(self, private_key: bytes, label: bytes, content: bytes) -> bytes:
        """SignWithLabel(SignatureKey, Label, Content); raises `UsageError` for an invalid key."""
        return self.signature.sign(private_key, _mls_label(label) + _vl(content))

    def verify_with_label(self, public_key: bytes, label: bytes, content: bytes, signature: bytes) -> None:
        """VerifyWithLabel; raises `VerificationError` for a bad signature or malformed key."""
        self.signature.verify(public_key, _mls_label(label) + _vl(content), signature)

    # --- HPKE (§5.1.3, §8.3) ----------------------------------------------------------

    def derive_key_pair(self, ikm: bytes) -> KeyPair:
        """KEM.DeriveKeyPair(ikm) (RFC 9180 §7.1.3; X-Wing's own rule for 0x004D)."""
        return KeyPair(*self.kem.derive_key_pair(ikm))

    def generate_hpke_key_pair(self, rng: Rng | None = None) -> KeyPair:
        """A fresh HPKE key pair, drawing from ``rng``."""
        return KeyPair(*self.kem.generate_key_pair(rng))

    def hpke_public_key(self, private_key: bytes) -> bytes:
        """The HPKE public key of ``private_key``; raises `UsageError` if it is invalid."""
        return self.kem.public_key(private_key)

    def encrypt_with_label(
        self, public_key: bytes, label: bytes, context: bytes, plaintext: bytes, rng: Rng | None = None
    ) -> tuple[bytes, bytes]:
        """EncryptWithLabel -> ``(kem_output, ciphertext)``.

        Raises `ProtocolError` if ``public_key`` is not a valid key of the suite's KEM.
        """
        info = _mls_label(label) + _vl(context)
        if rng is None and self.hpke.native is not None:
            return self.hpke.seal_native(public_key, info, plaintext)
        return self.hpke.seal(public_key, info, b"", plaintext, rng)

    def encrypt_with_label_many(
        self, label: bytes, context: bytes, recipients: Sequence[tuple[bytes, bytes]], rng: Rng | None = None
    ) -> list[tuple[bytes, bytes]]:
        """EncryptWithLabel(pk, label, context, pt) for each ``(pk, pt)`` -> ``(kem_output, ciphertext)`` each.

        One EncryptContext for all: the HPKE key schedule's info part is
        computed once (`Hpke.seal_many`), which matters when ``context`` is
        large (a Welcome's is the encrypted GroupInfo). Recipients draw their
        ephemeral keys from ``rng`` in order. Raises `ProtocolError` if a
        public key is not valid for the suite's KEM.
        """
        return self.hpke.seal_many(_mls_label(label) + _vl(context), recipients, rng)

    def decrypt_with_label(
        self, private_key: bytes, label: bytes, context: bytes, kem_output: bytes, ciphertext: bytes
    ) -> bytes:
        """DecryptWithLabel; raises `DecryptionError` on any failure, malformed keys included."""
        info = _mls_label(label) + _vl(context)
        if self.hpke.native is not None:
            return self.hpke.open_native(kem_output, private_key, info, ciphertext)
        return self.hpke.open(kem_output, private_key, info, b"", ciphertext)

    def hpke_export_to(
        self, public_key: bytes, info: bytes, exporter_context: bytes, length: int, rng: Rng | None = None
    ) -> tuple[bytes, Secret]:
        """SetupBaseS(pkR, info) then Export(exporter_context, length) -> ``(kem_output, secret)``.

        Raises `ProtocolError` for an invalid ``public_key``, `UsageError` for a bad ``length``.
        """
        enc, context = self.hpke.setup_base_s(public_key, info, rng)
        return enc, self.hpke.export(context, exporter_context, length)

    def hpke_export_from(
        self, private_key: bytes, kem_output: bytes, info: bytes, exporter_context: bytes, length: int
    ) -> Secret:
        """SetupBaseR(kem_output, skR, info) then Export; raises `DecryptionError` on failure."""
        context = self.hpke.setup_base_r(kem_output, private_key, info)
        return self.hpke.export(context, exporter_context, length)


_ID = CipherSuiteId
_suite = CipherSuite
SUITES: Mapping[int, CipherSuite] = MappingProxyType(
    {
        suite.suite_id: suite
        for suite in (
            _suite(
                _ID.MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519,
                dhkem.DHKEM_X25519,
                kdf.HKDF_SHA256,
                aead.AES_128_GCM,
                signature.ED25519,
            ),
            _suite(
                _ID.MLS_128_DHKEMP256_AES128GCM_SHA256_P256,
                dhkem.DHKEM_P256,
                kdf.HKDF_SHA256,
                aead.AES_128_GCM,
                signature.ECDSA_P256_SHA256,
            ),
            _suite(
                _ID.MLS_128_DHKEMX25519_CHACHA20POLY1305_SHA256_Ed25519,
                dhkem.DHKEM_X25519,
                kdf.HKDF_SHA256,
                aead.CHACHA20_POLY1305,
                signature.ED25519,
            ),
            _suite(
                _ID.MLS_256_DHKEMX448_AES256GCM_SHA512_Ed448,
                dhkem.DHKEM_X448,
                kdf.HKDF_SHA512,
                aead.AES_256_GCM,
                signature.ED448,
            ),
            _suite(
                _ID.MLS_256_DHKEMP521_AES256GCM_SHA512_P521,
                dhkem.DHKEM_P521,
                kdf.HKDF_SHA512,
                aead.AES_256_GCM,
                signature.ECDSA_P521_SHA512,
            ),
            _suite(
                _ID.MLS_256_DHKEMX448_CHACHA20POLY1305_SHA512_Ed448,
                dhkem.DHKEM_X448,
                kdf.HKDF_SHA512,
                aead.CHACHA20_POLY1305,
                signature.ED448,
            ),
            _suite(
                _ID.MLS_256_DHKEMP384_AES256GCM_SHA384_P384,
                dhkem.DHKEM_P384,
                kdf.HKDF_SHA384,
                aead.AES_256_GCM,
                signature.ECDSA_P384_SHA384,
            ),
            _suite(
                _ID.MLS_256_XWING_CHACHA20POLY1305_SHA256_Ed25519,
                xwing.XWING,
                kdf.HKDF_SHA256,
                aead.CHACHA20_POLY1305,
                signature.ED25519,
            ),
        )
    }
)
"""Every supported cipher suite, by id."""


def get_suite(suite_id: int) -> CipherSuite:
    """The suite with this id; raises `UnsupportedError` naming the id if we do not implement it."""
    suite = SUITES.get(suite_id)
    if suite is None:
        raise UnsupportedError(f"cipher suite 0x{suite_id:04X} is not supported")
    return suite
