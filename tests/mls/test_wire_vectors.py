"""Every wire struct inside every official vector file decodes and re-encodes exactly.

The ``messages`` file has its own checker (calpico.mls.conformance.messages);
the other files also carry encoded objects: MLSMessage-wrapped KeyPackages,
Welcomes and handshake messages (welcome, passive-client), ratchet trees
(tree-validation, tree-operations, treekem), UpdatePaths, Proposals, Commits,
AuthenticatedContents and GroupContexts. Decoding them all is a cheap,
strong check of the structs.

The second half checks the *signed* encodings (LeafNodeTBS, KeyPackageTBS,
FramedContentTBS, AuthenticatedContentTBM, AuthenticatedContent for
ProposalRefs) against the signatures, MACs and references that other
implementations computed over them, for cipher suite 1 (Ed25519, SHA-256).
It uses ``cryptography`` directly, as an oracle independent of our own
crypto layer.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from calpico.mls.codec import Struct, encode_opaque
from calpico.mls.commit import Commit, UpdatePath
from calpico.mls.framing import AuthenticatedContent, AuthenticatedContentTBM, FramedContentTBS, WireFormat
from calpico.mls.group_context import GroupContext, ProtocolVersion
from calpico.mls.messages import MLSMessage
from calpico.mls.proposals import Proposal
from calpico.mls.tree.nodes import LeafNodeSource, RatchetTree

from ..vectors import load

Blob = tuple[str, type[Struct], str]


def _passive_client(case: dict[str, Any]) -> Iterator[Blob]:
    yield "key_package", MLSMessage, case["key_package"]
    yield "welcome", MLSMessage, case["welcome"]
    if case["ratchet_tree"] is not None:
        yield "ratchet_tree", RatchetTree, case["ratchet_tree"]
    for epoch in case["epochs"]:
        for proposal in epoch["proposals"]:
            yield "epochs[].proposals[]", MLSMessage, proposal
        yield "epochs[].commit", MLSMessage, epoch["commit"]


def _welcome(case: dict[str, Any]) -> Iterator[Blob]:
    yield "key_package", MLSMessage, case["key_package"]
    yield "welcome", MLSMessage, case["welcome"]


def _tree_validation(case: dict[str, Any]) -> Iterator[Blob]:
    yield "tree", RatchetTree, case["tree"]


def _tree_operations(case: dict[str, Any]) -> Iterator[Blob]:
    yield "tree_before", RatchetTree, case["tree_before"]
    yield "tree_after", RatchetTree, case["tree_after"]
    yield "proposal", Proposal, case["proposal"]


def _treekem(case: dict[str, Any]) -> Iterator[Blob]:
    yield "ratchet_tree", RatchetTree, case["ratchet_tree"]
    for path in case["update_paths"]:
        yield "update_paths[].update_path", UpdatePath, path["update_path"]


def _transcript_hashes(case: dict[str, Any]) -> Iterator[Blob]:
    yield "authenticated_content", AuthenticatedContent, case["authenticated_content"]


def _message_protection(case: dict[str, Any]) -> Iterator[Blob]:
    yield "proposal", Proposal, case["proposal"]
    yield "commit", Commit, case["commit"]
    for field in ("proposal_pub", "proposal_priv", "commit_pub", "commit_priv", "application_priv"):
        yield field, MLSMessage, case[field]


def _key_schedule(case: dict[str, Any]) -> Iterator[Blob]:
    for epoch in case["epochs"]:
        yield "epochs[].group_context", GroupContext, epoch["group_context"]


BLOBS_OF = {
    "passive-client-welcome.json": _passive_client,
    "passive-client-handling-commit.json": _passive_client,
    "welcome.json": _welcome,
    "tree-validation.json": _tree_validation,
    "tree-operations.json": _tree_operations,
    "treekem.json": _treekem,
    "transcript-hashes.json": _transcript_hashes,
    "message-protection.json": _message_protection,
    "key-schedule.json": _key_schedule,
}


@pytest.mark.parametrize("name", sorted(BLOBS_OF))
def test_every_encoded_struct_round_trips(name: str) -> None:
    count = 0
    for index, case in enumerate(load(name)):
        for field, struct, hexed in BLOBS_OF[name](case):
            data = bytes.fromhex(hexed)
            assert struct.decode(data).encode() == data, f"{name} case {index} {field}"
            count += 1
    assert count >= len(load(name))


def _sign_content(label: bytes, content: bytes) -> bytes:
    """SignContent of SignWithLabel (§5.1.2)."""
    return encode_opaque(b"MLS 1.0 " + label) + encode_opaque(content)


def _verify(public_key: bytes, signature: bytes, label: bytes, content: bytes) -> None:
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, _sign_content(label, content))
    except InvalidSignature:
        raise AssertionError(f"{label.decode()} signature does not verify") from None


def test_leaf_node_tbs_is_what_leaves_sign() -> None:
    checked = {source: 0 for source in LeafNodeSource}
    for case in load("tree-validation.json"):
        if case["cipher_suite"] != 1:
            continue
        group_id = bytes.fromhex(case["group_id"])
        tree = RatchetTree.decode(bytes.fromhex(case["tree"]))
        for node_index, node in enumerate(tree.nodes):
            if node is None or node.leaf_node is None:
                continue
            leaf = node.leaf_node
            if leaf.leaf_node_source == LeafNodeSource.key_package:
                tbs = leaf.tbs()
            else:
                tbs = leaf.tbs(group_id, node_index // 2)
            _verify(leaf.signature_key, leaf.signature, b"LeafNodeTBS", tbs.encode())
            checked[leaf.leaf_node_source] += 1
    assert checked[LeafNodeSource.key_package] and checked[LeafNodeSource.commit]


def test_key_package_tbs_is_what_key_packages_sign() -> None:
    for case in load("passive-client-welcome.json"):
        if case["cipher_suite"] != 1:
            continue
        kp = MLSMessage.decode(bytes.fromhex(case["key_package"])).key_package
        assert kp is not None
        _verify(kp.leaf_node.signature_key, kp.signature, b"KeyPackageTBS", kp.tbs().encode())


def test_framed_content_tbs_and_tbm_are_what_public_messages_sign_and_mac() -> None:
    case = next(c for c in load("message-protection.json") if c["cipher_suite"] == 1)
    context = GroupContext(
        ProtocolVersion.mls10,
        1,
        bytes.fromhex(case["group_id"]),
        case["epoch"],
        bytes.fromhex(case["tree_hash"]),
        bytes.fromhex(case["confirmed_transcript_hash"]),
    )
    for field in ("proposal_pub", "commit_pub"):
        message = MLSMessage.decode(bytes.fromhex(case[field])).public_message
        assert message is not None and message.membership_tag is not None
        tbs = FramedContentTBS.of(WireFormat.mls_public_message, message.content, context)
        _verify(bytes.fromhex(case["signature_pub"]), message.auth.signature, b"FramedContentTBS", tbs.encode())
        tbm = AuthenticatedContentTBM(tbs, message.auth).encode()
        tag = hmac.new(bytes.fromhex(case["membership_key"]), tbm, hashlib.sha256).digest()
        assert tag == message.membership_tag, field


def test_authenticated_content_is_what_proposal_refs_hash() -> None:
    referenced = 0
    for case in load("passive-client-handling-commit.json"):
        if case["cipher_suite"] != 1:
            continue
        for epoch in case["epochs"]:
            refs = set()
            for hexed in epoch["proposals"]:
                message = MLSMessage.decode(bytes.fromhex(hexed)).public_message
                assert message is not None
                value = message.authenticated_content().encode()
                refs.add(hashlib.sha256(_ref_input(value)).digest())
            commit = MLSMessage.decode(bytes.fromhex(epoch["commit"])).public_message
            assert commit is not None and commit.content.commit is not None
            for item in commit.content.commit.proposals:
                if item.reference is not None:
                    assert item.reference in refs
                    referenced += 1
    assert referenced > 0


def _ref_input(value: bytes) -> bytes:
    """RefHashInput for a ProposalRef (§5.2): the label carries no extra prefix."""
    return encode_opaque(b"MLS 1.0 Proposal Reference") + encode_opaque(value)
