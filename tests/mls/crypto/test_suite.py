"""The §5 API of every supported cipher suite, through `calpico.mls.crypto`."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from calpico.mls import crypto
from calpico.mls.crypto import SUITES, CipherSuite, CipherSuiteId, KeyPair, get_suite
from calpico.mls.errors import (
    DecryptionError,
    MLSError,
    ProtocolError,
    UnsupportedError,
    UsageError,
    VerificationError,
)
from calpico.mls.secret import Secret

from .conftest import seeded_rng

# RFC 9420 §5.1 parameters of each suite: KEM, KDF, AEAD ids, Nh, Nk, signature scheme.
EXPECTED = {
    0x0001: (0x0020, 1, 1, 32, 16, "ed25519"),
    0x0002: (0x0010, 1, 1, 32, 16, "ecdsa_secp256r1_sha256"),
    0x0003: (0x0020, 1, 3, 32, 32, "ed25519"),
    0x0004: (0x0021, 3, 2, 64, 32, "ed448"),
    0x0005: (0x0012, 3, 2, 64, 32, "ecdsa_secp521r1_sha512"),
    0x0006: (0x0021, 3, 3, 64, 32, "ed448"),
    0x0007: (0x0011, 2, 2, 48, 32, "ecdsa_secp384r1_sha384"),
    0x004D: (0x647A, 1, 3, 32, 32, "ed25519"),
}
ENC_LENGTH = {0x0010: 65, 0x0011: 97, 0x0012: 133, 0x0020: 32, 0x0021: 56, 0x647A: 1120}


def test_public_names_are_exported() -> None:
    assert set(crypto.__all__) == {"SUITES", "CipherSuite", "CipherSuiteId", "KeyPair", "Rng", "get_suite"}
    for name in crypto.__all__:
        assert hasattr(crypto, name)


def test_suite_parameters(suite: CipherSuite) -> None:
    kem_id, kdf_id, aead_id, nh, nk, scheme = EXPECTED[suite.suite_id]
    assert (suite.kem_id, suite.kdf_id, suite.aead_id) == (kem_id, kdf_id, aead_id)
    assert (suite.nh, suite.nk, suite.nn) == (nh, nk, 12)
    assert suite.signature_scheme == scheme
    assert suite.hpke_enc_length == ENC_LENGTH[kem_id]
    assert suite.name == CipherSuiteId(suite.suite_id).name
    assert len(suite.hash(b"abc")) == nh


def test_registry_and_lookup() -> None:
    assert sorted(SUITES) == [1, 2, 3, 4, 5, 6, 7, 0x4D]
    assert get_suite(3) is SUITES[CipherSuiteId.MLS_128_DHKEMX25519_CHACHA20POLY1305_SHA256_Ed25519]
    assert get_suite(0x4D).name == "MLS_256_XWING_CHACHA20POLY1305_SHA256_Ed25519"
    with pytest.raises(UnsupportedError, match="0x0A0A"):
        get_suite(0x0A0A)
    with pytest.raises(TypeError):
        SUITES[9] = SUITES[1]  # type: ignore[index]


def test_hash_and_mac_use_the_suite_hash(suite: CipherSuite) -> None:
    name = {32: "sha256", 48: "sha384", 64: "sha512"}[suite.nh]
    assert suite.hash(b"data") == hashlib.new(name, b"data").digest()
    assert suite.mac(b"key", b"data") == hmac.digest(b"key", b"data", name)
    suite.verify_mac(b"key", b"data", suite.mac(b"key", b"data"))
    tag = bytearray(suite.mac(b"key", b"data"))
    tag[-1] ^= 1
    with pytest.raises(VerificationError):
        suite.verify_mac(b"key", b"data", bytes(tag))
    with pytest.raises(VerificationError):
        suite.verify_mac(b"key", b"data", b"")


def test_ref_hash_adds_no_prefix(suite: CipherSuite) -> None:
    label = b"MLS 1.0 KeyPackage Reference"
    value = bytes(range(70))  # needs a two-byte length
    expected = suite.hash(bytes([len(label)]) + label + bytes([0x40, 70]) + value)
    assert suite.ref_hash(label, value) == expected


def test_kdf_functions_return_secrets_of_the_asked_length(suite: CipherSuite) -> None:
    prk = suite.extract(b"salt", b"ikm")
    assert isinstance(prk, Secret) and len(prk) == suite.nh
    for length in (0, 1, suite.nh, suite.nh + 1, 3 * suite.nh):
        out = suite.expand_with_label(prk, b"label", b"context", length)
        assert isinstance(out, Secret) and len(out) == length
    long = suite.expand_with_label(prk, b"label", b"context", 3 * suite.nh)
    assert long[: suite.nh] != long[suite.nh : 2 * suite.nh]
    assert suite.derive_secret(prk, b"epoch") == suite.expand_with_label(prk, b"epoch", b"", suite.nh)
    assert suite.derive_tree_secret(prk, b"key", 7, suite.nk) == suite.expand_with_label(
        prk, b"key", (7).to_bytes(4, "big"), suite.nk
    )
    # The label and the context are each length-prefixed, so moving a byte between them changes the output.
    assert suite.expand_with_label(prk, b"ab", b"c", 16) != suite.expand_with_label(prk, b"a", b"bc", 16)


def test_kdf_rejects_impossible_lengths(suite: CipherSuite) -> None:
    prk = suite.extract(b"", b"")
    with pytest.raises(UsageError):
        suite.expand_with_label(prk, b"x", b"", 255 * suite.nh + 1)
    with pytest.raises(UsageError):
        suite.expand_with_label(prk, b"x", b"", 70000)
    with pytest.raises(UsageError):
        suite.expand(prk, b"", -1)
    with pytest.raises(UsageError):
        suite.derive_tree_secret(prk, b"x", 1 << 32, 16)


def test_aead_round_trip_and_tamper(suite: CipherSuite) -> None:
    key, nonce = bytes(range(suite.nk)), bytes(suite.nn)
    sealed = suite.aead_seal(key, nonce, b"aad", b"plaintext")
    assert len(sealed) == len(b"plaintext") + 16
    assert suite.aead_open(Secret(key), nonce, b"aad", sealed) == b"plaintext"
    for bad_key, bad_nonce, bad_aad, bad_ct in [
        (key, nonce, b"aaD", sealed),
        (key, nonce, b"aad", sealed[:-1] + bytes([sealed[-1] ^ 1])),
        (bytes(suite.nk), nonce, b"aad", sealed),
        (key, bytes([1]) * suite.nn, b"aad", sealed),
        (key, nonce, b"aad", sealed[:15]),
        (key[:-1], nonce, b"aad", sealed),
        (key, nonce[:-1], b"aad", sealed),
    ]:
        with pytest.raises(DecryptionError):
            suite.aead_open(bad_key, bad_nonce, bad_aad, bad_ct)
    with pytest.raises(UsageError):
        suite.aead_seal(key + b"\x00", nonce, b"", b"")
    with pytest.raises(UsageError):
        suite.aead_seal(key, nonce + b"\x00", b"", b"")


def test_signature_round_trip(suite: CipherSuite) -> None:
    priv, pub = pair = suite.generate_signature_key_pair()
    assert isinstance(pair, KeyPair) and isinstance(priv, Secret)
    assert suite.signature_public_key(priv) == pub
    signature = suite.sign_with_label(priv, b"LeafNodeTBS", b"content")
    suite.verify_with_label(pub, b"LeafNodeTBS", b"content", signature)
    with pytest.raises(VerificationError):
        suite.verify_with_label(pub, b"KeyPackageTBS", b"content", signature)
    with pytest.raises(VerificationError):
        suite.verify_with_label(pub, b"LeafNodeTBS", b"content!", signature)
    with pytest.raises(VerificationError):
        suite.verify_with_label(pub, b"LeafNodeTBS", b"content", signature[:-1] + bytes([signature[-1] ^ 1]))
    other = suite.generate_signature_key_pair().public_key
    with pytest.raises(VerificationError):
        suite.verify_with_label(other, b"LeafNodeTBS", b"content", signature)


def test_malformed_signature_keys(suite: CipherSuite) -> None:
    priv, pub = suite.generate_signature_key_pair()
    signature = suite.sign_with_label(priv, b"L", b"c")
    for bad_pub in (b"", pub[:-1], pub + b"\x00", b"\x05" + pub[1:] if pub[0] == 4 else b"\xff" * len(pub)):
        with pytest.raises(VerificationError):
            suite.verify_with_label(bad_pub, b"L", b"c", signature)
    for bad_priv in (b"", priv[:-1], priv + b"\x00"):
        with pytest.raises(UsageError):
            suite.sign_with_label(bad_priv, b"L", b"c")
        with pytest.raises(UsageError):
            suite.signature_public_key(bad_priv)


def test_hpke_round_trip(suite: CipherSuite) -> None:
    priv, pub = suite.generate_hpke_key_pair()
    assert suite.hpke_public_key(priv) == pub
    for plaintext in (b"", b"x", bytes(1000)):
        kem_output, ciphertext = suite.encrypt_with_label(pub, b"UpdatePathNode", b"group context", plaintext)
        assert len(kem_output) == suite.hpke_enc_length
        assert len(ciphertext) == len(plaintext) + 16
        assert suite.decrypt_with_label(priv, b"UpdatePathNode", b"group context", kem_output, ciphertext) == plaintext


def test_hpke_failures_raise_decryption_error(suite: CipherSuite) -> None:
    priv, pub = suite.generate_hpke_key_pair()
    kem_output, ciphertext = suite.encrypt_with_label(pub, b"Welcome", b"ctx", b"group secrets")
    other_priv = suite.generate_hpke_key_pair().private_key
    flipped_kem = bytes([kem_output[0] ^ 1]) + kem_output[1:]
    cases = [
        (priv, b"Welcome", b"ctX", kem_output, ciphertext),  # wrong context
        (priv, b"Welcom", b"ctx", kem_output, ciphertext),  # wrong label
        (other_priv, b"Welcome", b"ctx", kem_output, ciphertext),  # wrong key
        (priv, b"Welcome", b"ctx", kem_output, ciphertext[:-1] + bytes([ciphertext[-1] ^ 1])),
        (priv, b"Welcome", b"ctx", flipped_kem, ciphertext),
        (priv, b"Welcome", b"ctx", kem_output[:-1], kem_output[-1:] + ciphertext),  # shifted boundary
        (priv, b"Welcome", b"ctx", kem_output, b""),
        (priv, b"Welcome", b"ctx", b"", ciphertext),
        (priv[:-1], b"Welcome", b"ctx", kem_output, ciphertext),  # malformed private key
        (b"", b"Welcome", b"ctx", kem_output, ciphertext),
    ]
    for args in cases:
        with pytest.raises(DecryptionError):
            suite.decrypt_with_label(*args)
    with pytest.raises(UsageError):
        suite.hpke_public_key(priv + b"\x00")


def test_encrypting_to_a_malformed_public_key_is_a_protocol_error(suite: CipherSuite) -> None:
    _, pub = suite.generate_hpke_key_pair()
    for bad in (b"", pub[:-1], pub + b"\x00"):
        for rng in (None, seeded_rng(1)):
            with pytest.raises(ProtocolError):
                suite.encrypt_with_label(bad, b"L", b"", b"pt", rng=rng)
            with pytest.raises(ProtocolError):
                suite.hpke_export_to(bad, b"", b"ctx", 16, rng=rng)


def test_hpke_export_sender_and_receiver_agree(suite: CipherSuite) -> None:
    priv, pub = suite.derive_key_pair(b"external secret")
    kem_output, secret = suite.hpke_export_to(pub, b"", b"MLS 1.0 external init secret", suite.nh)
    assert isinstance(secret, Secret) and len(secret) == suite.nh
    assert len(kem_output) == suite.hpke_enc_length
    assert suite.hpke_export_from(priv, kem_output, b"", b"MLS 1.0 external init secret", suite.nh) == secret
    assert suite.hpke_export_from(priv, kem_output, b"", b"another context", suite.nh) != secret
    assert suite.hpke_export_from(priv, kem_output, b"info", b"MLS 1.0 external init secret", suite.nh) != secret
    with pytest.raises(DecryptionError):
        suite.hpke_export_from(priv, kem_output[:-1], b"", b"ctx", suite.nh)
    with pytest.raises(UsageError):
        suite.hpke_export_to(pub, b"", b"ctx", 255 * suite.nh + 1)


def test_injected_rng_gives_deterministic_output(suite: CipherSuite) -> None:
    def run(seed: int) -> tuple[object, ...]:
        rng = seeded_rng(seed)
        sig = suite.generate_signature_key_pair(rng)
        hpke = suite.generate_hpke_key_pair(rng)
        encrypted = suite.encrypt_with_label(hpke.public_key, b"L", b"ctx", b"plaintext", rng=rng)
        exported = suite.hpke_export_to(hpke.public_key, b"", b"ctx", 32, rng=rng)
        return sig, hpke, encrypted, exported

    first, again, other = run(1), run(1), run(2)
    assert first == again
    for a, b in zip(first, other, strict=True):
        assert a != b
    _, (priv, _), (kem_output, ciphertext), (enc, secret) = first
    assert suite.decrypt_with_label(priv, b"L", b"ctx", kem_output, ciphertext) == b"plaintext"
    assert suite.hpke_export_from(priv, enc, b"", b"ctx", 32) == secret


def test_secrets_are_never_printed(suite: CipherSuite) -> None:
    rng = seeded_rng(3)
    sig = suite.generate_signature_key_pair(rng)
    hpke = suite.generate_hpke_key_pair(rng)
    _, exported = suite.hpke_export_to(hpke.public_key, b"", b"ctx", 32, rng=rng)
    prk = suite.extract(b"salt", b"ikm")
    derived = [
        sig.private_key,
        hpke.private_key,
        exported,
        prk,
        suite.expand(prk, b"info", 20),
        suite.expand_with_label(prk, b"L", b"", 20),
        suite.derive_secret(prk, b"L"),
        suite.derive_tree_secret(prk, b"L", 1, 20),
        suite.derive_key_pair(b"ikm").private_key,
    ]
    shown = " ".join([repr(sig), str(hpke), repr(suite), f"{sig.private_key}", repr(suite.hpke)])
    for value in derived:
        assert isinstance(value, Secret)
        assert value.hex() not in shown + repr(value) + str(value) + f"{value}"
        assert "redacted" in repr(value)


def test_errors_are_all_mls_errors() -> None:
    for error in (DecryptionError, ProtocolError, UnsupportedError, UsageError, VerificationError):
        assert issubclass(error, MLSError)
