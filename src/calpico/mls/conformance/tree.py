"""Checkers for the tree-validation, tree-operations and treekem vector files (RFC 9420 §4, §7, §12.1).

The procedures follow the vectors' README. Leaf lifetimes are not checked:
the vectors' leaves expired long ago, and §7.3 makes the check on received
leaves a recommendation only.
"""

from __future__ import annotations

from collections.abc import Callable

from ..commit import UpdatePath
from ..crypto import SUITES, CipherSuite, get_suite
from ..group_context import GroupContext, ProtocolVersion
from ..proposals import Add, Proposal, Remove, Update
from ..tree.private_tree import PrivateTree
from ..tree.ratchet_tree import RatchetTree
from ..tree.treekem import (
    create_update_path,
    decrypt_update_path,
    derive_node_key_pair,
    merge_update_path,
)
from ..tree.validation import validate_tree, verify_parent_hashes
from . import Case, Skip, checker, expect_equal, unhex


def _suite(case: Case) -> CipherSuite:
    suite_id = case["cipher_suite"]
    if suite_id not in SUITES:
        raise Skip(f"cipher suite {suite_id} is not supported")
    return get_suite(suite_id)


@checker("tree-validation")
def check_tree_validation(case: Case) -> None:
    suite = _suite(case)
    data = unhex(case["tree"])
    tree = RatchetTree.from_bytes(suite, data)
    expect_equal("re-encoded tree", tree.to_bytes(), data)
    expect_equal("node count", tree.n_nodes, len(case["tree_hashes"]))
    for x, want in enumerate(case["resolutions"]):
        expect_equal(f"resolution of node {x}", tree.resolution(x), want)
    for x, want in enumerate(case["tree_hashes"]):
        expect_equal(f"tree hash of node {x}", tree.node_tree_hash(x), unhex(want))
    # Parent hashes (§7.9.2) and leaf signatures (§7.3) with the case's group_id.
    validate_tree(tree, unhex(case["group_id"]), clock=None)


@checker("tree-operations")
def check_tree_operations(case: Case) -> None:
    suite = _suite(case)
    tree = RatchetTree.from_bytes(suite, unhex(case["tree_before"]))
    expect_equal("tree_hash_before", tree.tree_hash(), unhex(case["tree_hash_before"]))
    body = Proposal.decode(unhex(case["proposal"])).body
    sender = case["proposal_sender"]
    if isinstance(body, Add):
        tree.add_leaf(body.key_package.leaf_node)
    elif isinstance(body, Update):
        tree.update_leaf(sender, body.leaf_node)
    elif isinstance(body, Remove):
        tree.remove_leaf(body.removed)
    else:
        raise Skip(f"{type(body).__name__} proposals do not change the tree")
    expect_equal("tree_after", tree.to_bytes(), unhex(case["tree_after"]))
    expect_equal("tree_hash_after", tree.tree_hash(), unhex(case["tree_hash_after"]))
    # The expected tree must hash the same when decoded (catches truncation errors the bytes hide).
    after = RatchetTree.from_bytes(suite, unhex(case["tree_after"]))
    expect_equal("tree_hash_after (decoded)", after.tree_hash(), unhex(case["tree_hash_after"]))


@checker("treekem")
def check_treekem(case: Case) -> None:
    suite = _suite(case)
    group_id = unhex(case["group_id"])
    tree = RatchetTree.from_bytes(suite, unhex(case["ratchet_tree"]))

    def context(tree_hash: bytes) -> bytes:
        return GroupContext(
            ProtocolVersion.mls10,
            suite.suite_id,
            group_id,
            case["epoch"],
            tree_hash,
            unhex(case["confirmed_transcript_hash"]),
            (),
        ).encode()

    private: dict[int, PrivateTree] = {}
    signature_keys: dict[int, bytes] = {}
    for entry in case["leaves_private"]:
        index = entry["index"]
        keys = {
            ps["node"]: derive_node_key_pair(suite, unhex(ps["path_secret"])).private_key
            for ps in entry["path_secrets"]
        }
        state = PrivateTree.create(index, unhex(entry["encryption_priv"])).with_keys(keys)
        state.verify(tree)
        private[index] = state
        signature_keys[index] = unhex(entry["signature_priv"])

    for number, entry in enumerate(case["update_paths"]):
        sender = entry["sender"]
        path = UpdatePath.decode(unhex(entry["update_path"]))
        merged = tree.copy()
        merge_update_path(merged, sender, path, group_id=group_id)
        verify_parent_hashes(merged)
        expect_equal(f"update_paths[{number}] tree_hash_after", merged.tree_hash(), unhex(entry["tree_hash_after"]))
        provisional = context(merged.tree_hash())
        for index, state in private.items():
            if index == sender:
                continue
            received = decrypt_update_path(merged, state, sender, path, provisional)
            want = unhex(entry["path_secrets"][index])
            expect_equal(f"update_paths[{number}] path secret at leaf {index}", bytes(received.path_secret), want)
            expect_equal(
                f"update_paths[{number}] commit secret at leaf {index}",
                bytes(received.commit_secret),
                unhex(entry["commit_secret"]),
            )
            received.private_tree.verify(merged)

        _check_fresh_path(tree, sender, signature_keys[sender], group_id, private, context)


def _check_fresh_path(
    tree: RatchetTree,
    sender: int,
    signature_key: bytes,
    group_id: bytes,
    private: dict[int, PrivateTree],
    context: Callable[[bytes], bytes],
) -> None:
    """Create a new UpdatePath from ``sender``; every other leaf must process it to the same commit secret."""
    staged = tree.copy()
    prepared = create_update_path(staged, sender, group_id=group_id, signature_private_key=signature_key)
    path = UpdatePath.decode(prepared.encrypt(context(staged.tree_hash())).encode())
    prepared.private_tree.verify(staged)
    merged = tree.copy()
    merge_update_path(merged, sender, path, group_id=group_id)
    expect_equal("fresh path: tree hash", merged.tree_hash(), staged.tree_hash())
    provisional = context(merged.tree_hash())
    for index, state in private.items():
        if index == sender:
            continue
        received = decrypt_update_path(merged, state, sender, path, provisional)
        expect_equal(
            f"fresh path: commit secret at leaf {index}", bytes(received.commit_secret), prepared.commit_secret
        )
        expect_equal(
            f"fresh path: path secret at leaf {index}",
            bytes(received.path_secret),
            bytes(prepared.path_secret_for(index)),
        )
