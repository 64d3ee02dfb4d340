"""RFC 9420 §7.1–§7.2, §12.4.3.3 — leaf and parent nodes, LeafNodeTBS, the ratchet tree encoding."""

from __future__ import annotations

import pytest

from calpico.mls.codec import encode_opaque
from calpico.mls.errors import DecodeError, EncodeError
from calpico.mls.extensions import Extension, ExtensionType
from calpico.mls.tree.nodes import (
    Capabilities,
    LeafNode,
    LeafNodeSource,
    LeafNodeTBS,
    Lifetime,
    Node,
    NodeType,
    ParentNode,
    RatchetTree,
)

from .samples import CAPABILITIES, GREASE_EXTENSION, leaf_node


@pytest.mark.parametrize("source", list(LeafNodeSource), ids=lambda s: s.name)
def test_leaf_node_round_trips_for_every_source(source: LeafNodeSource) -> None:
    leaf = leaf_node(source)
    decoded = LeafNode.decode(leaf.encode())
    assert decoded == leaf
    assert decoded.leaf_node_source is source
    assert (decoded.lifetime is not None) == (source == LeafNodeSource.key_package)
    assert (decoded.parent_hash is not None) == (source == LeafNodeSource.commit)


@pytest.mark.parametrize(
    ("source", "overrides"),
    [
        (LeafNodeSource.key_package, {"lifetime": None}),
        (LeafNodeSource.key_package, {"parent_hash": b"x"}),
        (LeafNodeSource.update, {"lifetime": Lifetime(0, 1)}),
        (LeafNodeSource.commit, {"parent_hash": None}),
    ],
    ids=["key_package-without-lifetime", "key_package-with-parent_hash", "update-with-lifetime", "commit-no-hash"],
)
def test_leaf_node_select_fields_must_match_the_source(source: LeafNodeSource, overrides: dict[str, object]) -> None:
    with pytest.raises(EncodeError):
        leaf_node(source, **overrides).encode()


def test_capabilities_keep_grease_and_unknown_values() -> None:
    decoded = Capabilities.decode(CAPABILITIES.encode())
    assert decoded == CAPABILITIES
    assert 0x1A1A in decoded.cipher_suites and 0xF001 in decoded.extensions and 0x3A3A in decoded.credentials
    assert Capabilities().encode() == bytes(5)


def test_leaf_extensions_keep_unknown_types() -> None:
    leaf = leaf_node(extensions=(GREASE_EXTENSION, Extension(ExtensionType.application_id, b"\x02id")))
    assert LeafNode.decode(leaf.encode()).extensions == leaf.extensions


def test_unknown_leaf_node_source_is_a_decode_error() -> None:
    leaf = leaf_node(LeafNodeSource.update)
    encoded = leaf.encode()
    # The source byte follows the keys, the credential and the capabilities.
    at = len(encode_opaque(leaf.encryption_key) + encode_opaque(leaf.signature_key))
    at += len(leaf.credential.encode() + leaf.capabilities.encode())
    assert encoded[at] == LeafNodeSource.update
    for bad in (0, 4, 255):
        with pytest.raises(DecodeError, match="leaf_node_source"):
            LeafNode.decode(encoded[:at] + bytes([bad]) + encoded[at + 1 :])
        with pytest.raises(DecodeError, match="leaf_node_source"):
            LeafNodeTBS.decode(encoded[:at] + bytes([bad]) + encoded[at + 1 :])


def test_lifetime() -> None:
    lifetime = Lifetime(10, 20)
    assert lifetime.encode() == (10).to_bytes(8, "big") + (20).to_bytes(8, "big")
    assert lifetime.contains(10) and lifetime.contains(20) and not lifetime.contains(21) and not lifetime.contains(9)


def _without_signature(leaf: LeafNode) -> bytes:
    encoded = leaf.encode()
    return encoded[: len(encoded) - len(encode_opaque(leaf.signature))]


def test_key_package_leaf_signs_its_fields_without_group_context() -> None:
    leaf = leaf_node(LeafNodeSource.key_package)
    tbs = leaf.tbs()
    assert tbs.encode() == _without_signature(leaf)
    assert LeafNodeTBS.decode(tbs.encode()) == tbs
    assert tbs.with_signature(leaf.signature) == leaf


@pytest.mark.parametrize("source", [LeafNodeSource.update, LeafNodeSource.commit], ids=lambda s: s.name)
def test_leaves_made_in_a_group_sign_group_id_and_leaf_index(source: LeafNodeSource) -> None:
    leaf = leaf_node(source)
    tbs = leaf.tbs(b"group", 5)
    assert tbs.encode() == _without_signature(leaf) + b"\x05group" + (5).to_bytes(4, "big")
    assert LeafNodeTBS.decode(tbs.encode()) == tbs
    assert tbs.with_signature(leaf.signature) == leaf


def test_leaf_node_tbs_group_context_must_match_the_source() -> None:
    with pytest.raises(EncodeError, match="signs its group_id"):
        leaf_node(LeafNodeSource.commit).tbs().encode()
    with pytest.raises(EncodeError, match="signs its group_id"):
        leaf_node(LeafNodeSource.update).tbs(b"group").encode()
    with pytest.raises(EncodeError, match="no group_id"):
        leaf_node(LeafNodeSource.key_package).tbs(b"group", 0).encode()
    with pytest.raises(EncodeError):
        leaf_node(LeafNodeSource.update).tbs(b"group", 2**32).encode()


def test_leaf_node_tbs_rejects_truncation() -> None:
    encoded = leaf_node(LeafNodeSource.update).tbs(b"group", 5).encode()
    for cut in range(len(encoded)):
        with pytest.raises(DecodeError):
            LeafNodeTBS.decode(encoded[:cut])


def test_parent_node() -> None:
    parent = ParentNode(b"K", b"H", (1, 3, 2**32 - 1))
    assert parent.encode() == b"\x01K\x01H\x0c" + bytes.fromhex("00000001 00000003 ffffffff")
    assert ParentNode.decode(parent.encode()) == parent


def test_node_wraps_a_leaf_or_a_parent() -> None:
    leaf, parent = leaf_node(), ParentNode(b"K", b"", ())
    assert Node.of(leaf) == Node(NodeType.leaf, leaf_node=leaf)
    assert Node.of(parent) == Node(NodeType.parent, parent_node=parent)
    assert Node.of(parent).encode() == b"\x02" + parent.encode()
    with pytest.raises(EncodeError):
        Node(NodeType.leaf, parent_node=parent).encode()


def test_ratchet_tree_is_a_vector_of_optional_nodes() -> None:
    leaf = Node.of(leaf_node())
    parent = Node.of(ParentNode(b"K", b"", ()))
    tree = RatchetTree((leaf, parent, None, None, leaf))
    body = b"\x01" + leaf.encode() + b"\x01" + parent.encode() + b"\x00\x00" + b"\x01" + leaf.encode()
    assert tree.encode() == encode_opaque(body)
    decoded = RatchetTree.decode(tree.encode())
    assert decoded == tree
    assert decoded.nodes[2] is None
    assert RatchetTree.extension_type == ExtensionType.ratchet_tree


def test_ratchet_tree_rejects_a_bad_presence_flag() -> None:
    with pytest.raises(DecodeError, match="presence flag"):
        RatchetTree.decode(b"\x01\x02")
