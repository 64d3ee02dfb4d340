"""RFC 9420 §7.8 and §7.9 — tree hashes and parent hashes.

The byte layouts of the hash inputs live here, written out by hand because
they are hashed for every node of the tree and the codec's general machinery
would cost more than the hash itself::

    struct {                                struct {
        NodeType node_type;                     uint32 leaf_index;
        select (TreeHashInput.node_type) {      optional<LeafNode> leaf_node;
            case leaf:   LeafNodeHashInput;  } LeafNodeHashInput;
            case parent: ParentNodeHashInput;
        };                                  struct {
    } TreeHashInput;                            optional<ParentNode> parent_node;
                                                opaque left_hash<V>;
    struct {                                    opaque right_hash<V>;
        HPKEPublicKey encryption_key;       } ParentNodeHashInput;
        opaque parent_hash<V>;
        opaque original_sibling_tree_hash<V>;
    } ParentHashInput;

The tree itself (`calpico.mls.tree.ratchet_tree.RatchetTree`) caches each
node's tree hash; `original_sibling_tree_hash` below reuses those cached
hashes for every subtree that the parent's unmerged leaves do not touch, so
its cost is proportional to the number of unmerged leaves times the depth.
"""

from __future__ import annotations

from bisect import bisect_left
from typing import TYPE_CHECKING

from ..codec import encode_varint
from ..errors import UsageError
from .nodes import ParentNode

if TYPE_CHECKING:
    from ..crypto import CipherSuite
    from .ratchet_tree import RatchetTree

__all__ = [
    "leaf_hash_input",
    "original_sibling_tree_hash",
    "parent_hash",
    "parent_hash_input",
    "parent_node_hash_input",
]

_LEAF_PREFIX = b"\x01"  # NodeType.leaf
_PARENT_PRESENT = b"\x02\x01"  # NodeType.parent, optional<ParentNode> present
_PARENT_BLANK = b"\x02\x00"


def _vl(value: bytes) -> bytes:
    n = len(value)
    return bytes((n,)) + value if n < 0x40 else encode_varint(n) + value


def leaf_hash_input(leaf_index: int, encoded_leaf: bytes | None) -> bytes:
    """TreeHashInput of leaf ``leaf_index`` (the LEAF index, §7.8), given its LeafNode's encoding or None if blank."""
    head = _LEAF_PREFIX + leaf_index.to_bytes(4, "big")
    return head + b"\x00" if encoded_leaf is None else head + b"\x01" + encoded_leaf


def parent_node_hash_input(encoded_parent: bytes | None, left_hash: bytes, right_hash: bytes) -> bytes:
    """TreeHashInput of a parent node, given its ParentNode's encoding (None if blank) and its children's hashes."""
    body = _PARENT_BLANK if encoded_parent is None else _PARENT_PRESENT + encoded_parent
    return body + _vl(left_hash) + _vl(right_hash)


def parent_hash_input(encryption_key: bytes, parent_hash_of_parent: bytes, original_sibling_hash: bytes) -> bytes:
    """The encoded ParentHashInput (§7.9)."""
    return _vl(encryption_key) + _vl(parent_hash_of_parent) + _vl(original_sibling_hash)


def parent_hash(suite: CipherSuite, encryption_key: bytes, parent_hash_of_parent: bytes, sibling_hash: bytes) -> bytes:
    """The parent hash (§7.9) of a node with this key and ``parent_hash`` field.

    ``sibling_hash`` is the original tree hash of the node's copath child.
    """
    return suite.hash(parent_hash_input(encryption_key, parent_hash_of_parent, sibling_hash))


def original_sibling_tree_hash(tree: RatchetTree, parent: int, sibling: int) -> bytes:
    """The tree hash of ``sibling`` as it was when ``parent`` was last set (§7.9).

    That is the tree hash of the subtree under ``sibling`` with every leaf in
    ``parent``'s unmerged_leaves blanked and removed from the unmerged_leaves
    of the parent nodes below. When none of those leaves lies under
    ``sibling`` this is the cached tree hash; otherwise only the paths from
    those leaves up to ``sibling`` are rehashed. Raises `UsageError` if
    ``parent`` is blank.
    """
    node = tree.parent_node(parent)
    if node is None:
        raise UsageError(f"node {parent} is blank: it has no parent hash")
    lo, hi = _leaf_span(sibling)
    unmerged = node.unmerged_leaves  # sorted (checked when the tree was loaded)
    excluded = unmerged[bisect_left(unmerged, lo) : bisect_left(unmerged, hi)]
    if not excluded:
        return tree.node_tree_hash(sibling)
    return _hash_without(tree, sibling, excluded, frozenset(excluded))


def _leaf_span(x: int) -> tuple[int, int]:
    """The leaf indices ``[lo, hi)`` under node ``x``."""
    k = (x ^ (x + 1)).bit_length() - 1
    lo = (x >> (k + 1)) << k
    return lo, lo + (1 << k)


def _hash_without(tree: RatchetTree, x: int, excluded: tuple[int, ...], members: frozenset[int]) -> bytes:
    """Tree hash of ``x`` with the ``excluded`` leaves (sorted) blanked and dropped from unmerged lists."""
    lo, hi = _leaf_span(x)
    i = bisect_left(excluded, lo)
    if i == len(excluded) or excluded[i] >= hi:
        return tree.node_tree_hash(x)
    suite = tree.suite
    if x & 1 == 0:
        return suite.hash(leaf_hash_input(x >> 1, None))
    k = (x ^ (x + 1)).bit_length() - 1
    left = _hash_without(tree, x ^ (1 << (k - 1)), excluded, members)
    right = _hash_without(tree, x ^ (3 << (k - 1)), excluded, members)
    node = tree.parent_node(x)
    encoded = None
    if node is not None:
        kept = tuple(leaf for leaf in node.unmerged_leaves if leaf not in members)
        encoded = ParentNode(node.encryption_key, node.parent_hash, kept).encode()
    return suite.hash(parent_node_hash_input(encoded, left, right))
