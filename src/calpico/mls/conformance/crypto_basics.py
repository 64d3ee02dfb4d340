"""Checker for the crypto-basics vector file (RFC 9420 §5.1.2, §5.1.3, §5.2, §8, §9.1)."""

from __future__ import annotations

from ..crypto import SUITES, get_suite
from ..errors import VerificationError
from . import Case, Mismatch, Skip, checker, expect_equal, unhex


@checker("crypto-basics")
def check_crypto_basics(case: Case) -> None:
    suite_id = case["cipher_suite"]
    if suite_id not in SUITES:
        raise Skip(f"cipher suite {suite_id} is not supported")
    suite = get_suite(suite_id)

    v = case["ref_hash"]
    expect_equal("ref_hash", suite.ref_hash(v["label"].encode(), unhex(v["value"])), unhex(v["out"]))

    v = case["expand_with_label"]
    got = suite.expand_with_label(unhex(v["secret"]), v["label"].encode(), unhex(v["context"]), v["length"])
    expect_equal("expand_with_label", bytes(got), unhex(v["out"]))

    v = case["derive_secret"]
    expect_equal("derive_secret", bytes(suite.derive_secret(unhex(v["secret"]), v["label"].encode())), unhex(v["out"]))

    v = case["derive_tree_secret"]
    got = suite.derive_tree_secret(unhex(v["secret"]), v["label"].encode(), v["generation"], v["length"])
    expect_equal("derive_tree_secret", bytes(got), unhex(v["out"]))

    _check_sign_with_label(suite_id, case["sign_with_label"])
    _check_encrypt_with_label(suite_id, case["encrypt_with_label"])


def _check_sign_with_label(suite_id: int, v: Case) -> None:
    suite = get_suite(suite_id)
    priv, pub, label, content = unhex(v["priv"]), unhex(v["pub"]), v["label"].encode(), unhex(v["content"])
    expect_equal("sign_with_label public key", suite.signature_public_key(priv), pub)
    # VerifyWithLabel(pub, label, content, signature) == true
    suite.verify_with_label(pub, label, content, unhex(v["signature"]))
    # VerifyWithLabel(pub, label, content, SignWithLabel(priv, label, content)) == true
    fresh = suite.sign_with_label(priv, label, content)
    suite.verify_with_label(pub, label, content, fresh)
    if suite.signature_scheme in ("ed25519", "ed448"):
        # EdDSA is deterministic: our signature must be the vector's, byte for byte.
        expect_equal("sign_with_label signature", fresh, unhex(v["signature"]))
    try:
        suite.verify_with_label(pub, label + b"!", content, fresh)
    except VerificationError:
        pass
    else:
        raise Mismatch("sign_with_label: a signature verified under a different label")


def _check_encrypt_with_label(suite_id: int, v: Case) -> None:
    suite = get_suite(suite_id)
    priv, pub, label = unhex(v["priv"]), unhex(v["pub"]), v["label"].encode()
    context, plaintext = unhex(v["context"]), unhex(v["plaintext"])
    expect_equal("encrypt_with_label public key", suite.hpke_public_key(priv), pub)
    # DecryptWithLabel(priv, label, context, kem_output, ciphertext) == plaintext
    got = suite.decrypt_with_label(priv, label, context, unhex(v["kem_output"]), unhex(v["ciphertext"]))
    expect_equal("decrypt_with_label", got, plaintext)
    # A fresh EncryptWithLabel must round-trip.
    kem_output, ciphertext = suite.encrypt_with_label(pub, label, context, plaintext)
    expect_equal("kem_output length", len(kem_output), suite.hpke_enc_length)
    expect_equal("round trip", suite.decrypt_with_label(priv, label, context, kem_output, ciphertext), plaintext)
