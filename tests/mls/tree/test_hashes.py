"""RFC 9420 §7.8, §7.9 — tree-hash inputs and original sibling tree hashes."""

from __future__ import annotations

import random

import pytest

from calpico.mls.errors import UsageError
from calpico.mls.tree.hashes import (
    leaf_hash_input,
    original_sibling_tree_hash,
    parent_hash,
    parent_hash_input,
    parent_node_hash_input,
)
from calpico.mls.tree.nodes import ParentNode
from calpico.mls.tree.ratchet_tree import RatchetTree, TreeNode

from .helpers import SUITE, all_nodes, fake_leaf, fake_parent, naive_tree_hash


def test_leaf_hash_input_uses_the_leaf_index_and_an_optional_leaf() -> None:
    rnd = random.Random(1)
    leaf = fake_leaf(rnd)
    assert leaf_hash_input(3, leaf.encode()) == b"\x01" + b"\x00\x00\x00\x03" + b"\x01" + leaf.encode()
    assert leaf_hash_input(3, None) == b"\x01\x00\x00\x00\x03\x00"
    tree = RatchetTree.from_nodes(SUITE, [fake_leaf(rnd), None, fake_leaf(rnd), None, None, None, leaf])
    # Leaf 3 sits at node 6: LeafNodeHashInput carries 3, never 6 (mls-implementations PR #91).
    assert tree.node_tree_hash(6) == SUITE.hash(leaf_hash_input(3, leaf.encode()))
    assert tree.node_tree_hash(4) == SUITE.hash(leaf_hash_input(2, None))


def test_parent_inputs_follow_the_struct_layouts() -> None:
    node = ParentNode(b"K" * 32, b"P" * 32, (1, 2))
    left, right = b"L" * 32, b"R" * 32
    assert (
        parent_node_hash_input(node.encode(), left, right)
        == b"\x02\x01" + node.encode() + b"\x20" + left + b"\x20" + right
    )
    assert parent_node_hash_input(None, left, right) == b"\x02\x00" + b"\x20" + left + b"\x20" + right
    assert parent_hash_input(b"K" * 32, b"", b"S" * 32) == b"\x20" + b"K" * 32 + b"\x00" + b"\x20" + b"S" * 32
    assert parent_hash(SUITE, b"K" * 32, b"", b"S" * 32) == SUITE.hash(parent_hash_input(b"K" * 32, b"", b"S" * 32))


def naive_original_sibling_hash(tree: RatchetTree, parent: int, sibling: int) -> bytes:
    """§7.9 literally: blank P's unmerged leaves, drop them from every unmerged list, hash S."""
    node = tree.parent_node(parent)
    assert node is not None
    gone = set(node.unmerged_leaves)
    nodes: list[TreeNode | None] = []
    for x, value in enumerate(all_nodes(tree)):
        if x % 2 == 0 and x // 2 in gone:
            nodes.append(None)
        elif isinstance(value, ParentNode):
            kept = tuple(i for i in value.unmerged_leaves if i not in gone)
            nodes.append(ParentNode(value.encryption_key, value.parent_hash, kept))
        else:
            nodes.append(value)
    return naive_tree_hash(SUITE, nodes, sibling)


def test_rfc_example_blanks_f_and_drops_it_from_y() -> None:
    rnd = random.Random(2)
    # §7.9 "A Tree Illustrating Parent Hash Computations": W[F] root, U, T, Y[F]; leaves A..G, H blank.
    nodes: list[TreeNode | None] = [fake_leaf(rnd) for _ in range(15)]
    for x in range(1, 15, 2):
        nodes[x] = None
    nodes[14] = None
    nodes[7] = fake_parent(rnd, [5])  # W
    nodes[3] = fake_parent(rnd)  # U
    nodes[1] = fake_parent(rnd)  # T
    nodes[11] = fake_parent(rnd, [5])  # Y
    tree = RatchetTree.from_nodes(SUITE, nodes)
    got = original_sibling_tree_hash(tree, 7, 11)
    assert got == naive_original_sibling_hash(tree, 7, 11)
    assert got != tree.node_tree_hash(11)
    # With no unmerged leaf under the sibling it is the current tree hash.
    assert original_sibling_tree_hash(tree, 7, 3) == tree.node_tree_hash(3)
    assert original_sibling_tree_hash(tree, 3, 5) == tree.node_tree_hash(5)


@pytest.mark.parametrize("seed", range(5))
def test_original_sibling_hash_matches_the_literal_definition(seed: int) -> None:
    rnd = random.Random(seed)
    n = 16
    nodes: list[TreeNode | None] = [None] * (2 * n - 1)
    for i in range(n):
        if rnd.random() < 0.8:
            nodes[2 * i] = fake_leaf(rnd)
    nodes[-1] = fake_leaf(rnd)
    # Parents with random unmerged leaves below them.
    for level in range(4, 0, -1):
        for x in range((1 << level) - 1, 2 * n - 1, 1 << (level + 1)):
            if rnd.random() < 0.6:
                lo = (x >> (level + 1)) << level
                below = [i for i in range(lo, lo + (1 << level)) if nodes[2 * i] is not None]
                nodes[x] = fake_parent(rnd, sorted(rnd.sample(below, k=min(len(below), rnd.randint(0, 3)))))
    tree = RatchetTree.from_nodes(SUITE, nodes)
    checked = 0
    for p in range(1, 2 * n - 1, 2):
        if tree.node(p) is None:
            continue
        level = (p ^ (p + 1)).bit_length() - 1
        for sibling in (p - (1 << (level - 1)), p + (1 << (level - 1))):
            assert original_sibling_tree_hash(tree, p, sibling) == naive_original_sibling_hash(tree, p, sibling)
            checked += 1
    assert checked > 0


def test_blank_parent_has_no_parent_hash() -> None:
    tree = RatchetTree.from_nodes(SUITE, [fake_leaf(random.Random(3)), None, fake_leaf(random.Random(4))])
    with pytest.raises(UsageError):
        original_sibling_tree_hash(tree, 1, 2)
