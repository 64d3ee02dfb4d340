"""Builders for ratchet-tree tests: signed members, fake leaves, a naive tree hash, and a TreeKEM harness.

`Members` drives a tree through real operations (adds, removes, commits with
UpdatePaths created by one member and processed by all the others), so the
trees it yields are what a group would hold. `fake_leaf` makes unsigned
leaves with random keys, for tests that exercise only the tree's structure.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from calpico.mls.commit import UpdatePath
from calpico.mls.credentials import Credential
from calpico.mls.crypto import CipherSuite, get_suite
from calpico.mls.group_context import GroupContext, ProtocolVersion
from calpico.mls.tree.nodes import Capabilities, LeafNode, LeafNodeSource, LeafNodeTBS, Lifetime, ParentNode
from calpico.mls.tree.private_tree import PrivateTree
from calpico.mls.tree.ratchet_tree import RatchetTree, TreeNode
from calpico.mls.tree.treekem import (
    PreparedPath,
    create_update_path,
    decrypt_update_path,
    merge_update_path,
    private_tree_for_joiner,
)

SUITE = get_suite(1)
GROUP_ID = b"tree tests"
CAPABILITIES = Capabilities(versions=(1,), cipher_suites=(1,), credentials=(1,))
FOREVER = Lifetime(0, 2**64 - 1)


def seeded(seed: int) -> Callable[[int], bytes]:
    """A deterministic stand-in for os.urandom."""
    return random.Random(seed).randbytes


def fake_leaf(rnd: random.Random, name: bytes = b"m", source: LeafNodeSource = LeafNodeSource.key_package) -> LeafNode:
    """An unsigned leaf with random 32-byte keys: enough for structure and hashing tests."""
    return LeafNode(
        rnd.randbytes(32),
        rnd.randbytes(32),
        Credential.basic(name),
        CAPABILITIES,
        source,
        FOREVER if source == LeafNodeSource.key_package else None,
        rnd.randbytes(32) if source == LeafNodeSource.commit else None,
        (),
        rnd.randbytes(64),
    )


def fake_parent(rnd: random.Random, unmerged: Sequence[int] = ()) -> ParentNode:
    return ParentNode(rnd.randbytes(32), rnd.randbytes(32), tuple(unmerged))


def naive_tree_hash(suite: CipherSuite, nodes: Sequence[TreeNode | None], x: int) -> bytes:
    """§7.8 written straight from the RFC: no caches, every node re-encoded."""
    node = nodes[x]
    if x % 2 == 0:
        body = b"\x00" if node is None else b"\x01" + node.encode()
        return suite.hash(b"\x01" + (x // 2).to_bytes(4, "big") + body)
    level = 0
    while (x >> level) & 1:
        level += 1
    left = naive_tree_hash(suite, nodes, x - (1 << (level - 1)))
    right = naive_tree_hash(suite, nodes, x + (1 << (level - 1)))
    body = b"\x00" if node is None else b"\x01" + node.encode()
    return suite.hash(b"\x02" + body + bytes([len(left)]) + left + bytes([len(right)]) + right)


def all_nodes(tree: RatchetTree) -> list[TreeNode | None]:
    return [tree.node(x) for x in range(tree.n_nodes)]


@dataclass
class Member:
    """A client: its signature key pair and its private tree state once it is in the tree."""

    suite: CipherSuite
    name: bytes
    signature_private: bytes
    signature_public: bytes
    init_private: bytes
    init_public: bytes
    private_tree: PrivateTree | None = None

    @classmethod
    def new(cls, suite: CipherSuite, name: bytes, rng: Callable[[int], bytes]) -> Member:
        sig_priv, sig_pub = suite.generate_signature_key_pair(rng)
        hpke_priv, hpke_pub = suite.derive_key_pair(rng(suite.nh))
        return cls(suite, name, sig_priv, sig_pub, hpke_priv, hpke_pub)

    def key_package_leaf(self, lifetime: Lifetime = FOREVER, capabilities: Capabilities = CAPABILITIES) -> LeafNode:
        tbs = LeafNodeTBS(
            self.init_public,
            self.signature_public,
            Credential.basic(self.name),
            capabilities,
            LeafNodeSource.key_package,
            lifetime,
            None,
            (),
        )
        return tbs.with_signature(self.suite.sign_with_label(self.signature_private, b"LeafNodeTBS", tbs.encode()))


def provisional_context(suite: CipherSuite, tree: RatchetTree, epoch: int = 1) -> bytes:
    return GroupContext(ProtocolVersion.mls10, suite.suite_id, GROUP_ID, epoch, tree.tree_hash(), b"", ()).encode()


@dataclass
class Members:
    """A tree and the private state of everyone in it, evolved by real TreeKEM operations."""

    suite: CipherSuite
    rng: Callable[[int], bytes]
    tree: RatchetTree
    members: dict[int, Member] = field(default_factory=dict)
    epoch: int = 0

    @classmethod
    def start(cls, suite: CipherSuite = SUITE, seed: int = 0) -> Members:
        rng = seeded(seed)
        creator = Member.new(suite, b"member-0", rng)
        tree = RatchetTree.create(suite, creator.key_package_leaf())
        creator.private_tree = PrivateTree.create(0, creator.init_private)
        return cls(suite, rng, tree, {0: creator})

    def add(self, count: int = 1) -> list[int]:
        """Add ``count`` new members (as Add proposals would); returns their leaf indices."""
        added = []
        for _ in range(count):
            member = Member.new(self.suite, b"member-%d" % len(self.members), self.rng)
            index = self.tree.add_leaf(member.key_package_leaf())
            member.private_tree = PrivateTree.create(index, member.init_private)
            self.members[index] = member
            added.append(index)
        return added

    def remove(self, index: int) -> None:
        self.tree.remove_leaf(index)
        del self.members[index]
        for member in self.members.values():
            assert member.private_tree is not None
            member.private_tree = member.private_tree.pruned(self.tree)

    def commit(self, committer: int, *, added: Sequence[int] = ()) -> tuple[PreparedPath, UpdatePath]:
        """``committer`` sends a path; every other old member processes it; joiners use the path secret.

        Asserts that everyone ends with the same tree and commit secret.
        """
        self.epoch += 1
        old_tree = self.tree
        staged = old_tree.copy()
        member = self.members[committer]
        prepared = create_update_path(
            staged, committer, group_id=GROUP_ID, signature_private_key=member.signature_private, rng=self.rng
        )
        context = provisional_context(self.suite, staged, self.epoch)
        path = UpdatePath.decode(prepared.encrypt(context, exclude=added, rng=self.rng).encode())
        member.private_tree = prepared.private_tree
        for index, other in self.members.items():
            if index == committer:
                continue
            assert other.private_tree is not None
            if index in added:
                other.private_tree = private_tree_for_joiner(
                    staged,
                    index,
                    other.init_private,
                    committer=committer,
                    path_secret=prepared.path_secret_for(index),
                )
                continue
            theirs = old_tree.copy()
            merge_update_path(theirs, committer, path, group_id=GROUP_ID, exclude=added)
            assert theirs == staged
            assert theirs.tree_hash() == staged.tree_hash()
            received = decrypt_update_path(
                theirs,
                other.private_tree,
                committer,
                path,
                provisional_context(self.suite, theirs, self.epoch),
                exclude=added,
            )
            assert received.commit_secret == prepared.commit_secret
            other.private_tree = received.private_tree
        self.tree = staged
        return prepared, path

    def check_private_trees(self) -> None:
        for member in self.members.values():
            assert member.private_tree is not None
            member.private_tree.verify(self.tree)
