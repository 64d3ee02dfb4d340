"""RFC 9420 §7.3, §7.9.2, §12.4.3.1 — leaf validation, parent-hash validity, whole-tree checks."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from calpico.mls.credentials import Credential
from calpico.mls.errors import ProtocolError, UsageError, VerificationError
from calpico.mls.extensions import ApplicationId, Extension, RequiredCapabilities
from calpico.mls.tree.nodes import Capabilities, LeafNode, LeafNodeSource, LeafNodeTBS, Lifetime, ParentNode
from calpico.mls.tree.ratchet_tree import RatchetTree, TreeNode
from calpico.mls.tree.validation import (
    check_unmerged_leaves,
    leaf_node_tbs,
    validate_leaf_in_tree,
    validate_leaf_node,
    validate_tree,
    verify_leaf_signature,
    verify_parent_hashes,
)

from .helpers import CAPABILITIES, GROUP_ID, SUITE, Member, Members, all_nodes, fake_leaf, fake_parent, seeded


@pytest.fixture(scope="module")
def grown() -> Members:
    """A group that went through adds, commits, removes and late adds (so some leaves are unmerged)."""
    group = Members.start(seed=11)
    group.add(6)
    group.commit(0)
    group.commit(5)
    group.remove(3)
    group.commit(2)
    added = group.add(2)
    group.commit(6, added=added)
    group.add(3)
    group.commit(1)
    group.remove(9)
    group.commit(8)
    group.add(2)  # unmerged at the non-blank parents above them
    return group


def rebuilt(tree: RatchetTree, changes: dict[int, TreeNode | None]) -> RatchetTree:
    nodes = all_nodes(tree)
    for x, value in changes.items():
        nodes[x] = value
    return RatchetTree.from_nodes(SUITE, nodes)


def signed(member: Member, **overrides: object) -> LeafNode:
    """A key_package leaf of ``member`` with some fields replaced, correctly signed."""
    leaf = member.key_package_leaf()
    fields = {
        "encryption_key": leaf.encryption_key,
        "signature_key": leaf.signature_key,
        "credential": leaf.credential,
        "capabilities": leaf.capabilities,
        "leaf_node_source": leaf.leaf_node_source,
        "lifetime": leaf.lifetime,
        "parent_hash": leaf.parent_hash,
        "extensions": leaf.extensions,
        "group_id": None,
        "leaf_index": None,
    }
    fields.update(overrides)
    tbs = LeafNodeTBS(**fields)  # type: ignore[arg-type]
    return tbs.with_signature(SUITE.sign_with_label(member.signature_private, b"LeafNodeTBS", tbs.encode()))


# --- whole trees (§12.4.3.1) ------------------------------------------------------------------


def test_a_tree_grown_by_real_operations_is_valid(grown: Members) -> None:
    tree = grown.tree
    assert any(isinstance(n, ParentNode) and n.unmerged_leaves for n in all_nodes(tree))
    validate_tree(tree, GROUP_ID)
    received = RatchetTree.from_bytes(SUITE, tree.to_bytes())
    validate_tree(received, GROUP_ID, clock=lambda: 1_700_000_000)
    grown.check_private_trees()


def test_a_changed_parent_key_breaks_parent_hash_validity(grown: Members) -> None:
    tree = grown.tree
    x = next(x for x in range(1, tree.n_nodes, 2) if tree.node(x) is not None)
    node = tree.parent_node(x)
    assert node is not None
    tampered = rebuilt(tree, {x: replace(node, encryption_key=bytes(32))})
    with pytest.raises(VerificationError) as info:
        validate_tree(tampered, GROUP_ID)
    assert info.value.section == "7.9.2"


def test_a_changed_parent_hash_field_breaks_parent_hash_validity(grown: Members) -> None:
    tree = grown.tree
    for x in range(1, tree.n_nodes, 2):
        node = tree.parent_node(x)
        if node is not None and node.parent_hash:
            tampered = rebuilt(tree, {x: replace(node, parent_hash=bytes(len(node.parent_hash)))})
            with pytest.raises(VerificationError) as info:
                verify_parent_hashes(tampered)
            assert info.value.section == "7.9.2"
            return
    pytest.fail("no parent node with a parent hash")


def test_a_parent_set_out_of_nowhere_is_not_parent_hash_valid(grown: Members) -> None:
    tree = grown.tree
    blank = next(x for x in range(1, tree.n_nodes, 2) if tree.node(x) is None and not tree.resolution_is_empty(x))
    tampered = rebuilt(tree, {blank: fake_parent(random.Random(1))})
    with pytest.raises(VerificationError, match="not parent-hash valid"):
        verify_parent_hashes(tampered)


def test_a_bad_leaf_signature_is_rejected() -> None:
    # No parent nodes here: in a tree with parents a changed leaf also breaks the parent hashes above.
    group = Members.start(seed=15)
    group.add(4)
    tree = group.tree
    validate_tree(tree, GROUP_ID)
    index, leaf = 3, tree.leaf_node(3)
    assert leaf is not None
    forged = replace(leaf, signature=bytes(len(leaf.signature)))
    with pytest.raises(VerificationError) as info:
        validate_tree(rebuilt(tree, {2 * index: forged}), GROUP_ID)
    assert info.value.section == "7.3"
    assert f"leaf {index}" in str(info.value)


def test_committed_leaves_are_bound_to_their_group(grown: Members) -> None:
    with pytest.raises(VerificationError) as info:
        validate_tree(grown.tree, b"another group")
    assert info.value.section == "7.3"


def test_lifetimes_are_checked_only_with_a_clock() -> None:
    rng = seeded(3)
    member = Member.new(SUITE, b"old", rng)
    tree = RatchetTree.create(SUITE, member.key_package_leaf(lifetime=Lifetime(100, 200)))
    validate_tree(tree, GROUP_ID)
    validate_tree(tree, GROUP_ID, clock=lambda: 150.5)
    with pytest.raises(ProtocolError) as info:
        validate_tree(tree, GROUP_ID, clock=lambda: 201)
    assert info.value.section == "7.3"
    with pytest.raises(ProtocolError):
        validate_tree(tree, GROUP_ID, clock=lambda: 150, max_lifetime=99)


def test_unmerged_leaves_must_be_consistent() -> None:
    rnd = random.Random(5)
    leaves: list[TreeNode | None] = [fake_leaf(rnd) for _ in range(4)]
    nodes: list[TreeNode | None] = [leaves[0], None, leaves[1], None, leaves[2], None, leaves[3]]
    cases = {
        "outside": {1: fake_parent(rnd, [2])},  # leaf 2 is not below node 1
        "blank": {1: fake_parent(rnd, [1]), 2: None},
        "missing-between": {3: fake_parent(rnd, [0]), 1: fake_parent(rnd)},
    }
    for name, changes in cases.items():
        values = list(nodes)
        for x, value in changes.items():
            values[x] = value
        with pytest.raises(ProtocolError) as info:
            check_unmerged_leaves(RatchetTree.from_nodes(SUITE, values))
        assert info.value.section == "12.4.3.1", name
    fine = list(nodes)
    fine[3], fine[1] = fake_parent(rnd, [0, 3]), fake_parent(rnd, [0])
    check_unmerged_leaves(RatchetTree.from_nodes(SUITE, fine))


def test_duplicate_keys_in_a_received_tree_are_rejected(grown: Members) -> None:
    tree = grown.tree
    (_, first), (b, second) = list(tree.members())[:2]
    copied = replace(second, encryption_key=first.encryption_key)
    with pytest.raises(ProtocolError) as info:
        RatchetTree.from_bytes(SUITE, rebuilt_bytes(tree, {2 * b: copied}))
    assert info.value.section == "7.3"


def rebuilt_bytes(tree: RatchetTree, changes: dict[int, TreeNode | None]) -> bytes:
    from calpico.mls.tree.nodes import Node
    from calpico.mls.tree.nodes import RatchetTree as RatchetTreeStruct

    nodes = all_nodes(tree)
    for x, value in changes.items():
        nodes[x] = value
    while nodes[-1] is None:
        nodes.pop()
    return RatchetTreeStruct(tuple(None if n is None else Node.of(n) for n in nodes)).encode()


# --- one leaf (§7.3) ---------------------------------------------------------------------------


@pytest.fixture
def member() -> Member:
    return Member.new(SUITE, b"leaf", seeded(8))


def test_a_good_key_package_leaf_passes(member: Member) -> None:
    leaf = member.key_package_leaf()
    validate_leaf_node(SUITE, leaf, source=LeafNodeSource.key_package, credential_types=[1])
    verify_leaf_signature(SUITE, leaf, None, None, encoded=leaf.encode())
    assert leaf_node_tbs(leaf, None, None, leaf.encode()) == leaf.tbs().encode()


def test_group_leaves_sign_their_group_and_index(member: Member) -> None:
    leaf = signed(member, leaf_node_source=LeafNodeSource.update, lifetime=None, group_id=b"g", leaf_index=5)
    validate_leaf_node(SUITE, leaf, source=LeafNodeSource.update, group_id=b"g", leaf_index=5)
    assert leaf_node_tbs(leaf, b"g", 5, leaf.encode()) == leaf.tbs(b"g", 5).encode()
    for group_id, index in ((b"g", 4), (b"h", 5)):
        with pytest.raises(VerificationError):
            validate_leaf_node(SUITE, leaf, group_id=group_id, leaf_index=index)
    with pytest.raises(UsageError):
        validate_leaf_node(SUITE, leaf)


@pytest.mark.parametrize(
    ("overrides", "check", "section"),
    [
        ({}, {"source": LeafNodeSource.commit}, "7.3"),
        ({"capabilities": Capabilities(credentials=(2,))}, {}, "7.2"),
        ({}, {"credential_types": [1, 2]}, "7.3"),
        ({"extensions": (Extension(0xF00D, b""),)}, {}, "7.3"),
        ({"extensions": (Extension(0x0A0A, b""), Extension(0x0A0A, b""))}, {}, "13.4"),
        ({}, {"required_capabilities": RequiredCapabilities(extension_types=(0xF00D,))}, "11.1"),
        ({}, {"required_capabilities": RequiredCapabilities(proposal_types=(0xF00D,))}, "11.1"),
        ({}, {"required_capabilities": RequiredCapabilities(credential_types=(2,))}, "11.1"),
        ({"lifetime": Lifetime(10, 20)}, {"clock": lambda: 21.0}, "7.3"),
        ({"lifetime": Lifetime(10, 20)}, {"clock": lambda: 9.0}, "7.3"),
    ],
    ids=[
        "wrong-source",
        "own-credential-unlisted",
        "group-credential-unsupported",
        "extension-unlisted",
        "extension-repeated",
        "required-extension",
        "required-proposal",
        "required-credential",
        "expired",
        "not-yet-valid",
    ],
)
def test_leaf_rules(member: Member, overrides: dict[str, object], check: dict[str, object], section: str) -> None:
    leaf = signed(member, **overrides)
    with pytest.raises(ProtocolError) as info:
        validate_leaf_node(SUITE, leaf, **check)  # type: ignore[arg-type]
    assert info.value.section == section


def test_default_and_listed_extensions_and_requirements_pass(member: Member) -> None:
    capabilities = Capabilities(
        versions=(1,), cipher_suites=(1,), extensions=(0xF00D, 0x0A0A), proposals=(0xF00E,), credentials=(1, 2)
    )
    leaf = signed(
        member,
        capabilities=capabilities,
        extensions=(Extension.of(ApplicationId(b"app")), Extension(0xF00D, b"x"), Extension(0x0A0A, b"")),
    )
    required = RequiredCapabilities(extension_types=(0xF00D, 2), proposal_types=(0xF00E, 1), credential_types=(2,))
    validate_leaf_node(SUITE, leaf, required_capabilities=required, credential_types=[1, 2], clock=lambda: 1e9)


# --- a leaf entering a tree -------------------------------------------------------------------------


def test_a_new_credential_type_must_be_supported_by_every_member() -> None:
    group = Members.start(seed=12)
    group.add(2)
    newcomer = Member.new(SUITE, b"x509", seeded(13))
    both = replace(CAPABILITIES, credentials=(1, 2))
    leaf = signed(newcomer, credential=Credential.x509([b"cert"]), capabilities=both)
    with pytest.raises(ProtocolError, match="does not support credential type 2") as info:
        validate_leaf_in_tree(group.tree, leaf, source=LeafNodeSource.key_package)
    assert info.value.section == "7.3"
    basic_only_newcomer = signed(newcomer, capabilities=CAPABILITIES)
    validate_leaf_in_tree(group.tree, basic_only_newcomer, source=LeafNodeSource.key_package)


def test_a_leaf_entering_a_tree_needs_fresh_keys() -> None:
    group = Members.start(seed=14)
    group.add(2)
    existing = group.members[1]
    again = existing.key_package_leaf()
    with pytest.raises(ProtocolError) as info:
        validate_leaf_in_tree(group.tree, again, source=LeafNodeSource.key_package)
    assert info.value.section == "7.3"
    same_keys = signed(existing, leaf_node_source=LeafNodeSource.update, lifetime=None, group_id=GROUP_ID, leaf_index=1)
    with pytest.raises(ProtocolError, match="new encryption key"):
        validate_leaf_in_tree(
            group.tree, same_keys, source=LeafNodeSource.update, group_id=GROUP_ID, leaf_index=1, replacing=1
        )
    fresh = signed(
        existing,
        encryption_key=SUITE.generate_hpke_key_pair().public_key,
        leaf_node_source=LeafNodeSource.update,
        lifetime=None,
        group_id=GROUP_ID,
        leaf_index=1,
    )
    validate_leaf_in_tree(group.tree, fresh, source=LeafNodeSource.update, group_id=GROUP_ID, leaf_index=1, replacing=1)


def test_an_already_verified_leaf_can_skip_only_its_signature_check() -> None:
    # A proposal's leaf is verified when the proposal arrives; committing it by reference need not redo it.
    group = Members.start(seed=16)
    group.add(2)
    newcomer = Member.new(SUITE, b"newcomer", seeded(17))
    leaf = newcomer.key_package_leaf()
    forged = replace(leaf, signature=bytes(len(leaf.signature)))
    with pytest.raises(VerificationError) as info:
        validate_leaf_in_tree(group.tree, forged, source=LeafNodeSource.key_package)
    assert info.value.section == "7.3"
    validate_leaf_in_tree(group.tree, forged, source=LeafNodeSource.key_package, verify_signature=False)
    # Every other rule still applies.
    with pytest.raises(ProtocolError, match="expected update"):
        validate_leaf_in_tree(group.tree, forged, source=LeafNodeSource.update, verify_signature=False)
    stale = signed(newcomer, lifetime=Lifetime(10, 20))
    with pytest.raises(ProtocolError, match="lifetime"):
        validate_leaf_in_tree(
            group.tree, stale, source=LeafNodeSource.key_package, clock=lambda: 30.0, verify_signature=False
        )
    with pytest.raises(ProtocolError, match="encryption key already used"):
        existing = group.members[1].key_package_leaf()
        validate_leaf_in_tree(group.tree, existing, source=LeafNodeSource.key_package, verify_signature=False)
