"""RFC 9420 §12.4 and §7.6 — Commit, UpdatePath, HPKECiphertext."""

from __future__ import annotations

import pytest

from calpico.mls.commit import Commit, HPKECiphertext, UpdatePath, UpdatePathNode
from calpico.mls.errors import DecodeError, EncodeError
from calpico.mls.proposals import Proposal, ProposalOrRef, ProposalOrRefType, Remove
from calpico.mls.tree.nodes import LeafNodeSource

from .samples import commit, leaf_node, update_path


def test_empty_commit() -> None:
    assert Commit().encode() == b"\x00\x00"
    assert Commit.decode(b"\x00\x00") == Commit((), None)


def test_commit_of_mixes_values_and_references() -> None:
    c = Commit.of([Remove(2), Proposal.of(Remove(3)), b"ref"])
    assert [p.type for p in c.proposals] == [
        ProposalOrRefType.proposal,
        ProposalOrRefType.proposal,
        ProposalOrRefType.reference,
    ]
    assert c.proposals[0] == ProposalOrRef.of(Proposal.of(Remove(2)))
    assert c.path is None
    assert c.encode().endswith(b"\x00")
    assert Commit.decode(c.encode()) == c


def test_commit_with_path_round_trips() -> None:
    c = commit()
    assert c.path is not None
    encoded = c.encode()
    assert encoded.endswith(b"\x01" + c.path.encode())
    assert Commit.decode(encoded) == c


def test_update_path() -> None:
    path = update_path()
    assert path.leaf_node.leaf_node_source is LeafNodeSource.commit
    assert UpdatePath.decode(path.encode()) == path
    node = path.nodes[0]
    assert node.encode() == b"\x20" + b"N" * 32 + bytes([len(node.encrypted_path_secret[0].encode()) + 3]) + (
        node.encrypted_path_secret[0].encode() + b"\x01k\x00"
    )


def test_hpke_ciphertext() -> None:
    ct = HPKECiphertext(b"kem", b"ciphertext")
    assert ct.encode() == b"\x03kem\x0aciphertext"
    assert HPKECiphertext.decode(ct.encode()) == ct


def test_update_path_node_defaults_to_no_ciphertexts() -> None:
    assert UpdatePathNode(b"k").encode() == b"\x01k\x00"


def test_path_leaf_is_checked_on_encode() -> None:
    with pytest.raises(EncodeError):
        Commit((), UpdatePath(leaf_node(LeafNodeSource.commit, parent_hash=None))).encode()


def test_optional_path_flag() -> None:
    with pytest.raises(DecodeError, match="presence flag"):
        Commit.decode(b"\x00\x02")
    with pytest.raises(DecodeError):
        Commit.decode(b"\x00\x01")
