"""RFC 9420 §10 — creating a KeyPackage: signed twice, fresh distinct keys, a sound lifetime."""

from __future__ import annotations

import pytest

from calpico.mls.credentials import Credential
from calpico.mls.crypto import SUITES, get_suite
from calpico.mls.errors import UnsupportedError, VerificationError
from calpico.mls.key_package import KeyPackage, create_key_package
from calpico.mls.messages import MLSMessage
from calpico.mls.tree.nodes import LeafNodeSource


@pytest.mark.parametrize("suite_id", sorted(SUITES))
def test_created_key_package_verifies_and_round_trips(suite_id: int) -> None:
    suite = get_suite(suite_id)
    sig = suite.generate_signature_key_pair()
    bundle = create_key_package(suite_id, Credential.basic(b"alice/1"), sig.private_key, now=1_000_000)
    kp = bundle.key_package
    assert KeyPackage.decode(kp.encode()) == kp
    suite.verify_with_label(kp.leaf_node.signature_key, b"KeyPackageTBS", kp.tbs().encode(), kp.signature)
    suite.verify_with_label(
        kp.leaf_node.signature_key, b"LeafNodeTBS", kp.leaf_node.tbs().encode(), kp.leaf_node.signature
    )
    assert kp.leaf_node.signature_key == sig.public_key
    assert kp.init_key != kp.leaf_node.encryption_key
    assert suite.hpke_public_key(bundle.init_private_key) == kp.init_key
    assert suite.hpke_public_key(bundle.encryption_private_key) == kp.leaf_node.encryption_key
    assert kp.leaf_node.leaf_node_source is LeafNodeSource.key_package
    assert kp.leaf_node.lifetime is not None and kp.leaf_node.lifetime.contains(1_000_000)
    assert suite_id in kp.leaf_node.capabilities.cipher_suites
    assert len(bundle.ref()) == suite.nh
    assert "redacted" in repr(bundle.init_private_key)


def test_signature_covers_the_package() -> None:
    suite = get_suite(1)
    sig = suite.generate_signature_key_pair()
    kp = create_key_package(1, Credential.basic(b"bob"), sig.private_key).key_package
    forged = KeyPackage(kp.version, kp.cipher_suite, bytes(32), kp.leaf_node, kp.extensions, kp.signature)
    with pytest.raises(VerificationError):
        suite.verify_with_label(kp.leaf_node.signature_key, b"KeyPackageTBS", forged.tbs().encode(), forged.signature)


def test_refs_differ_and_wrapping_keeps_the_bytes() -> None:
    sig = get_suite(1).generate_signature_key_pair()
    a = create_key_package(1, Credential.basic(b"c"), sig.private_key)
    b = create_key_package(1, Credential.basic(b"c"), sig.private_key)
    assert a.ref() != b.ref()
    wrapped = MLSMessage.of(a.key_package).encode()
    assert MLSMessage.decode(wrapped).key_package == a.key_package


def test_unknown_suite_is_refused() -> None:
    with pytest.raises(UnsupportedError):
        create_key_package(0x0A0A, Credential.basic(b"x"), b"\x00" * 32)


def test_injected_rng_makes_keys_deterministic() -> None:
    sig = get_suite(1).generate_signature_key_pair()
    counter = iter(range(10**6))

    def rng(n: int) -> bytes:
        return bytes([next(counter) % 256]) * n

    first = create_key_package(1, Credential.basic(b"d"), sig.private_key, now=5, rng=rng)
    counter = iter(range(10**6))
    second = create_key_package(1, Credential.basic(b"d"), sig.private_key, now=5, rng=rng)
    assert first.key_package == second.key_package
