"""RFC 9180 HPKE: the native and hand-written paths against each other and against RFC 9180.

Appendix A.1.1 of RFC 9180 (DHKEM(X25519, HKDF-SHA256), HKDF-SHA256,
AES-128-GCM, base mode) pins the hand-written key schedule, the sealing and
the exporter; the MLS vectors (crypto-basics) pin the rest. The export is also
recomputed here independently, from ``cryptography``'s HKDF and DH primitives.
"""

from __future__ import annotations

import hashlib

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as crypto_hmac
from cryptography.hazmat.primitives.asymmetric import ec, mlkem, x448, x25519
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from calpico.mls.crypto import SUITES, CipherSuite, get_suite
from calpico.mls.crypto.hpke import LARGE_INFO
from calpico.mls.errors import ProtocolError

from ...vectors import case_params, load
from .conftest import seeded_rng

# RFC 9180 Appendix A.1.1.
A1 = {
    "info": "4f6465206f6e2061204772656369616e2055726e",
    "ikmE": "7268600d403fce431561aef583ee1613527cff655c1343f29812e66706df3234",
    "pkEm": "37fda3567bdbd628e88668c3c8d7e97d1d1253b6d4ea6d44c150f741f1bf4431",
    "ikmR": "6db9df30aa07dd42ee5e8181afdb977e538f5e1fec8a06223f33f7013e525037",
    "pkRm": "3948cfe0ad1ddb695d780e59077195da6c56506b027329794ab02bca80815c4d",
    "skRm": "4612c550263fc8ad58375df3f557aac531d26850903e55a9f23f21d8534e8ac8",
    "shared_secret": "fe0e18c9f024ce43799ae393c7e8fe8fce9d218875e8227b0187c04e7d2ea1fc",
    "key": "4531685d41d65f03dc48f6b8302c05b0",
    "base_nonce": "56d890e5accaaf011cff4b7d",
    "exporter_secret": "45ff1c2e220db587171952c0592d5f5ebe103f1561a2614e38f2ffd47e99e3f8",
    "pt": "4265617574792069732074727574682c20747275746820626561757479",
    "aad": "436f756e742d30",
    "ct": "f938558b5d72f1a23810b4be2ab4f84331acc02fc97babc53a52ae8218a355a96d8770ac83d07bea87e13c512a",
    "exports": [
        ("", "3853fe2b4035195a573ffc53856e77058e15d9ea064de3e59f4961d0095250ee"),
        ("00", "2e8f0b54673c7029649d4eb9d5e33bf1872cf76d623ff164ac185da9e88c21a5"),
        ("54657374436f6e74657874", "e9e43065102c3836401bed8c3c3c75ae46be1639869391d62c61f1ec7af54931"),
    ],
}


def test_rfc9180_a11_key_schedule_seal_and_export() -> None:
    suite = get_suite(1)
    h = bytes.fromhex
    sk_r, pk_r = suite.derive_key_pair(h(A1["ikmR"]))
    assert (sk_r.hex(), pk_r.hex()) == (A1["skRm"], A1["pkRm"])

    # With rng = ikmE, the ephemeral key is DeriveKeyPair(ikmE), as in the RFC's vectors.
    enc, context = suite.hpke.setup_base_s(pk_r, h(A1["info"]), rng=lambda n: h(A1["ikmE"])[:n])
    assert enc.hex() == A1["pkEm"]
    assert (context.key.hex(), context.base_nonce.hex()) == (A1["key"], A1["base_nonce"])
    assert context.exporter_secret.hex() == A1["exporter_secret"]
    assert suite.kem.decap(enc, sk_r).hex() == A1["shared_secret"]

    enc, ct = suite.hpke.seal(pk_r, h(A1["info"]), h(A1["aad"]), h(A1["pt"]), rng=lambda n: h(A1["ikmE"])[:n])
    assert ct.hex() == A1["ct"]
    assert suite.hpke.open(enc, sk_r, h(A1["info"]), h(A1["aad"]), ct) == h(A1["pt"])

    for exporter_context, value in A1["exports"]:
        rng = lambda n: h(A1["ikmE"])[:n]  # noqa: E731
        kem_output, secret = suite.hpke_export_to(pk_r, h(A1["info"]), h(exporter_context), 32, rng=rng)
        assert kem_output.hex() == A1["pkEm"] and secret.hex() == value
        assert suite.hpke_export_from(sk_r, kem_output, h(A1["info"]), h(exporter_context), 32).hex() == value


NATIVE = [suite_id for suite_id, suite in sorted(SUITES.items()) if suite.hpke.native is not None]


def test_native_path_covers_every_kem_cryptography_has() -> None:
    assert NATIVE == [1, 2, 3, 5, 7, 0x4D]  # all but the X448 suites


@pytest.mark.parametrize("suite_id", NATIVE, ids=lambda s: f"cs{s}")
def test_hand_written_and_native_paths_open_each_other(suite_id: int) -> None:
    suite = SUITES[suite_id]
    priv, pub = suite.generate_hpke_key_pair(seeded_rng(suite_id))
    # EncryptContext (RFC 9420 §5.1.3), spelled out: both fields are short enough for 1-byte lengths.
    label, context = b"MLS 1.0 UpdatePathNode", b"provisional group context"
    info = bytes([len(label)]) + label + bytes([len(context)]) + context
    for plaintext in (b"", b"path secret " * 5):
        # Hand-written seal (injected randomness) -> native and hand-written open.
        enc, ct = suite.hpke.seal(pub, info, b"", plaintext, rng=seeded_rng(7))
        assert suite.hpke.open_native(enc, priv, info, ct) == plaintext
        assert suite.hpke.open(enc, priv, info, b"", ct) == plaintext
        # Native seal -> hand-written open.
        enc, ct = suite.hpke.seal_native(pub, info, plaintext)
        assert suite.hpke.open(enc, priv, info, b"", ct) == plaintext
        # The public API picks: native without rng, hand-written with it; both decrypt.
        for rng in (None, seeded_rng(8)):
            kem_output, ciphertext = suite.encrypt_with_label(
                pub, b"UpdatePathNode", b"provisional group context", plaintext, rng
            )
            assert suite.hpke.open(kem_output, priv, info, b"", ciphertext) == plaintext


def _hkdf_extract(algorithm: hashes.HashAlgorithm, salt: bytes, ikm: bytes) -> bytes:
    mac = crypto_hmac.HMAC(salt or bytes(algorithm.digest_size), algorithm)
    mac.update(ikm)
    return mac.finalize()


def _hkdf_expand(algorithm: hashes.HashAlgorithm, prk: bytes, info: bytes, length: int) -> bytes:
    return HKDFExpand(algorithm, length, info).derive(prk)


def independent_export(
    suite: CipherSuite, priv: bytes, enc: bytes, info: bytes, exporter_context: bytes, length: int
) -> bytes:
    """RFC 9180 §4.1, §5.1, §5.3 from cryptography's primitives, sharing no code with the package."""
    algorithm = {32: hashes.SHA256(), 48: hashes.SHA384(), 64: hashes.SHA512()}[suite.nh]
    kem_id = suite.kem_id

    def labeled_extract(alg: hashes.HashAlgorithm, sid: bytes, salt: bytes, label: bytes, ikm: bytes) -> bytes:
        return _hkdf_extract(alg, salt, b"HPKE-v1" + sid + label + ikm)

    def labeled_expand(alg: hashes.HashAlgorithm, sid: bytes, prk: bytes, label: bytes, ctx: bytes, n: int) -> bytes:
        return _hkdf_expand(alg, prk, n.to_bytes(2, "big") + b"HPKE-v1" + sid + label + ctx, n)

    if kem_id == 0x647A:  # X-Wing: the KEM's shared secret is the combiner output
        expanded = hashlib.shake_256(priv).digest(96)
        sk_m = mlkem.MLKEM768PrivateKey.from_seed_bytes(expanded[:64])
        sk_x = x25519.X25519PrivateKey.from_private_bytes(expanded[64:])
        ss_m = sk_m.decapsulate(enc[:1088])
        ss_x = sk_x.exchange(x25519.X25519PublicKey.from_public_bytes(enc[1088:]))
        pk_x = sk_x.public_key().public_bytes_raw()
        shared_secret = hashlib.sha3_256(ss_m + ss_x + enc[1088:] + pk_x + b"\\.//^\\").digest()
    else:
        kem_alg = {0x10: hashes.SHA256(), 0x11: hashes.SHA384(), 0x12: hashes.SHA512()}.get(kem_id, algorithm)
        if kem_id == 0x20:
            sk = x25519.X25519PrivateKey.from_private_bytes(priv)
            dh = sk.exchange(x25519.X25519PublicKey.from_public_bytes(enc))
            pk_rm = sk.public_key().public_bytes_raw()
        elif kem_id == 0x21:
            sk448 = x448.X448PrivateKey.from_private_bytes(priv)
            dh = sk448.exchange(x448.X448PublicKey.from_public_bytes(enc))
            pk_rm = sk448.public_key().public_bytes_raw()
        else:
            curve = {0x10: ec.SECP256R1(), 0x11: ec.SECP384R1(), 0x12: ec.SECP521R1()}[kem_id]
            sk_ec = ec.derive_private_key(int.from_bytes(priv, "big"), curve)
            dh = sk_ec.exchange(ec.ECDH(), ec.EllipticCurvePublicKey.from_encoded_point(curve, enc))
            pk_rm = sk_ec.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
        kem_sid = b"KEM" + kem_id.to_bytes(2, "big")
        eae_prk = labeled_extract(kem_alg, kem_sid, b"", b"eae_prk", dh)
        shared_secret = labeled_expand(kem_alg, kem_sid, eae_prk, b"shared_secret", enc + pk_rm, kem_alg.digest_size)

    sid = b"HPKE" + b"".join(x.to_bytes(2, "big") for x in (kem_id, suite.kdf_id, suite.aead_id))
    psk_id_hash = labeled_extract(algorithm, sid, b"", b"psk_id_hash", b"")
    info_hash = labeled_extract(algorithm, sid, b"", b"info_hash", info)
    context = b"\x00" + psk_id_hash + info_hash
    secret = labeled_extract(algorithm, sid, shared_secret, b"secret", b"")
    exporter_secret = labeled_expand(algorithm, sid, secret, b"exp", context, suite.nh)
    return labeled_expand(algorithm, sid, exporter_secret, b"sec", exporter_context, length)


def test_export_matches_an_independent_rfc9180_computation(suite: CipherSuite) -> None:
    priv, pub = suite.generate_hpke_key_pair(seeded_rng(11))
    for rng in (None, seeded_rng(12)):
        kem_output, secret = suite.hpke_export_to(pub, b"", b"MLS 1.0 external init secret", suite.nh, rng=rng)
        expected = independent_export(suite, priv, kem_output, b"", b"MLS 1.0 external init secret", suite.nh)
        assert secret == expected
        assert suite.hpke_export_from(priv, kem_output, b"", b"MLS 1.0 external init secret", suite.nh) == expected
    # Longer than one hash block, with an info string.
    kem_output, secret = suite.hpke_export_to(pub, b"info", b"ctx", 2 * suite.nh + 5)
    assert secret == independent_export(suite, priv, kem_output, b"info", b"ctx", 2 * suite.nh + 5)


def vl(value: bytes) -> bytes:
    """opaque<V> with a 1- or 2-byte length (RFC 9420 §2.1.2), written out independently."""
    n = len(value)
    return (bytes([n]) if n < 0x40 else (0x4000 | n).to_bytes(2, "big")) + value


@pytest.mark.parametrize("index", case_params("crypto-basics.json"))
def test_both_paths_decrypt_the_crypto_basics_vector(index: int | None) -> None:
    """encrypt_with_label of crypto-basics.json, opened by the hand-written path and (if any) the native one."""
    case = load("crypto-basics.json")[index]  # type: ignore[index]
    suite = get_suite(case["cipher_suite"])
    v = case["encrypt_with_label"]
    label = b"MLS 1.0 " + v["label"].encode()
    context = bytes.fromhex(v["context"])
    info = vl(label) + vl(context)
    priv, kem_output, ciphertext = (bytes.fromhex(v[k]) for k in ("priv", "kem_output", "ciphertext"))
    plaintext = bytes.fromhex(v["plaintext"])
    assert suite.hpke.open(kem_output, priv, info, b"", ciphertext) == plaintext
    if suite.hpke.native is not None:
        assert suite.hpke.open_native(kem_output, priv, info, ciphertext) == plaintext


@pytest.mark.parametrize("info_length", [40, LARGE_INFO + 100], ids=["short-info", "long-info"])
def test_sealing_to_many_is_sealing_to_each(suite: CipherSuite, info_length: int) -> None:
    """One info for many recipients: the same bytes as sealing to each in turn, and each one opens."""
    keys = [suite.generate_hpke_key_pair(seeded_rng(20 + i)) for i in range(3)]
    info = bytes(range(256)) * (info_length // 256) + bytes(info_length % 256)
    recipients = [(pub, b"secret %d" % i) for i, (_, pub) in enumerate(keys)]
    rng = seeded_rng(30)
    one_by_one = [suite.hpke.seal(pub, info, b"", pt, rng=rng) for pub, pt in recipients]
    assert suite.hpke.seal_many(info, recipients, rng=seeded_rng(30)) == one_by_one
    for rng_or_none in (None, seeded_rng(31)):
        sealed = suite.hpke.seal_many(info, recipients, rng=rng_or_none)
        assert len({enc for enc, _ in sealed}) == len(recipients)  # a fresh ephemeral key each
        for (priv, _), (_, pt), (enc, ct) in zip(keys, recipients, sealed, strict=True):
            assert suite.hpke.open(enc, priv, info, b"", ct) == pt
    assert suite.hpke.seal_many(info, []) == []


def test_encrypt_with_label_many_is_encrypt_with_label_for_each(suite: CipherSuite) -> None:
    keys = [suite.generate_hpke_key_pair(seeded_rng(40 + i)) for i in range(2)]
    context = b"encrypted group info " * 200  # a Welcome's context is large
    recipients = [(pub, b"group secrets %d" % i) for i, (_, pub) in enumerate(keys)]
    rng = seeded_rng(41)
    expected = [suite.encrypt_with_label(pub, b"Welcome", context, pt, rng=rng) for pub, pt in recipients]
    assert suite.encrypt_with_label_many(b"Welcome", context, recipients, rng=seeded_rng(41)) == expected
    for (priv, _), (_, pt), (kem_output, ct) in zip(
        keys, recipients, suite.encrypt_with_label_many(b"Welcome", context, recipients), strict=True
    ):
        assert suite.decrypt_with_label(priv, b"Welcome", context, kem_output, ct) == pt


def test_sealing_to_many_refuses_a_bad_public_key(suite: CipherSuite) -> None:
    _, pub = suite.generate_hpke_key_pair(seeded_rng(50))
    for info in (b"short", bytes(LARGE_INFO)):
        for rng in (None, seeded_rng(51)):
            with pytest.raises(ProtocolError) as info_error:
                suite.hpke.seal_many(info, [(pub, b"a"), (pub[:-1], b"b")], rng=rng)
            assert info_error.value.section == "5.1.3"
