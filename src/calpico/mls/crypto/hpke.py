"""RFC 9180 HPKE in base mode, as MLS uses it (RFC 9420 §5.1.3, §8.3).

MLS only ever seals one message per HPKE context (sequence number 0, so the
nonce is ``base_nonce``), with empty AAD, and exports once for external
commits. This module provides exactly that, in two implementations:

native
    ``cryptography.hpke.Suite.encrypt``/``decrypt``: one call into Rust and
    OpenSSL. Used for single-shot encryption when no randomness is injected and
    for every decryption, whenever ``cryptography`` has the KEM (all but X448).
hand-written
    `setup_base_s`/`setup_base_r` below (the §5.1 key schedule over our `Kem`
    and `Kdf`), then the AEAD. Used whenever randomness is injected (the
    native module draws its own ephemeral key), for X448 always, and for
    the secret export (§5.3), which ``cryptography`` does not offer.

The two produce the same bytes from the same ephemeral key, which the tests
check in both directions and against RFC 9180's and MLS's vectors.

Sealing to many recipients under one ``info`` (`Hpke.seal_many`, for a
Welcome's GroupSecrets and an UpdatePath's ciphertexts) prepares the key
schedule once: of RFC 9180's §5.1 KeySchedule, ``key_schedule_context =
mode ‖ psk_id_hash ‖ info_hash`` depends only on ``info``, and for a
Welcome that info holds the whole encrypted GroupInfo (ratchet tree
included), so hashing it for each recipient would cost O(members × tree).
Each recipient then costs one encapsulation, two labelled expansions from
its own shared secret, and the AEAD seal. For a short ``info`` the native
one-shot call, which hashes it again, is cheaper than the Python steps.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hpke as native

from ..errors import DecryptionError, ProtocolError
from ..secret import Secret
from .aead import Aead
from .kdf import Kdf, i2osp
from .kem import Kem, Rng

__all__ = ["Context", "Hpke"]

MODE_BASE = b"\x00"

# Above this length of ``info``, `Hpke.seal_many` hashes it once instead of calling the
# native one-shot seal per recipient (which hashes it each time).
LARGE_INFO = 2048


@dataclass(frozen=True, slots=True)
class Context:
    """The outcome of the RFC 9180 §5.1 key schedule (base mode, sequence 0)."""

    key: Secret
    base_nonce: Secret
    exporter_secret: Secret


class Hpke:
    """One HPKE suite (KEM, KDF, AEAD) in base mode."""

    def __init__(self, kem: Kem, kdf: Kdf, aead: Aead) -> None:
        self.kem = kem
        self.kdf = kdf
        self.aead = aead
        self.suite_id = b"HPKE" + i2osp(kem.kem_id, 2) + i2osp(kdf.kdf_id, 2) + i2osp(aead.aead_id, 2)
        # §5.1: psk_id_hash is the same for every base-mode context of this suite.
        self._psk_id_hash = kdf.labeled_extract(self.suite_id, b"", b"psk_id_hash", b"")
        self.native: native.Suite | None = None
        if kem.native_kem is not None:
            native_kdf = {1: native.KDF.HKDF_SHA256, 2: native.KDF.HKDF_SHA384, 3: native.KDF.HKDF_SHA512}
            native_aead = {1: native.AEAD.AES_128_GCM, 2: native.AEAD.AES_256_GCM, 3: native.AEAD.CHACHA20_POLY1305}
            self.native = native.Suite(kem.native_kem, native_kdf[kdf.kdf_id], native_aead[aead.aead_id])

    # --- §5.1 key schedule ------------------------------------------------------------

    def key_schedule_context(self, info: bytes) -> bytes:
        """``mode_base ‖ psk_id_hash ‖ LabeledExtract("", "info_hash", info)``: the part of
        KeySchedule (§5.1) that depends on ``info`` alone, so it can serve many recipients."""
        return MODE_BASE + self._psk_id_hash + self.kdf.labeled_extract(self.suite_id, b"", b"info_hash", info)

    def key_schedule(self, shared_secret: bytes, info: bytes) -> Context:
        """KeySchedule(mode_base, shared_secret, info, "", "")."""
        kdf, suite_id = self.kdf, self.suite_id
        context = self.key_schedule_context(info)
        secret = kdf.labeled_extract(suite_id, shared_secret, b"secret", b"")
        return Context(
            key=kdf.labeled_expand(suite_id, secret, b"key", context, self.aead.nk),
            base_nonce=kdf.labeled_expand(suite_id, secret, b"base_nonce", context, self.aead.nn),
            exporter_secret=kdf.labeled_expand(suite_id, secret, b"exp", context, kdf.nh),
        )

    def setup_base_s(self, public_key: bytes, info: bytes, rng: Rng | None = None) -> tuple[bytes, Context]:
        """SetupBaseS(pkR, info) -> ``(enc, context)``; raises `ProtocolError` for a bad ``pkR``."""
        shared_secret, enc = self.kem.encap(public_key, rng)
        return enc, self.key_schedule(shared_secret, info)

    def setup_base_r(self, enc: bytes, private_key: bytes, info: bytes) -> Context:
        """SetupBaseR(enc, skR, info); raises `DecryptionError` on any failure."""
        if len(enc) != self.kem.n_enc:
            raise DecryptionError(f"{self.kem.name}: enc is {self.kem.n_enc} bytes, got {len(enc)}", section="5.1.3")
        return self.key_schedule(self.kem.decap(enc, private_key), info)

    def export(self, context: Context, exporter_context: bytes, length: int) -> Secret:
        """Context.Export(exporter_context, L) (§5.3)."""
        return self.kdf.labeled_expand(self.suite_id, context.exporter_secret, b"sec", exporter_context, length)

    # --- single-shot APIs (§6.1), sequence number 0 ----------------------------------

    def seal(
        self, public_key: bytes, info: bytes, aad: bytes, plaintext: bytes, rng: Rng | None = None
    ) -> tuple[bytes, bytes]:
        """SealBase(pkR, info, aad, pt) -> ``(enc, ct)``, hand-written path."""
        enc, context = self.setup_base_s(public_key, info, rng)
        return enc, self.aead.seal(context.key, context.base_nonce, aad, plaintext)

    def open(self, enc: bytes, private_key: bytes, info: bytes, aad: bytes, ciphertext: bytes) -> bytes:
        """OpenBase(enc, skR, info, aad, ct), hand-written path; raises `DecryptionError`."""
        context = self.setup_base_r(enc, private_key, info)
        return self.aead.open(context.key, context.base_nonce, aad, ciphertext)

    def seal_many(
        self, info: bytes, recipients: Sequence[tuple[bytes, bytes]], rng: Rng | None = None
    ) -> list[tuple[bytes, bytes]]:
        """SealBase(pkR, info, "", pt) -> ``(enc, ct)`` for each ``(pkR, pt)`` of ``recipients``, in order.

        The same bytes as `seal` per recipient for the same randomness (each
        recipient draws its ephemeral key from ``rng`` in turn), with the
        info-dependent part of the key schedule computed once (see the module
        docstring). Without ``rng`` and for a short ``info`` it uses the
        native one-shot seal. Raises `ProtocolError` for an invalid ``pkR``.
        """
        if rng is None and self.native is not None and len(info) < LARGE_INFO:
            return [self.seal_native(public_key, info, plaintext) for public_key, plaintext in recipients]
        kem, kdf, aead, suite_id = self.kem, self.kdf, self.aead, self.suite_id
        context = self.key_schedule_context(info)
        sealed: list[tuple[bytes, bytes]] = []
        for public_key, plaintext in recipients:
            shared_secret, enc = kem.encap(public_key, rng)
            secret = kdf.labeled_extract(suite_id, shared_secret, b"secret", b"")
            key = kdf.labeled_expand(suite_id, secret, b"key", context, aead.nk)
            nonce = kdf.labeled_expand(suite_id, secret, b"base_nonce", context, aead.nn)
            sealed.append((enc, aead.seal(key, nonce, b"", plaintext)))
        return sealed

    def seal_native(self, public_key: bytes, info: bytes, plaintext: bytes) -> tuple[bytes, bytes]:
        """SealBase with empty AAD through ``cryptography.hpke``; needs ``self.native``."""
        assert self.native is not None
        recipient = self.kem.native_public_key(public_key)
        try:
            out = self.native.encrypt(plaintext, recipient, info)
        except ValueError as exc:  # e.g. an X25519 key of small order
            raise ProtocolError(f"HPKE encryption to this public key failed: {exc}", section="5.1.3") from None
        n_enc = self.kem.n_enc
        return out[:n_enc], out[n_enc:]

    def open_native(self, enc: bytes, private_key: bytes, info: bytes, ciphertext: bytes) -> bytes:
        """OpenBase with empty AAD through ``cryptography.hpke``; raises `DecryptionError`."""
        assert self.native is not None
        # The native call takes enc ‖ ct and splits it itself, so check the
        # boundary here: a short enc would otherwise borrow ciphertext bytes.
        if len(enc) != self.kem.n_enc:
            raise DecryptionError(f"{self.kem.name}: enc is {self.kem.n_enc} bytes, got {len(enc)}", section="5.1.3")
        key = self.kem.native_private_key(private_key)
        try:
            return self.native.decrypt(enc + ciphertext, key, info)
        except InvalidTag:
            raise DecryptionError("HPKE ciphertext does not decrypt", section="5.1.3") from None
        except (ValueError, TypeError) as exc:
            raise DecryptionError(f"HPKE decryption failed: {exc}", section="5.1.3") from None
