"""RFC 9420 §4, §7.7, §7.8 and §12.4.3.3 — the ratchet tree.

Theory of operation
-------------------
`RatchetTree` is the public tree of one group in one epoch, in the array
representation of Appendix C: node ``x`` at list position ``x``, leaf ``i``
at ``2i``, blank nodes as ``None``. The tree is always full: it has ``2^d``
leaves and ``2^(d+1) - 1`` nodes, even though the wire form
(`to_bytes`, `to_struct`) drops the trailing blanks.

The tree is mutable and cheap to copy: a commit is staged on `copy()` and the
copy replaces the original once the commit is accepted. Every mutation goes
through one private setter that keeps four caches consistent:

- ``_hashes[x]``: the tree hash of node ``x`` (§7.8), or None when unknown.
  Changing a node clears its own hash and those of its ancestors, and nothing
  else; so after a commit only the changed paths are rehashed. A cleared hash
  implies cleared hashes above it, which lets invalidation stop early.
- ``_encoded[x]``: the wire encoding of the node's LeafNode/ParentNode, taken
  from the received bytes when the tree was decoded (a LeafNode's is the one
  it remembers), else encoded on first use. Tree hashing, serialisation and leaf signature checks read it.
- ``_filled[x]``: how many non-blank nodes the subtree under ``x`` holds. A
  resolution (§4.1.1) skips empty subtrees with it, so computing one costs
  about its output, and the filtered direct path (§4.1.2) is O(log n).
- lookups from signature key to leaf and from encryption key to node, and
  the credential types in use. They also enforce the uniqueness rules of
  §7.3: a tree never holds an encryption key twice or a signature key in two
  leaves, so a mutation that would break that raises `ProtocolError` before
  it changes anything.

What is *validated* here is only what the tree needs to stay well-formed
(node kinds in the right positions, sorted unmerged leaves, unique keys, a
non-blank last node on the wire). Leaf signatures, capabilities, lifetimes
and parent hashes are checked by `calpico.mls.tree.validation`; TreeKEM
lives in `calpico.mls.tree.treekem`.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator, Sequence
from itertools import pairwise

from ..codec import encode_varint, read_varint
from ..crypto import CipherSuite
from ..errors import DecodeError, ProtocolError, UsageError
from .hashes import leaf_hash_input, parent_node_hash_input
from .nodes import LeafNode, Node, NodeType, ParentNode
from .nodes import RatchetTree as RatchetTreeStruct
from .treemath import LeafIndex, NodeIndex

__all__ = ["RatchetTree", "TreeNode"]

TreeNode = LeafNode | ParentNode


def _level(x: int) -> int:
    """Level of node ``x``: 0 for leaves (Appendix C)."""
    return (x ^ (x + 1)).bit_length() - 1


class RatchetTree:
    """The public ratchet tree of a group (RFC 9420 §4, §7).

    Build one with `create` (a new group), `from_bytes` / `from_struct` /
    `from_nodes` (a received tree), or `copy` (staging a commit). Node indices
    and leaf indices follow Appendix C. Methods that take a leaf index raise
    `UsageError` for a negative one; a leaf beyond the tree's width reads as
    blank.
    """

    __slots__ = (
        "_blank_hint",
        "_by_encryption_key",
        "_by_signature_key",
        "_credential_types",
        "_encoded",
        "_filled",
        "_hashes",
        "_nodes",
        "suite",
    )

    suite: CipherSuite
    _nodes: list[TreeNode | None]
    _encoded: list[bytes | None]
    _hashes: list[bytes | None]
    _filled: list[int]
    _by_signature_key: dict[bytes, int]
    _by_encryption_key: dict[bytes, int]
    _credential_types: dict[int, int]
    _blank_hint: int

    def __init__(self, suite: CipherSuite, leaf: LeafNode) -> None:
        """A one-member tree: the creator's ``leaf`` at index 0 (§11)."""
        self._load(suite, [leaf], [None])

    # --- construction and serialisation (§12.4.3.3) ----------------------------------

    @classmethod
    def create(cls, suite: CipherSuite, leaf: LeafNode) -> RatchetTree:
        """The tree of a new group whose only member is ``leaf`` (§11)."""
        return cls(suite, leaf)

    @classmethod
    def from_nodes(cls, suite: CipherSuite, nodes: Sequence[TreeNode | None]) -> RatchetTree:
        """A tree from its nodes in array order; trailing blanks are ignored.

        Raises `ProtocolError` (§12.4.3.3) if no node is left, if the last
        non-blank node is a parent (the list has an even length), or if a
        leaf sits at an odd or a parent at an even position; `ProtocolError`
        (§7.1) for unsorted unmerged leaves and (§7.3) for a repeated
        encryption or signature key.
        """
        values = list(nodes)
        while values and values[-1] is None:
            values.pop()
        tree = cls.__new__(cls)
        tree._load(suite, values, [None] * len(values))
        return tree

    @classmethod
    def from_struct(cls, suite: CipherSuite, struct: RatchetTreeStruct) -> RatchetTree:
        """A tree from the ``ratchet_tree`` extension struct.

        Raises as `from_nodes`, and `ProtocolError` (§12.4.3.3) if the last node is blank.
        """
        values: list[TreeNode | None] = [None if n is None else _unwrap(n) for n in struct.nodes]
        tree = cls.__new__(cls)
        tree._load(suite, values, [None] * len(values))
        return tree

    @classmethod
    def from_bytes(cls, suite: CipherSuite, data: bytes) -> RatchetTree:
        """Decode ``optional<Node> ratchet_tree<V>`` (§12.4.3.3) and keep each node's encoding for hashing.

        Raises `DecodeError` for malformed bytes, and as `from_nodes`.
        """
        data = bytes(data)
        length, pos = read_varint(data, 0, len(data), "ratchet_tree")
        end = pos + length
        if end != len(data):
            raise DecodeError("ratchet_tree: length does not match the data", section="12.4.3.3")
        nodes: list[TreeNode | None] = []
        encoded: list[bytes | None] = []
        while pos < end:
            flag = data[pos]
            pos += 1
            if flag == 0:
                nodes.append(None)
                encoded.append(None)
            elif flag == 1:
                start = pos + 1  # after the node_type octet
                node, pos = Node._wire_decode(data, pos, end)
                value = _unwrap(node)
                nodes.append(value)
                # A decoded LeafNode already holds its bytes (it remembers its encoding): no second copy.
                encoded.append(value.encode() if isinstance(value, LeafNode) else data[start:pos])
            else:
                raise DecodeError("ratchet_tree: presence flag must be 0 or 1", section="2.1.1")
        tree = cls.__new__(cls)
        tree._load(suite, nodes, encoded)
        return tree

    def to_bytes(self) -> bytes:
        """The wire form ``optional<Node> ratchet_tree<V>``, trailing blanks trimmed (§12.4.3.3)."""
        parts: list[bytes] = []
        nodes = self._nodes
        for x in range(self._last_non_blank() + 1):
            node = nodes[x]
            if node is None:
                parts.append(b"\x00")
            else:
                parts.append((b"\x01\x01" if x & 1 == 0 else b"\x01\x02") + self.encoded_node(NodeIndex(x)))
        body = b"".join(parts)
        return encode_varint(len(body)) + body

    def to_struct(self) -> RatchetTreeStruct:
        """The ``ratchet_tree`` extension struct, trailing blanks trimmed."""
        nodes = self._nodes
        return RatchetTreeStruct(tuple(None if n is None else Node.of(n) for n in nodes[: self._last_non_blank() + 1]))

    def copy(self) -> RatchetTree:
        """An independent copy sharing the (immutable) nodes and the caches' current values."""
        other = RatchetTree.__new__(RatchetTree)
        other.suite = self.suite
        other._nodes = self._nodes.copy()
        other._encoded = self._encoded.copy()
        other._hashes = self._hashes.copy()
        other._filled = self._filled.copy()
        other._by_signature_key = self._by_signature_key.copy()
        other._by_encryption_key = self._by_encryption_key.copy()
        other._credential_types = self._credential_types.copy()
        other._blank_hint = self._blank_hint
        return other

    def _load(self, suite: CipherSuite, nodes: list[TreeNode | None], encoded: list[bytes | None]) -> None:
        if not nodes:
            raise ProtocolError("ratchet_tree is empty", section="12.4.3.3")
        if nodes[-1] is None:
            raise ProtocolError("ratchet_tree ends with a blank node", section="12.4.3.3")
        if len(nodes) % 2 == 0:
            raise ProtocolError(
                f"ratchet_tree has {len(nodes)} nodes: a left-balanced tree ends with a leaf", section="12.4.3.3"
            )
        n_leaves = 1
        while 2 * n_leaves - 1 < len(nodes):
            n_leaves *= 2
        width = 2 * n_leaves - 1
        padding = width - len(nodes)
        self.suite = suite
        self._nodes = nodes + [None] * padding
        self._encoded = encoded + [None] * padding
        self._hashes = [None] * width
        self._filled = filled = [0 if n is None else 1 for n in self._nodes]
        self._by_signature_key = {}
        self._by_encryption_key = {}
        self._credential_types = {}
        self._blank_hint = 0
        for x, node in enumerate(nodes):
            if node is None:
                continue
            if isinstance(node, LeafNode) != (x & 1 == 0):
                kind = "leaf" if isinstance(node, LeafNode) else "parent"
                raise ProtocolError(f"ratchet_tree: a {kind} node at position {x}", section="12.4.3.3")
            if isinstance(node, ParentNode):
                unmerged = node.unmerged_leaves
                if any(a >= b for a, b in pairwise(unmerged)):
                    raise ProtocolError(f"node {x}: unmerged_leaves are not in increasing order", section="7.1")
            self.check_keys_unused(node, x)
            self._index(x, node)
        # Subtree counts, level by level from the bottom.
        depth = n_leaves.bit_length() - 1
        for k in range(1, depth + 1):
            half = 1 << (k - 1)
            for x in range((1 << k) - 1, width, 1 << (k + 1)):
                filled[x] += filled[x - half] + filled[x + half]

    # --- shape -----------------------------------------------------------------------

    @property
    def n_leaves(self) -> int:
        """Number of leaves, blank or not: a power of two."""
        return (len(self._nodes) + 1) >> 1

    @property
    def n_nodes(self) -> int:
        """Number of nodes, ``2 * n_leaves - 1``."""
        return len(self._nodes)

    @property
    def root(self) -> NodeIndex:
        """Index of the root node."""
        return NodeIndex(self.n_leaves - 1)

    @property
    def member_count(self) -> int:
        """Number of non-blank leaves."""
        return len(self._by_signature_key)

    def extend(self) -> None:
        """Double the number of leaves: the old tree becomes the left subtree of a new blank root (§7.7)."""
        n = self.n_leaves
        root_filled = self._filled[n - 1]
        self._nodes.extend([None] * (2 * n))
        self._encoded.extend([None] * (2 * n))
        self._hashes.extend([None] * (2 * n))
        self._filled.extend([0] * (2 * n))
        self._filled[2 * n - 1] = root_filled

    def truncate(self) -> None:
        """Drop the root and right subtree while that subtree is entirely blank (§7.7, §12.1.3)."""
        n = self.n_leaves
        while n > 1 and self._filled[n - 1 + n // 2] == 0:
            root = n - 1
            node = self._nodes[root]
            if node is not None:
                self._unindex(root, node)
            for cache in (self._nodes, self._encoded, self._hashes, self._filled):
                del cache[root:]
            n //= 2
        self._blank_hint = min(self._blank_hint, n)

    # --- reading nodes ---------------------------------------------------------------

    def node(self, x: int) -> TreeNode | None:
        """Node ``x``, or None if it is blank; raises `UsageError` outside the tree."""
        if not 0 <= x < len(self._nodes):
            raise UsageError(f"node {x} is outside a tree of {len(self._nodes)} nodes")
        return self._nodes[x]

    def leaf_node(self, index: int) -> LeafNode | None:
        """The LeafNode at leaf ``index``, or None if blank or beyond the tree."""
        if index < 0:
            raise UsageError(f"negative leaf index {index}")
        x = 2 * index
        if x >= len(self._nodes):
            return None
        node = self._nodes[x]
        assert node is None or isinstance(node, LeafNode)
        return node

    def parent_node(self, x: int) -> ParentNode | None:
        """The ParentNode at node ``x`` (odd), or None if blank; raises `UsageError` for a leaf position."""
        if x & 1 == 0:
            raise UsageError(f"node {x} is a leaf position")
        node = self.node(x)
        assert node is None or isinstance(node, ParentNode)
        return node

    def encoded_node(self, x: int) -> bytes:
        """The wire encoding of non-blank node ``x``'s LeafNode or ParentNode (cached)."""
        enc = self._encoded[x]
        if enc is None:
            node = self._nodes[x]
            if node is None:
                raise UsageError(f"node {x} is blank")
            enc = self._encoded[x] = node.encode()
        return enc

    def members(self) -> Iterator[tuple[LeafIndex, LeafNode]]:
        """Every non-blank leaf with its index, left to right."""
        nodes = self._nodes
        for x in range(0, len(nodes), 2):
            node = nodes[x]
            if node is not None:
                assert isinstance(node, LeafNode)
                yield LeafIndex(x >> 1), node

    def leaf_index_of_signature_key(self, signature_key: bytes) -> LeafIndex | None:
        """The leaf whose LeafNode has this signature key, or None."""
        index = self._by_signature_key.get(bytes(signature_key))
        return None if index is None else LeafIndex(index)

    def node_index_of_encryption_key(self, encryption_key: bytes) -> NodeIndex | None:
        """The node (leaf or parent) holding this HPKE public key, or None."""
        x = self._by_encryption_key.get(bytes(encryption_key))
        return None if x is None else NodeIndex(x)

    def credential_types_in_use(self) -> frozenset[int]:
        """The credential types of the members' credentials."""
        return frozenset(self._credential_types)

    def credential_type_count(self, credential_type: int) -> int:
        """How many members have a credential of this type."""
        return self._credential_types.get(credential_type, 0)

    def leftmost_blank_leaf(self) -> LeafIndex | None:
        """The lowest blank leaf index, or None if every leaf is taken (§12.1.1)."""
        nodes = self._nodes
        width = len(nodes)
        x = 2 * self._blank_hint
        while x < width and nodes[x] is not None:
            x += 2
        self._blank_hint = x >> 1
        return LeafIndex(x >> 1) if x < width else None

    # --- paths (§4.1.1, §4.1.2) ------------------------------------------------------

    def direct_path(self, x: int) -> list[NodeIndex]:
        """The ancestors of node ``x`` from its parent to the root."""
        return [p for p, _ in self._path(x)]

    def copath(self, x: int) -> list[NodeIndex]:
        """The sibling of ``x`` and of each of its ancestors below the root."""
        return [s for _, s in self._path(x)]

    def filtered_direct_path(self, leaf: int) -> list[NodeIndex]:
        """The direct path of ``leaf`` without the nodes whose copath child has an empty resolution (§4.1.2)."""
        filled = self._filled
        return [p for p, s in self._path(2 * leaf) if filled[s]]

    def filtered_path(self, leaf: int) -> list[tuple[NodeIndex, NodeIndex]]:
        """The filtered direct path of ``leaf`` as ``(node, copath child)`` pairs, bottom up (§4.1.2)."""
        filled = self._filled
        return [(p, s) for p, s in self._path(2 * leaf) if filled[s]]

    def _path(self, x: int) -> list[tuple[NodeIndex, NodeIndex]]:
        """``(ancestor, copath child)`` for each ancestor of ``x``, bottom up."""
        if not 0 <= x < len(self._nodes):
            raise UsageError(f"node {x} is outside a tree of {len(self._nodes)} nodes")
        root = len(self._nodes) >> 1
        out: list[tuple[NodeIndex, NodeIndex]] = []
        while x != root:
            k = _level(x)
            sibling = x ^ (1 << (k + 1))
            x = (x | (1 << k)) & ~(1 << (k + 1))
            out.append((NodeIndex(x), NodeIndex(sibling)))
        return out

    def resolution(self, x: int, limit: int | None = None) -> list[NodeIndex]:
        """The resolution of node ``x`` (§4.1.1), unmerged leaves included, as node indices.

        Empty subtrees are skipped in O(1), so the cost follows the output.
        With ``limit``, the walk stops once more than ``limit`` entries are
        found (the list is then a truncated prefix): checks that expect a
        small resolution use it to bound their work on hostile trees.
        """
        if not 0 <= x < len(self._nodes):
            raise UsageError(f"node {x} is outside a tree of {len(self._nodes)} nodes")
        out: list[NodeIndex] = []
        self._resolve(x, out, len(self._nodes) if limit is None else limit)
        return out

    def _resolve(self, x: int, out: list[NodeIndex], limit: int) -> None:
        node = self._nodes[x]
        if node is not None:
            out.append(NodeIndex(x))
            if isinstance(node, ParentNode):
                out.extend(NodeIndex(2 * leaf) for leaf in node.unmerged_leaves)
            return
        if x & 1 == 0 or not self._filled[x] or len(out) > limit:
            return
        k = _level(x)
        self._resolve(x ^ (1 << (k - 1)), out, limit)
        self._resolve(x ^ (3 << (k - 1)), out, limit)

    def resolution_is_empty(self, x: int) -> bool:
        """Whether node ``x``'s subtree has no non-blank node (O(1))."""
        return not self._filled[x]

    # --- hashes (§7.8) ---------------------------------------------------------------

    def tree_hash(self) -> bytes:
        """The tree hash of the root (§7.8); only nodes changed since the last call are rehashed."""
        return self.node_tree_hash(len(self._nodes) >> 1)

    def node_tree_hash(self, x: int) -> bytes:
        """The tree hash of node ``x`` (§7.8), from the cache where possible."""
        h = self._hashes[x]
        if h is not None:
            return h
        if x & 1 == 0:
            enc = None if self._nodes[x] is None else self.encoded_node(x)
            h = self.suite.hash(leaf_hash_input(x >> 1, enc))
        else:
            k = _level(x)
            left = self.node_tree_hash(x ^ (1 << (k - 1)))
            right = self.node_tree_hash(x ^ (3 << (k - 1)))
            enc = None if self._nodes[x] is None else self.encoded_node(x)
            h = self.suite.hash(parent_node_hash_input(enc, left, right))
        self._hashes[x] = h
        return h

    # --- evolution (§7.4, §7.7, §12.1) -----------------------------------------------

    def check_keys_unused(self, node: TreeNode, x: int | None) -> None:
        """Raise `ProtocolError` (§7.3) unless ``node``'s keys are unused by any node other than node ``x``.

        The encryption key is compared with every node's, a leaf's signature
        key with every other leaf's. Pass ``x=None`` for a node not yet placed.
        """
        holder = self._by_encryption_key.get(node.encryption_key)
        if holder is not None and holder != x:
            raise ProtocolError(f"encryption key already used by node {holder}", section="7.3")
        if isinstance(node, LeafNode):
            leaf = self._by_signature_key.get(node.signature_key)
            if leaf is not None and (x is None or leaf != x >> 1):
                raise ProtocolError(f"signature key already used by leaf {leaf}", section="7.3")

    def reserve_leaf(self) -> LeafIndex:
        """The leftmost blank leaf, after extending the tree if every leaf is taken (§12.1.1, §12.4.3.2).

        The leaf stays blank: an external joiner's UpdatePath fills it.
        """
        index = self.leftmost_blank_leaf()
        if index is None:
            index = LeafIndex(self.n_leaves)
            self.extend()
        return index

    def add_leaf(self, leaf: LeafNode) -> LeafIndex:
        """Add ``leaf`` in the leftmost blank leaf, extending the tree if needed (§12.1.1, §7.7).

        The new index is added, in order, to the unmerged_leaves of every
        non-blank ancestor. Returns the index. Raises `ProtocolError` (§7.3)
        if the leaf's encryption or signature key is already in the tree.
        """
        self.check_keys_unused(leaf, None)
        index = self.reserve_leaf()
        self._set(2 * index, leaf)
        nodes = self._nodes
        for p, _ in self._path(2 * index):
            node = nodes[p]
            if node is not None:
                assert isinstance(node, ParentNode)
                unmerged = list(node.unmerged_leaves)
                bisect.insort(unmerged, index)
                self._set(p, ParentNode(node.encryption_key, node.parent_hash, tuple(unmerged)))
        return index

    def update_leaf(self, index: int, leaf: LeafNode) -> None:
        """Replace member ``index``'s leaf and blank its direct path (§12.1.2).

        Raises `ProtocolError` if the leaf is blank (§12.1.2), if the
        encryption key does not change, or if either key belongs to another
        node (§7.3).
        """
        old = self.leaf_node(index)
        if old is None:
            raise ProtocolError(f"leaf {index} is blank: nothing to update", section="12.1.2")
        if leaf.encryption_key == old.encryption_key:
            raise ProtocolError("an updated leaf must have a new encryption key", section="7.3")
        self.check_keys_unused(leaf, 2 * index)
        self._set(2 * index, leaf)
        self.blank_direct_path(index)

    def remove_leaf(self, index: int) -> None:
        """Blank leaf ``index`` and its direct path, then truncate (§12.1.3).

        Raises `ProtocolError` if the leaf is already blank.
        """
        if self.leaf_node(index) is None:
            raise ProtocolError(f"leaf {index} is blank: nobody to remove", section="12.1.3")
        self._set(2 * index, None)
        self.blank_direct_path(index)
        self.truncate()

    def blank_direct_path(self, index: int) -> None:
        """Blank every parent node above leaf ``index`` (§7.4, §12.1.2, §12.1.3)."""
        nodes, filled, hashes, encoded = self._nodes, self._filled, self._hashes, self._encoded
        blanked = 0
        for p, _ in self._path(2 * index):
            node = nodes[p]
            if node is not None:
                self._unindex(p, node)
                nodes[p] = None
                encoded[p] = None
                blanked += 1
            filled[p] -= blanked
            hashes[p] = None

    def set_leaf(self, index: int, leaf: LeafNode | None) -> None:
        """Put ``leaf`` (or a blank) at leaf ``index`` without touching other nodes.

        Low-level: for TreeKEM and the group state machine. Raises
        `ProtocolError` (§7.3) if a key of ``leaf`` belongs to another node,
        `UsageError` outside the tree.
        """
        if not 0 <= 2 * index < len(self._nodes):
            raise UsageError(f"leaf {index} is outside a tree of {self.n_leaves} leaves")
        if leaf is not None:
            self.check_keys_unused(leaf, 2 * index)
        self._set(2 * index, leaf)

    def set_parent_node(self, x: int, node: ParentNode | None) -> None:
        """Put ``node`` (or a blank) at parent position ``x`` without touching other nodes.

        Low-level, as `set_leaf`; raises `ProtocolError` (§7.3) if the key
        belongs to another node.
        """
        if x & 1 == 0 or not 0 <= x < len(self._nodes):
            raise UsageError(f"node {x} is not a parent position of this tree")
        if node is not None:
            self.check_keys_unused(node, x)
        self._set(x, node)

    # --- cache maintenance -----------------------------------------------------------

    def _set(self, x: int, value: TreeNode | None) -> None:
        """Store ``value`` at ``x`` and bring every cache up to date (checks are the caller's)."""
        nodes = self._nodes
        old = nodes[x]
        if old is not None:
            self._unindex(x, old)
        if value is not None:
            self._index(x, value)
        elif x & 1 == 0 and (x >> 1) < self._blank_hint:
            self._blank_hint = x >> 1
        nodes[x] = value
        self._encoded[x] = None
        delta = (value is not None) - (old is not None)
        hashes, filled = self._hashes, self._filled
        root = len(nodes) >> 1
        while True:
            if not delta and hashes[x] is None:
                break  # every ancestor's hash is already cleared
            hashes[x] = None
            filled[x] += delta
            if x == root:
                break
            k = _level(x)
            x = (x | (1 << k)) & ~(1 << (k + 1))

    def _index(self, x: int, node: TreeNode) -> None:
        self._by_encryption_key[node.encryption_key] = x
        if isinstance(node, LeafNode):
            self._by_signature_key[node.signature_key] = x >> 1
            ctype = node.credential.credential_type
            self._credential_types[ctype] = self._credential_types.get(ctype, 0) + 1

    def _unindex(self, x: int, node: TreeNode) -> None:
        if self._by_encryption_key.get(node.encryption_key) == x:
            del self._by_encryption_key[node.encryption_key]
        if isinstance(node, LeafNode):
            if self._by_signature_key.get(node.signature_key) == x >> 1:
                del self._by_signature_key[node.signature_key]
            ctype = node.credential.credential_type
            left = self._credential_types[ctype] - 1
            if left:
                self._credential_types[ctype] = left
            else:
                del self._credential_types[ctype]

    def _last_non_blank(self) -> int:
        nodes = self._nodes
        x = len(nodes) - 1
        while x > 0 and nodes[x] is None:
            x -= 1
        return x

    # --- comparison ------------------------------------------------------------------

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RatchetTree):
            return NotImplemented
        return self.suite.suite_id == other.suite.suite_id and self._nodes == other._nodes

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"RatchetTree(suite=0x{self.suite.suite_id:04X}, n_leaves={self.n_leaves}, members={self.member_count})"


def _unwrap(node: Node) -> TreeNode:
    value = node.leaf_node if node.node_type == NodeType.leaf else node.parent_node
    assert value is not None
    return value
