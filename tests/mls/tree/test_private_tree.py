"""RFC 9420 §4.3 — the private keys a member holds, and their persistence."""

from __future__ import annotations

import pytest

from calpico.mls.errors import DecodeError, UsageError, VerificationError
from calpico.mls.secret import Secret
from calpico.mls.tree.private_tree import PrivateTree

from .helpers import SUITE, Members


@pytest.fixture(scope="module")
def group() -> Members:
    group = Members.start(seed=21)
    group.add(5)
    group.commit(2)
    return group


def test_members_hold_their_leaf_and_path_keys(group: Members) -> None:
    state = group.members[3].private_tree
    assert state is not None
    # Leaf 3 learned the keys of the parents it shares with committer 2: nodes 5, 3 and the root 7.
    assert sorted(state.keys) == [3, 5, 6, 7]
    assert state.leaf_private_key == group.members[3].init_private
    state.verify(group.tree)


def test_encoding_round_trips_and_keeps_keys_secret(group: Members) -> None:
    state = group.members[2].private_tree
    assert state is not None
    data = state.encode()
    again = PrivateTree.decode(data)
    assert again == state
    assert all(isinstance(key, Secret) for key in again.keys.values())
    # leaf_index, the vector length, then (node, length, key) per key: nothing else.
    assert again.leaf_index == 2 and len(data) == 4 + 2 + len(state.keys) * (4 + 1 + SUITE.nh)
    text = repr(again) + str(again.keys)
    for key in state.keys.values():
        assert key.hex() not in text and bytes(key).hex() not in text


def test_decoding_needs_the_members_own_leaf_key() -> None:
    only_a_parent = PrivateTree.create(1, b"k" * 32).with_keys({3: b"p" * 32}, drop=frozenset({2}))
    with pytest.raises(DecodeError):
        PrivateTree.decode(only_a_parent.encode())
    with pytest.raises(DecodeError):
        PrivateTree.decode(b"\x00\x00\x00\x01\x05")


def test_pruning_forgets_keys_of_blanked_nodes(group: Members) -> None:
    state = group.members[3].private_tree
    assert state is not None
    tree = group.tree.copy()
    tree.remove_leaf(2)  # blanks 5, 3, 7: leaf 3's whole path
    pruned = state.pruned(tree)
    assert sorted(pruned.keys) == [6]
    assert state.pruned(group.tree) is state
    tree.remove_leaf(3)
    with pytest.raises(UsageError):
        state.pruned(tree)


def test_verify_catches_keys_that_do_not_match_the_tree(group: Members) -> None:
    state = group.members[3].private_tree
    assert state is not None
    wrong = state.with_keys({5: SUITE.generate_hpke_key_pair().private_key})
    with pytest.raises(VerificationError):
        wrong.verify(group.tree)
    blank_node = next(x for x in range(1, group.tree.n_nodes, 2) if group.tree.node(x) is None)
    with pytest.raises(VerificationError):
        state.with_keys({blank_node: b"k" * 32}).verify(group.tree)
    replaced = state.with_leaf_key(b"n" * 32)
    assert replaced.leaf_private_key == b"n" * 32 and replaced.private_key(5) == state.private_key(5)
