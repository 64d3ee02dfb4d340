"""RFC 9420 §7.4–§7.6, §12.4.1–§12.4.3.1 — TreeKEM: creating, merging and decrypting UpdatePaths."""

from __future__ import annotations

from dataclasses import replace
from itertools import pairwise

import pytest

from calpico.mls.commit import HPKECiphertext, UpdatePath, UpdatePathNode
from calpico.mls.credentials import Credential
from calpico.mls.crypto import get_suite
from calpico.mls.errors import DecryptionError, ProtocolError, UsageError, VerificationError
from calpico.mls.tree.hashes import parent_hash
from calpico.mls.tree.nodes import LeafNode, LeafNodeSource, LeafNodeTBS
from calpico.mls.tree.private_tree import PrivateTree
from calpico.mls.tree.ratchet_tree import RatchetTree
from calpico.mls.tree.treekem import (
    LeafNodeParams,
    create_update_path,
    decrypt_update_path,
    merge_update_path,
    next_path_secret,
    private_tree_for_joiner,
)
from calpico.mls.tree.validation import validate_tree

from .helpers import CAPABILITIES, GROUP_ID, SUITE, Member, Members, provisional_context, seeded


@pytest.mark.parametrize("suite_id", [0x0001, 0x0002, 0x0003, 0x0007, 0x004D], ids=lambda s: f"cs{s}")
def test_members_agree_through_adds_commits_and_removes(suite_id: int) -> None:
    group = Members.start(get_suite(suite_id), seed=suite_id)
    group.add(4)
    for committer in (0, 3):  # the second commit reaches members still unmerged elsewhere
        group.commit(committer)
        validate_tree(group.tree, GROUP_ID)
        group.check_private_trees()
    added = group.add(3)
    group.commit(2, added=added)
    group.remove(1)
    group.commit(6)
    validate_tree(group.tree, GROUP_ID)
    group.check_private_trees()


def test_new_members_are_left_out_of_the_encryption_and_get_the_welcome_path_secret() -> None:
    group = Members.start(seed=2)
    group.add(3)
    group.commit(0)
    added = group.add(2)  # leaves 4 and 5: a new right half
    prepared, path = group.commit(1, added=added)
    # Node 1 encrypts to leaf 0; node 3 to blank node 5's resolution, leaves 2 and 3; the root's
    # copath child holds only the new leaves, so nothing is encrypted to it.
    assert [len(n.encrypted_path_secret) for n in path.nodes] == [1, 2, 0]
    assert prepared.filtered_path[-1][0] == group.tree.root
    assert prepared.path_secret_for(4) == prepared.path_secrets[-1]
    assert prepared.path_secret_for(0) == prepared.path_secrets[0]
    group.check_private_trees()  # the joiners derived the root key from the path secret
    joined = group.members[5].private_tree
    assert joined is not None and sorted(joined.keys) == [7, 10]


def test_path_secrets_chain_into_the_commit_secret() -> None:
    group = Members.start(seed=3)
    group.add(7)
    prepared, _ = group.commit(4)
    secrets = prepared.path_secrets
    assert len(secrets) == len(prepared.filtered_path) == 3
    for lower, upper in pairwise(secrets):
        assert next_path_secret(SUITE, lower) == upper
    assert prepared.commit_secret == next_path_secret(SUITE, secrets[-1])
    assert len({bytes(s) for s in secrets}) == 3


def test_injected_randomness_makes_paths_reproducible() -> None:
    def make(seed: int) -> bytes:
        group = Members.start(seed=4)
        group.add(3)
        staged = group.tree.copy()
        member = group.members[1]
        prepared = create_update_path(
            staged, 1, group_id=GROUP_ID, signature_private_key=member.signature_private, rng=seeded(seed)
        )
        return prepared.encrypt(provisional_context(SUITE, staged), rng=seeded(seed + 1)).encode()

    assert make(10) == make(10)
    assert make(10) != make(11)


def test_a_lone_member_can_commit_with_a_path() -> None:
    group = Members.start(seed=5)
    prepared, path = group.commit(0)
    assert path.nodes == () and prepared.leaf_node.parent_hash == b""
    assert len(prepared.commit_secret) == SUITE.nh
    validate_tree(group.tree, GROUP_ID)


def test_a_new_leaf_can_commit_into_a_blank_position() -> None:
    # As an external joiner does (§12.4.3.2): the leaf is blank until the path sets it.
    group = Members.start(seed=6)
    group.add(2)
    group.commit(0)
    newcomer = Member.new(SUITE, b"external", seeded(7))
    staged = group.tree.copy()
    index = staged.reserve_leaf()
    assert index == 3 and staged.leaf_node(3) is None
    with pytest.raises(UsageError):
        create_update_path(staged, index, group_id=GROUP_ID, signature_private_key=newcomer.signature_private)
    params = LeafNodeParams(newcomer.signature_public, Credential.basic(b"external"), CAPABILITIES)
    prepared = create_update_path(
        staged, index, group_id=GROUP_ID, signature_private_key=newcomer.signature_private, leaf_params=params
    )
    path = prepared.encrypt(provisional_context(SUITE, staged))
    theirs = group.tree.copy()
    assert theirs.reserve_leaf() == index
    merge_update_path(theirs, index, path, group_id=GROUP_ID)
    assert theirs == staged
    state = group.members[1].private_tree
    assert state is not None
    received = decrypt_update_path(theirs, state, index, path, provisional_context(SUITE, theirs))
    assert received.commit_secret == prepared.commit_secret
    validate_tree(theirs, GROUP_ID)


# --- what a receiver refuses --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def scene() -> tuple[Members, RatchetTree, UpdatePath, int]:
    """A group of 7 after some commits; member 5 has just prepared (not sent) a path."""
    group = Members.start(seed=8)
    group.add(6)
    group.commit(0)
    group.commit(6)
    staged = group.tree.copy()
    prepared = create_update_path(
        staged, 5, group_id=GROUP_ID, signature_private_key=group.members[5].signature_private, rng=group.rng
    )
    path = prepared.encrypt(provisional_context(SUITE, staged))
    return group, staged, path, 5


def resigned(member: Member, leaf: LeafNode, index: int, **changes: object) -> LeafNode:
    tbs = replace(leaf.tbs(GROUP_ID, index), **changes)  # type: ignore[arg-type]
    return tbs.with_signature(SUITE.sign_with_label(member.signature_private, b"LeafNodeTBS", tbs.encode()))


def refuse(group: Members, path: UpdatePath, error: type[Exception], section: str) -> None:
    tree = group.tree.copy()
    before = tree.to_bytes()
    with pytest.raises(error) as info:
        merge_update_path(tree, 5, path, group_id=GROUP_ID)
    assert getattr(info.value, "section", None) == section
    assert tree.to_bytes() == before  # nothing was merged


def test_the_honest_path_merges(scene: tuple[Members, RatchetTree, UpdatePath, int]) -> None:
    group, staged, path, sender = scene
    tree = group.tree.copy()
    merge_update_path(tree, sender, path, group_id=GROUP_ID)
    assert tree == staged and tree.tree_hash() == staged.tree_hash()


def test_refuses_a_leaf_that_is_not_from_a_commit(scene: tuple[Members, RatchetTree, UpdatePath, int]) -> None:
    group, _, path, sender = scene
    leaf = resigned(
        group.members[sender], path.leaf_node, sender, leaf_node_source=LeafNodeSource.update, parent_hash=None
    )
    refuse(group, replace(path, leaf_node=leaf), ProtocolError, "7.3")


def test_refuses_a_bad_leaf_signature(scene: tuple[Members, RatchetTree, UpdatePath, int]) -> None:
    group, _, path, _ = scene
    forged = replace(path.leaf_node, signature=bytes(len(path.leaf_node.signature)))
    refuse(group, replace(path, leaf_node=forged), VerificationError, "7.3")


def test_refuses_a_leaf_parent_hash_that_does_not_match_the_path(
    scene: tuple[Members, RatchetTree, UpdatePath, int],
) -> None:
    group, _, path, sender = scene
    # Correctly signed by the committer, but over a parent hash the path does not produce.
    leaf = resigned(group.members[sender], path.leaf_node, sender, parent_hash=bytes(32))
    refuse(group, replace(path, leaf_node=leaf), VerificationError, "7.9.2")
    # Or: a path node whose key differs from what the signed parent hash covers.
    nodes = list(path.nodes)
    nodes[1] = replace(nodes[1], encryption_key=SUITE.generate_hpke_key_pair().public_key)
    refuse(group, replace(path, nodes=tuple(nodes)), VerificationError, "7.9.2")


def test_refuses_the_wrong_number_of_nodes_or_ciphertexts(scene: tuple[Members, RatchetTree, UpdatePath, int]) -> None:
    group, _, path, _ = scene
    refuse(group, replace(path, nodes=path.nodes[:-1]), ProtocolError, "7.6")
    nodes = list(path.nodes)
    nodes[0] = replace(nodes[0], encrypted_path_secret=nodes[0].encrypted_path_secret * 2)
    refuse(group, replace(path, nodes=tuple(nodes)), ProtocolError, "7.6")


def test_refuses_keys_already_in_the_tree(scene: tuple[Members, RatchetTree, UpdatePath, int]) -> None:
    group, _, path, _ = scene
    taken = next(n.encryption_key for x in range(1, group.tree.n_nodes, 2) if (n := group.tree.node(x)) is not None)
    nodes = list(path.nodes)
    nodes[-1] = replace(nodes[-1], encryption_key=taken)
    refuse(group, replace(path, nodes=tuple(nodes)), ProtocolError, "12.4.2")
    nodes[-1] = replace(nodes[-1], encryption_key=nodes[0].encryption_key)
    refuse(group, replace(path, nodes=tuple(nodes)), ProtocolError, "12.4.2")


def forge_path_key(group: Members, path: UpdatePath, sender: int, position: int) -> UpdatePath:
    """A committer lying consistently: a random key at ``position``, parent hashes and signature to match."""
    keys = [n.encryption_key for n in path.nodes]
    keys[position] = SUITE.generate_hpke_key_pair().public_key
    filtered = group.tree.filtered_path(sender)
    above = b""
    for (_, sibling), key in zip(reversed(filtered), reversed(keys), strict=True):
        above = parent_hash(SUITE, key, above, group.tree.node_tree_hash(sibling))
    leaf = resigned(group.members[sender], path.leaf_node, sender, parent_hash=above)
    nodes = tuple(replace(n, encryption_key=k) for n, k in zip(path.nodes, keys, strict=True))
    return UpdatePath(leaf, nodes)


def test_a_path_key_that_the_secret_does_not_derive_is_caught_on_decryption() -> None:
    group = Members.start(seed=8)
    group.add(6)
    group.commit(0)
    sender = 5
    prepared = create_update_path(
        group.tree.copy(), sender, group_id=GROUP_ID, signature_private_key=group.members[sender].signature_private
    )
    path = prepared.encrypt(b"placeholder")
    forged = forge_path_key(group, path, sender, position=len(path.nodes) - 1)  # the root
    tree = group.tree.copy()
    merge_update_path(tree, sender, forged, group_id=GROUP_ID)
    # The honest path secrets, encrypted under the forged tree's provisional context.
    context = provisional_context(SUITE, tree)
    encrypted = prepared.encrypt(context).nodes
    forged = replace(
        forged,
        nodes=tuple(
            replace(n, encrypted_path_secret=e.encrypted_path_secret)
            for n, e in zip(forged.nodes, encrypted, strict=True)
        ),
    )
    state = group.members[4].private_tree  # shares the sender's first path node: derives up to the root
    assert state is not None
    with pytest.raises(VerificationError) as info:
        decrypt_update_path(tree, state, sender, forged, context)
    assert info.value.section == "7.5"


def test_decryption_failures(scene: tuple[Members, RatchetTree, UpdatePath, int]) -> None:
    group, _, path, sender = scene
    tree = group.tree.copy()
    merge_update_path(tree, sender, path, group_id=GROUP_ID)
    context = provisional_context(SUITE, tree)
    state = group.members[0].private_tree
    assert state is not None
    decrypt_update_path(tree, state, sender, path, context)  # the honest case works
    with pytest.raises(DecryptionError):
        decrypt_update_path(tree, state, sender, path, context + b"!")
    nodes = list(path.nodes)
    ct = nodes[-1].encrypted_path_secret[0]
    nodes[-1] = UpdatePathNode(
        nodes[-1].encryption_key, (HPKECiphertext(ct.kem_output, bytes([ct.ciphertext[0] ^ 1]) + ct.ciphertext[1:]),)
    )
    with pytest.raises(DecryptionError):
        decrypt_update_path(tree, state, sender, replace(path, nodes=tuple(nodes)), context)
    stranger = PrivateTree.create(0, SUITE.generate_hpke_key_pair().private_key)
    with pytest.raises(DecryptionError) as info:
        decrypt_update_path(tree, stranger, sender, path, context)
    assert info.value.section == "7.5"
    with pytest.raises(UsageError):
        decrypt_update_path(tree, PrivateTree.create(sender, b"k" * 32), sender, path, context)


def test_joiners_check_the_path_secret_against_the_tree() -> None:
    group = Members.start(seed=9)
    group.add(2)
    added = group.add(1)
    prepared, _ = group.commit(0, added=added)
    joiner = group.members[3]
    good = prepared.path_secret_for(3)
    assert (
        private_tree_for_joiner(group.tree, 3, joiner.init_private, committer=0, path_secret=good).verify(group.tree)
        is None
    )
    with pytest.raises(VerificationError) as info:
        private_tree_for_joiner(group.tree, 3, joiner.init_private, committer=0, path_secret=bytes(32))
    assert info.value.section == "12.4.3.1"
    with pytest.raises(UsageError):
        private_tree_for_joiner(group.tree, 3, group.members[1].init_private, committer=0, path_secret=good)
    without = private_tree_for_joiner(group.tree, 3, joiner.init_private)
    assert sorted(without.keys) == [6]
    with pytest.raises(UsageError):
        prepared.path_secret_for(9)


def test_the_new_leaf_is_signed_with_the_given_parameters() -> None:
    group = Members.start(seed=10)
    group.add(1)
    member = group.members[1]
    staged = group.tree.copy()
    credential = Credential.basic(b"renamed")
    params = LeafNodeParams(member.signature_public, credential, CAPABILITIES)
    prepared = create_update_path(
        staged, 1, group_id=GROUP_ID, signature_private_key=member.signature_private, leaf_params=params
    )
    leaf = prepared.leaf_node
    assert leaf.credential == credential and leaf.leaf_node_source == LeafNodeSource.commit
    assert leaf.encryption_key != member.init_public
    assert isinstance(leaf.tbs(GROUP_ID, 1), LeafNodeTBS)
    SUITE.verify_with_label(member.signature_public, b"LeafNodeTBS", leaf.tbs(GROUP_ID, 1).encode(), leaf.signature)
