"""RFC 9420 §4, §7.7, §7.8, §12.1.1–§12.1.3, §12.4.3.3 — the RatchetTree class."""

from __future__ import annotations

import dataclasses
import random
from typing import Any

import pytest

from calpico.mls.credentials import Credential
from calpico.mls.errors import DecodeError, ProtocolError, UsageError
from calpico.mls.tree.nodes import LeafNode, ParentNode
from calpico.mls.tree.nodes import RatchetTree as RatchetTreeStruct
from calpico.mls.tree.ratchet_tree import RatchetTree, TreeNode

from .helpers import SUITE, all_nodes, fake_leaf, fake_parent, naive_tree_hash


def tree_of(n_members: int, seed: int = 0) -> tuple[RatchetTree, random.Random]:
    rnd = random.Random(seed)
    tree = RatchetTree.create(SUITE, fake_leaf(rnd, b"m0"))
    for i in range(1, n_members):
        tree.add_leaf(fake_leaf(rnd, b"m%d" % i))
    return tree, rnd


def assert_hashes_match_naive(tree: RatchetTree) -> None:
    nodes = all_nodes(tree)
    for x in range(tree.n_nodes):
        assert tree.node_tree_hash(x) == naive_tree_hash(SUITE, nodes, x), f"node {x}"


# --- shape: extend, add, truncate (§7.7, §12.1.1, §12.1.3) -----------------------------


def test_adds_fill_leaves_left_to_right_and_extend_the_tree() -> None:
    rnd = random.Random(1)
    tree = RatchetTree.create(SUITE, fake_leaf(rnd))
    assert (tree.n_leaves, tree.n_nodes, tree.root, tree.member_count) == (1, 1, 0, 1)
    widths = []
    for expected_index in range(1, 9):
        assert tree.add_leaf(fake_leaf(rnd)) == expected_index
        widths.append((tree.n_leaves, tree.n_nodes))
        assert_hashes_match_naive(tree)
    assert widths == [(2, 3), (4, 7), (4, 7), (8, 15), (8, 15), (8, 15), (8, 15), (16, 31)]
    assert tree.root == 15 and tree.member_count == 9


def test_extend_keeps_the_old_tree_as_the_left_subtree() -> None:
    tree, _ = tree_of(3)
    left = [tree.node_tree_hash(x) for x in range(7)]
    tree.extend()
    assert tree.n_leaves == 8 and tree.node(7) is None
    assert [tree.node_tree_hash(x) for x in range(7)] == left
    assert all(tree.node(x) is None for x in range(7, 15))
    assert_hashes_match_naive(tree)


def test_add_takes_the_leftmost_blank_leaf_before_extending() -> None:
    tree, rnd = tree_of(4)
    tree.remove_leaf(1)
    assert tree.leftmost_blank_leaf() == 1
    assert tree.add_leaf(fake_leaf(rnd)) == 1
    assert tree.leftmost_blank_leaf() is None
    assert tree.add_leaf(fake_leaf(rnd)) == 4 and tree.n_leaves == 8
    assert tree.reserve_leaf() == 5 and tree.leaf_node(5) is None
    for _ in range(3):
        tree.add_leaf(fake_leaf(rnd))
    assert tree.reserve_leaf() == 8 and tree.n_leaves == 16 and tree.member_count == 8


@pytest.mark.parametrize(
    ("members", "removed", "leaves_after"),
    [
        (3, [2], 2),  # the right half of a 4-leaf tree empties
        (5, [4], 4),
        (9, [8], 8),
        (9, [8, 7, 6, 5, 4], 4),  # one level at a time
        (9, [4, 5, 6, 7, 8], 4),  # two levels at once when the last one goes
        (4, [1, 2], 4),  # leaf 3 holds the right half
        (2, [1], 1),
    ],
)
def test_remove_truncates_until_the_right_subtree_has_a_member(
    members: int, removed: list[int], leaves_after: int
) -> None:
    tree, _ = tree_of(members)
    for index in removed:
        tree.remove_leaf(index)
        assert_hashes_match_naive(tree)
    assert tree.n_leaves == leaves_after
    rightmost = max(i for i, _ in tree.members())
    # §12.1.3: 2^d leaves for the smallest d with 2^d > rightmost member.
    assert tree.n_leaves == max(1, 1 << rightmost.bit_length())


def test_truncate_drops_a_non_blank_root_with_the_empty_right_subtree() -> None:
    tree, rnd = tree_of(3)
    tree.remove_leaf(2)  # now 2 leaves
    tree.extend()
    root = fake_parent(rnd)
    tree.set_parent_node(3, root)
    tree.truncate()
    assert tree.n_leaves == 2
    assert tree.node_index_of_encryption_key(root.encryption_key) is None
    assert_hashes_match_naive(tree)


def test_remove_blanks_the_direct_path() -> None:
    tree, rnd = tree_of(4)
    for x in (1, 3, 5):
        tree.set_parent_node(x, fake_parent(rnd))
    tree.remove_leaf(0)
    assert tree.node(0) is None and tree.node(1) is None and tree.node(3) is None
    assert tree.node(5) is not None
    assert_hashes_match_naive(tree)


def test_update_replaces_the_leaf_and_blanks_its_direct_path() -> None:
    tree, rnd = tree_of(4)
    for x in (1, 3, 5):
        tree.set_parent_node(x, fake_parent(rnd))
    new = fake_leaf(rnd)
    tree.update_leaf(3, new)
    assert tree.leaf_node(3) == new
    assert [tree.node(x) is None for x in (1, 3, 5)] == [False, True, True]
    assert_hashes_match_naive(tree)


# --- unmerged leaves (§7.1, §12.1.1) -----------------------------------------------------


def test_add_records_the_new_leaf_as_unmerged_at_non_blank_ancestors_in_order() -> None:
    tree, rnd = tree_of(8)
    for index in (6, 2, 5):
        tree.remove_leaf(index)
    tree.set_parent_node(7, fake_parent(rnd, [7]))  # root, leaf 7 already unmerged there
    tree.set_parent_node(3, fake_parent(rnd))
    tree.set_parent_node(11, fake_parent(rnd))
    assert tree.add_leaf(fake_leaf(rnd)) == 2
    assert tree.add_leaf(fake_leaf(rnd)) == 5
    assert tree.add_leaf(fake_leaf(rnd)) == 6
    unmerged = {x: node.unmerged_leaves for x in (3, 7, 11) if isinstance(node := tree.node(x), ParentNode)}
    assert unmerged == {3: (2,), 7: (2, 5, 6, 7), 11: (5, 6)}
    assert tree.node(5) is None and tree.node(9) is None  # blank ancestors stay blank
    assert_hashes_match_naive(tree)


# --- resolution and filtered direct path (§4.1.1, §4.1.2) --------------------------------


def test_resolution_of_the_rfc_example_tree() -> None:
    rnd = random.Random(2)
    leaf = lambda: fake_leaf(rnd)  # noqa: E731
    # §4.1.1, "A Tree with Blanks and Unmerged Leaves": A B _ D E F _ H, X[B] at node 3, Y at node 9.
    nodes: list[TreeNode | None] = [None] * 15
    for i in (0, 1, 3, 4, 5, 7):
        nodes[2 * i] = leaf()
    nodes[3] = fake_parent(rnd, [1])
    nodes[9] = fake_parent(rnd)
    tree = RatchetTree.from_nodes(SUITE, nodes)
    assert tree.resolution(3) == [3, 2]  # X, B
    assert tree.resolution(4) == [] and tree.resolution(12) == []
    assert tree.resolution(7) == [3, 2, 9, 14]  # X, B, Y, H
    assert tree.resolution(11) == [9, 14]
    assert tree.resolution(7, limit=1) == [3, 2]  # stops once past the limit
    assert tree.resolution_is_empty(13) is False and tree.resolution_is_empty(4) is True


def test_filtered_direct_paths_of_the_rfc_example_tree() -> None:
    rnd = random.Random(3)
    # §4.1.2, "A Complete Tree with Five Members": A B _ _ E F G _, T=1, W=7, X=9, Y=11; U, V, Z blank.
    nodes: list[TreeNode | None] = [None] * 15
    for i in (0, 1, 4, 5, 6):
        nodes[2 * i] = fake_leaf(rnd)
    for x in (1, 7, 9, 11):
        nodes[x] = fake_parent(rnd)
    tree = RatchetTree.from_nodes(SUITE, nodes)
    expected = {
        0: ([1, 3, 7], [2, 5, 11], [1, 7]),  # A: T U W / B V Y / T W
        1: ([1, 3, 7], [0, 5, 11], [1, 7]),
        4: ([9, 11, 7], [10, 13, 3], [9, 11, 7]),  # E
        5: ([9, 11, 7], [8, 13, 3], [9, 11, 7]),
        6: ([13, 11, 7], [14, 9, 3], [11, 7]),  # G
    }
    for leaf, (direct, copath, filtered) in expected.items():
        assert tree.direct_path(2 * leaf) == direct
        assert tree.copath(2 * leaf) == copath
        assert tree.filtered_direct_path(leaf) == filtered
        assert tree.filtered_path(leaf) == [(p, s) for p, s in zip(direct, copath, strict=True) if p in filtered]


# --- wire form (§12.4.3.3) ------------------------------------------------------------------


def test_wire_form_trims_trailing_blanks_and_round_trips() -> None:
    tree, rnd = tree_of(5)
    tree.set_parent_node(3, fake_parent(rnd, [2, 3]))
    data = tree.to_bytes()
    struct = RatchetTreeStruct.decode(data)
    assert len(struct.nodes) == 9 and struct.nodes[-1] is not None
    assert tree.to_struct() == struct
    for again in (RatchetTree.from_bytes(SUITE, data), RatchetTree.from_struct(SUITE, struct)):
        assert again == tree
        assert again.n_leaves == 8
        assert again.tree_hash() == tree.tree_hash()
        assert again.to_bytes() == data


def _encoded(nodes: list[TreeNode | None]) -> bytes:
    return RatchetTreeStruct(tuple(None if n is None else _node(n) for n in nodes)).encode()


def _node(value: TreeNode) -> Any:
    from calpico.mls.tree.nodes import Node

    return Node.of(value)


@pytest.mark.parametrize("shape", ["blank-last", "even", "parent-at-leaf", "leaf-at-parent", "empty"])
def test_malformed_trees_are_rejected(shape: str) -> None:
    rnd = random.Random(4)
    a, b = fake_leaf(rnd), fake_leaf(rnd)
    p = fake_parent(rnd)
    nodes: list[TreeNode | None] = {
        "blank-last": [a, p, b, None, None],
        "even": [a, p, b, p],
        "parent-at-leaf": [a, p, p],
        "leaf-at-parent": [a, b, a],
        "empty": [],
    }[shape]
    loads = [lambda: RatchetTree.from_bytes(SUITE, _encoded(nodes))]
    if shape != "blank-last":  # in memory, trailing blanks are just dropped
        loads.append(lambda: RatchetTree.from_nodes(SUITE, nodes))
    for load in loads:
        with pytest.raises(ProtocolError) as info:
            load()
        assert info.value.section == "12.4.3.3"


def test_unsorted_unmerged_leaves_are_rejected() -> None:
    rnd = random.Random(5)
    nodes: list[TreeNode | None] = [fake_leaf(rnd), fake_parent(rnd, [1, 0]), fake_leaf(rnd)]
    with pytest.raises(ProtocolError) as info:
        RatchetTree.from_nodes(SUITE, nodes)
    assert info.value.section == "7.1"


@pytest.mark.parametrize("duplicate", ["leaf-encryption", "parent-encryption", "signature"])
def test_repeated_keys_are_rejected_on_load(duplicate: str) -> None:
    rnd = random.Random(6)
    a, b = fake_leaf(rnd), fake_leaf(rnd)
    p = fake_parent(rnd)
    if duplicate == "leaf-encryption":
        b = LeafNode(**{**_fields(b), "encryption_key": a.encryption_key})
    elif duplicate == "parent-encryption":
        p = ParentNode(b.encryption_key, p.parent_hash, ())
    else:
        b = LeafNode(**{**_fields(b), "signature_key": a.signature_key})
    with pytest.raises(ProtocolError) as info:
        RatchetTree.from_nodes(SUITE, [a, p, b])
    assert info.value.section == "7.3"


def _fields(leaf: LeafNode) -> dict[str, Any]:
    return {f.name: getattr(leaf, f.name) for f in dataclasses.fields(leaf) if f.init}


def test_bad_bytes_raise_decode_errors() -> None:
    tree, _ = tree_of(3)
    data = tree.to_bytes()
    for bad in (data[:-1], data + b"\x00", b"\x02\x02\x00", b"\x01\x05"):
        with pytest.raises(DecodeError):
            RatchetTree.from_bytes(SUITE, bad)


# --- mutations that would break the tree's invariants -------------------------------------------


def test_mutations_refuse_repeated_keys_and_leave_the_tree_unchanged() -> None:
    tree, rnd = tree_of(3)
    before = tree.to_bytes()
    member = tree.leaf_node(1)
    assert member is not None
    stolen_encryption = LeafNode(**{**_fields(fake_leaf(rnd)), "encryption_key": member.encryption_key})
    stolen_signature = LeafNode(**{**_fields(fake_leaf(rnd)), "signature_key": member.signature_key})
    for action in (
        lambda: tree.add_leaf(stolen_encryption),
        lambda: tree.add_leaf(stolen_signature),
        lambda: tree.update_leaf(0, stolen_signature),
        lambda: tree.update_leaf(1, member),  # an Update must change the encryption key
        lambda: tree.set_parent_node(1, ParentNode(member.encryption_key, b"", ())),
    ):
        with pytest.raises(ProtocolError) as info:
            action()
        assert info.value.section == "7.3"
        assert tree.to_bytes() == before


def test_update_may_keep_its_own_signature_key() -> None:
    tree, rnd = tree_of(2)
    old = tree.leaf_node(1)
    assert old is not None
    tree.update_leaf(1, LeafNode(**{**_fields(fake_leaf(rnd)), "signature_key": old.signature_key}))
    assert tree.leaf_index_of_signature_key(old.signature_key) == 1


def test_blank_leaves_cannot_be_updated_or_removed() -> None:
    tree, rnd = tree_of(4)
    tree.remove_leaf(2)
    with pytest.raises(ProtocolError) as info:
        tree.update_leaf(2, fake_leaf(rnd))
    assert info.value.section == "12.1.2"
    for index in (2, 9):
        with pytest.raises(ProtocolError) as info:
            tree.remove_leaf(index)
        assert info.value.section == "12.1.3"
    with pytest.raises(UsageError):
        tree.leaf_node(-1)
    with pytest.raises(UsageError):
        tree.node(7)
    with pytest.raises(UsageError):
        tree.parent_node(2)


def test_lookups_follow_every_change() -> None:
    tree, rnd = tree_of(3)
    leaf = tree.leaf_node(2)
    assert leaf is not None
    assert tree.leaf_index_of_signature_key(leaf.signature_key) == 2
    assert tree.node_index_of_encryption_key(leaf.encryption_key) == 4
    parent = fake_parent(rnd)
    tree.set_parent_node(5, parent)
    assert tree.node_index_of_encryption_key(parent.encryption_key) == 5
    x509 = LeafNode(**{**_fields(fake_leaf(rnd)), "credential": Credential.x509([b"cert"])})
    tree.add_leaf(x509)
    assert tree.credential_types_in_use() == {1, 2} and tree.credential_type_count(2) == 1
    tree.remove_leaf(2)
    assert tree.leaf_index_of_signature_key(leaf.signature_key) is None
    assert tree.node_index_of_encryption_key(leaf.encryption_key) is None
    assert tree.node_index_of_encryption_key(parent.encryption_key) is None  # on leaf 2's direct path
    tree.remove_leaf(3)
    assert tree.credential_types_in_use() == {1}
    assert [i for i, _ in tree.members()] == [0, 1] and tree.member_count == 2


def test_copies_are_independent() -> None:
    tree, rnd = tree_of(5)
    original_hash, original_bytes = tree.tree_hash(), tree.to_bytes()
    staged = tree.copy()
    assert staged == tree
    staged.remove_leaf(4)
    assert staged.n_leaves == 4
    staged.remove_leaf(1)
    staged.add_leaf(fake_leaf(rnd))
    staged.update_leaf(0, fake_leaf(rnd))
    assert staged != tree
    assert tree.to_bytes() == original_bytes and tree.tree_hash() == original_hash
    assert tree.n_leaves == 8 and tree.member_count == 5
    assert_hashes_match_naive(tree)
    assert_hashes_match_naive(staged)


# --- the caches against a naive recomputation -----------------------------------------------------


def naive_resolution(nodes: list[TreeNode | None], x: int) -> list[int]:
    node = nodes[x]
    if node is not None:
        return [x] + ([2 * leaf for leaf in node.unmerged_leaves] if isinstance(node, ParentNode) else [])
    if x % 2 == 0:
        return []
    level = (x ^ (x + 1)).bit_length() - 1
    return naive_resolution(nodes, x - (1 << (level - 1))) + naive_resolution(nodes, x + (1 << (level - 1)))


def random_step(tree: RatchetTree, rnd: random.Random) -> str:
    """One random change of the kinds a group makes; returns its name."""
    members = [i for i, _ in tree.members()]
    roll = rnd.random()
    if roll < 0.35 or len(members) < 2:
        tree.add_leaf(fake_leaf(rnd))
        return "add"
    if roll < 0.55:
        tree.remove_leaf(rnd.choice(members))
        return "remove"
    if roll < 0.7:
        tree.update_leaf(rnd.choice(members), fake_leaf(rnd))
        return "update"
    # A commit path: blank the direct path, set the filtered nodes with empty unmerged lists, new leaf.
    committer = rnd.choice(members)
    path = tree.filtered_direct_path(committer)
    tree.blank_direct_path(committer)
    for x in path:
        tree.set_parent_node(x, fake_parent(rnd))
    tree.set_leaf(committer, fake_leaf(rnd))
    return "commit"


@pytest.mark.parametrize("seed", range(6))
def test_random_changes_keep_every_cache_equal_to_a_naive_recomputation(seed: int) -> None:
    rnd = random.Random(seed)
    tree = RatchetTree.create(SUITE, fake_leaf(rnd))
    kinds = set()
    for step in range(150):
        before = tree.copy()
        before_hashes = [before.node_tree_hash(x) for x in range(before.n_nodes)] if step % 10 == 0 else None
        kinds.add(random_step(tree, rnd))
        if step % 3 == 0:
            tree.tree_hash()  # sometimes hash between steps, so partial caches are exercised
        nodes = all_nodes(tree)
        assert tree.tree_hash() == naive_tree_hash(SUITE, nodes, tree.root), f"step {step}"
        for x in range(tree.n_nodes):
            assert tree.node_tree_hash(x) == naive_tree_hash(SUITE, nodes, x), f"step {step}, node {x}"
            assert tree.resolution(x) == naive_resolution(nodes, x), f"step {step}, node {x}"
        for index, _ in tree.members():
            direct = tree.direct_path(2 * index)
            copath = tree.copath(2 * index)
            naive = [p for p, s in zip(direct, copath, strict=True) if naive_resolution(nodes, s)]
            assert tree.filtered_direct_path(index) == naive
        assert RatchetTree.from_bytes(SUITE, tree.to_bytes()).tree_hash() == tree.tree_hash()
        if before_hashes is not None:  # the staged copy was not disturbed
            assert [before.node_tree_hash(x) for x in range(before.n_nodes)] == before_hashes
    assert kinds == {"add", "remove", "update", "commit"}


class CountingSuite:
    """Wraps a suite and counts hash calls: how much of the tree a change rehashes."""

    def __init__(self) -> None:
        self.calls = 0
        self.suite_id = SUITE.suite_id

    def hash(self, data: bytes) -> bytes:
        self.calls += 1
        return SUITE.hash(data)


def test_ten_thousand_members_hash_once_and_rehash_only_the_changed_path() -> None:
    rnd = random.Random(7)
    counter = CountingSuite()
    tree = RatchetTree.create(SUITE, fake_leaf(rnd))
    tree.suite = counter  # type: ignore[assignment]
    for _ in range(9_999):
        tree.add_leaf(fake_leaf(rnd))
    assert tree.member_count == 10_000 and tree.n_leaves == 16_384
    root_hash = tree.tree_hash()
    assert counter.calls == tree.n_nodes
    depth = tree.n_leaves.bit_length() - 1

    counter.calls = 0
    staged = tree.copy()
    staged.update_leaf(4321, fake_leaf(rnd))
    assert staged.tree_hash() != root_hash
    assert counter.calls == depth + 1  # the leaf and its 14 ancestors

    counter.calls = 0
    assert tree.tree_hash() == root_hash and counter.calls == 0  # the original keeps its caches
    tree.remove_leaf(9_999)
    tree.tree_hash()
    assert counter.calls <= depth + 1
    # The decoded tree agrees with the incrementally maintained one.
    tree.suite = SUITE
    assert RatchetTree.from_bytes(SUITE, tree.to_bytes()).tree_hash() == tree.tree_hash()
