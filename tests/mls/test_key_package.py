"""RFC 9420 §10 — KeyPackage and the part of it that is signed."""

from __future__ import annotations

import pytest

from calpico.mls.codec import encode_opaque
from calpico.mls.errors import DecodeError
from calpico.mls.extensions import Extension
from calpico.mls.key_package import KeyPackage, KeyPackageTBS
from calpico.mls.tree.nodes import LeafNode

from .samples import key_package


def test_key_package_round_trips() -> None:
    kp = key_package()
    assert KeyPackage.decode(kp.encode()) == kp
    # version, cipher suite, then init_key<V>, then the leaf.
    assert kp.encode().startswith(bytes.fromhex("0001 0001 20") + kp.init_key + kp.leaf_node.encode())


def test_tbs_is_the_key_package_without_its_signature() -> None:
    kp = key_package()
    tbs = kp.tbs()
    encoded = kp.encode()
    assert tbs.encode() == encoded[: len(encoded) - len(encode_opaque(kp.signature))]
    assert KeyPackageTBS.decode(tbs.encode()) == tbs
    assert tbs.with_signature(kp.signature) == kp


def test_grease_and_unknown_extensions_are_kept() -> None:
    extensions = (Extension(0x0A0A, b"grease"), Extension(0xFF00, b"private use"))
    kp = key_package(extensions=extensions)
    assert KeyPackage.decode(kp.encode()).extensions == extensions


def test_unknown_cipher_suite_still_parses() -> None:
    # Whether a suite is supported is decided by whoever uses the package.
    kp = key_package(cipher_suite=0x7A7A)
    assert KeyPackage.decode(kp.encode()).cipher_suite == 0x7A7A


@pytest.mark.parametrize("version", ["0000", "0002", "ffff"])
def test_unknown_protocol_version_is_rejected(version: str) -> None:
    encoded = key_package().encode()
    with pytest.raises(DecodeError, match="version: unknown value"):
        KeyPackage.decode(bytes.fromhex(version) + encoded[2:])


def test_a_key_package_leaf_may_not_be_truncated() -> None:
    kp = key_package()
    encoded = kp.encode()
    leaf_end = 4 + len(encode_opaque(kp.init_key)) + len(kp.leaf_node.encode())
    with pytest.raises(DecodeError):
        KeyPackage.decode(encoded[: leaf_end - 1])
    assert LeafNode.decode(encoded[4 + 33 : leaf_end]) == kp.leaf_node
