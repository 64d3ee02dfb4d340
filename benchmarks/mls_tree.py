"""Cost of the ratchet tree and TreeKEM (RFC 9420 §4, §7) at 1,000 and 10,000 members, suite 0x0001.

Run: ``.venv/bin/python benchmarks/mls_tree.py`` (``--sizes 1000`` for a quick pass).

The trees are built directly in a steady state: every leaf and every parent
node is filled, as after many commits, and the tree is parent-hash valid (each
parent is linked from its left child, the right child carries the parent hash
of an earlier epoch). Building one takes a few seconds at 10,000 members and
is not timed. Each figure is the best of a few runs; nothing is asserted.

Rows:
- tree hash (cold): decode the tree, then hash every node.
- tree hash after one path update: rehash after a commit's path was merged.
- UpdatePath create: stage a copy, refresh the committer's path, hash, encrypt.
- UpdatePath apply: stage a copy, validate and merge the path, hash, decrypt as
  the member farthest away (its path secret is the root's).
- join validation: decode, tree hash, and every check of §12.4.3.1; beside it
  the bare signature checks it contains, the floor.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable

from calpico.mls.commit import UpdatePath
from calpico.mls.credentials import Credential
from calpico.mls.crypto import CipherSuite, get_suite
from calpico.mls.group_context import GroupContext, ProtocolVersion
from calpico.mls.tree.hashes import parent_hash
from calpico.mls.tree.nodes import Capabilities, LeafNode, LeafNodeSource, LeafNodeTBS, Lifetime, ParentNode
from calpico.mls.tree.private_tree import PrivateTree
from calpico.mls.tree.ratchet_tree import RatchetTree
from calpico.mls.tree.treekem import create_update_path, decrypt_update_path, merge_update_path
from calpico.mls.tree.validation import leaf_node_tbs, validate_tree

GROUP_ID = b"benchmark group"
CAPABILITIES = Capabilities(versions=(1,), cipher_suites=(1,), credentials=(1,))


class SteadyTree:
    """A filled, parent-hash-valid tree and every private key in it."""

    def __init__(self, suite: CipherSuite, n_members: int) -> None:
        self.suite = suite
        n_leaves = 1
        while n_leaves < n_members:
            n_leaves *= 2
        self.width = 2 * n_leaves - 1
        self.n_members = n_members
        self.nodes: list[LeafNode | ParentNode | None] = [None] * self.width
        self.hpke: dict[int, bytes] = {}
        self.signing: dict[int, bytes] = {}
        self.hashes: dict[int, bytes] = {}
        self._build(n_leaves - 1, b"")
        while self.nodes[-1] is None:
            self.nodes.pop()
        self.tree = RatchetTree.from_nodes(suite, self.nodes)

    def _filled(self, x: int) -> bool:
        """Leaves of members; parents with members on both sides (others drop out of filtered paths)."""
        if x & 1 == 0:
            return x >> 1 < self.n_members
        k = (x ^ (x + 1)).bit_length() - 1
        first_on_right = ((x >> (k + 1)) << k) + (1 << (k - 1))
        return first_on_right < self.n_members

    def _build(self, x: int, parent_hash_value: bytes | None) -> bytes:
        """Fill the subtree under ``x`` (the node's parent_hash given) and return its tree hash."""
        suite = self.suite
        if not self._filled(x):
            if x & 1 == 0:
                return self._blank_hash(x)
            # A blank parent drops out of the filtered paths: its left child links past it.
            k = (x ^ (x + 1)).bit_length() - 1
            right_hash = self._build(x ^ (3 << (k - 1)), None)
            left_hash = self._build(x ^ (1 << (k - 1)), parent_hash_value)
            return suite.hash(
                b"\x02\x00" + bytes((len(left_hash),)) + left_hash + bytes((len(right_hash),)) + right_hash
            )
        private_key, public_key = suite.generate_hpke_key_pair()
        self.hpke[x] = private_key
        if x & 1 == 0:
            leaf = self._leaf(x >> 1, public_key, parent_hash_value)
            self.nodes[x] = leaf
            return suite.hash(b"\x01" + (x >> 1).to_bytes(4, "big") + b"\x01" + leaf.encode())
        node = ParentNode(public_key, parent_hash_value or b"", ())
        self.nodes[x] = node
        k = (x ^ (x + 1)).bit_length() - 1
        left, right = x ^ (1 << (k - 1)), x ^ (3 << (k - 1))
        right_hash = self._build(right, None)
        left_hash = self._build(left, parent_hash(suite, public_key, node.parent_hash, right_hash))
        enc = node.encode()
        return suite.hash(
            b"\x02\x01" + enc + bytes((len(left_hash),)) + left_hash + bytes((len(right_hash),)) + right_hash
        )

    def _blank_hash(self, x: int) -> bytes:
        suite = self.suite
        if x & 1 == 0:
            return suite.hash(b"\x01" + (x >> 1).to_bytes(4, "big") + b"\x00")
        k = (x ^ (x + 1)).bit_length() - 1
        left, right = self._blank_hash(x ^ (1 << (k - 1))), self._blank_hash(x ^ (3 << (k - 1)))
        return suite.hash(b"\x02\x00" + bytes((len(left),)) + left + bytes((len(right),)) + right)

    def _leaf(self, index: int, encryption_key: bytes, parent_hash_value: bytes | None) -> LeafNode:
        suite = self.suite
        signature_private, signature_public = suite.generate_signature_key_pair()
        self.signing[index] = signature_private
        if parent_hash_value is None:
            source, lifetime, group_id, leaf_index = LeafNodeSource.key_package, Lifetime(0, 2**64 - 1), None, None
        else:
            source, lifetime, group_id, leaf_index = LeafNodeSource.commit, None, GROUP_ID, index
        tbs = LeafNodeTBS(
            encryption_key,
            signature_public,
            Credential.basic(b"member %d" % index),
            CAPABILITIES,
            source,
            lifetime,
            parent_hash_value,
            (),
            group_id,
            leaf_index,
        )
        return tbs.with_signature(suite.sign_with_label(signature_private, b"LeafNodeTBS", tbs.encode()))

    def private_tree(self, leaf: int) -> PrivateTree:
        keys = {x: self.hpke[x] for x in [2 * leaf, *self.tree.direct_path(2 * leaf)] if x in self.hpke}
        return PrivateTree.create(leaf, self.hpke[2 * leaf]).with_keys(keys)


def best_of(fn: Callable[[], object], runs: int) -> float:
    """Milliseconds of the fastest of ``runs`` calls."""
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best * 1e3


def context(suite: CipherSuite, tree_hash: bytes) -> bytes:
    return GroupContext(ProtocolVersion.mls10, suite.suite_id, GROUP_ID, 8, tree_hash, b"\x00" * 32, ()).encode()


def run(suite: CipherSuite, n: int, runs: int, join_sizes: set[int]) -> None:
    started = time.perf_counter()
    fixture = SteadyTree(suite, n)
    tree = fixture.tree
    data = tree.to_bytes()
    print(
        f"\n{n:,} members ({tree.n_leaves:,} leaves, {len(data) / 1e6:.2f} MB on the wire; built in "
        f"{time.perf_counter() - started:.1f} s)"
    )

    decoded = [RatchetTree.from_bytes(suite, data) for _ in range(runs)]
    print(
        f"  decode tree                          {best_of(lambda: RatchetTree.from_bytes(suite, data), runs):9.2f} ms"
    )
    print(f"  tree hash (cold, after decode)       {best_of(lambda: decoded.pop().tree_hash(), runs):9.2f} ms")

    committer, receiver = 0, n - 1
    tree.tree_hash()

    def create() -> UpdatePath:
        staged = tree.copy()
        prepared = create_update_path(
            staged, committer, group_id=GROUP_ID, signature_private_key=fixture.signing[committer]
        )
        return prepared.encrypt(context(suite, staged.tree_hash()))

    path = create()

    def rehash() -> None:
        merged = tree.copy()
        merge_update_path(merged, committer, path, group_id=GROUP_ID)
        start = time.perf_counter()
        merged.tree_hash()
        timings.append(time.perf_counter() - start)

    timings: list[float] = []
    for _ in range(runs):
        rehash()
    print(f"  tree hash after one path update      {min(timings) * 1e3:9.3f} ms")
    print(f"  copy (staging)                       {best_of(tree.copy, runs):9.3f} ms")
    print(f"  UpdatePath create (+hash, encrypt)   {best_of(create, runs):9.2f} ms")

    private = fixture.private_tree(receiver)

    def apply() -> None:
        merged = tree.copy()
        merge_update_path(merged, committer, path, group_id=GROUP_ID)
        decrypt_update_path(merged, private, committer, path, context(suite, merged.tree_hash()))

    print(f"  UpdatePath apply (+hash, decrypt)    {best_of(apply, runs):9.2f} ms")

    if n in join_sizes:

        def join() -> None:
            received = RatchetTree.from_bytes(suite, data)
            received.tree_hash()
            validate_tree(received, GROUP_ID)

        members = list(tree.members())
        tbs = [(leaf, leaf_node_tbs(leaf, GROUP_ID, i)) for i, leaf in members]

        def signatures_only() -> None:
            for leaf, message in tbs:
                suite.verify_with_label(leaf.signature_key, b"LeafNodeTBS", message, leaf.signature)

        join_runs = max(1, runs // 2)
        print(f"  join validation (decode+hash+check)  {best_of(join, join_runs):9.1f} ms")
        print(f"    of which floor: {len(tbs):,} signatures   {best_of(signatures_only, join_runs):9.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--join", type=int, nargs="*", default=[1000, 10000], help="sizes to time join validation at")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    suite = get_suite(1)
    print(f"calpico.mls ratchet tree, suite 0x0001, best of {args.runs} (pid {os.getpid()})")
    for n in args.sizes:
        run(suite, n, args.runs, set(args.join))


if __name__ == "__main__":
    main()
