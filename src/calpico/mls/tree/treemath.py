"""RFC 9420 Appendix C — array-based tree math (§4.1).

Nodes of a tree with ``n`` leaves live in an array of ``2n - 1`` entries:
leaf ``i`` at node ``2i``, parents at the odd indices. RFC 9420 trees are
always full, so ``n`` is a power of two; the functions below also accept
the intermediate sizes the RFC's reference code does.
"""

from __future__ import annotations

from typing import NewType

__all__ = [
    "LeafIndex",
    "NodeIndex",
    "common_ancestor",
    "copath",
    "direct_path",
    "leaf_to_node",
    "left",
    "level",
    "node_to_leaf",
    "node_width",
    "parent",
    "right",
    "root",
    "sibling",
]

LeafIndex = NewType("LeafIndex", int)
NodeIndex = NewType("NodeIndex", int)


def _log2(x: int) -> int:
    """Exponent of the largest power of two not above ``x`` (0 for 0)."""
    return x.bit_length() - 1 if x else 0


def level(x: NodeIndex) -> int:
    """Height of node ``x``: 0 for leaves, one more than its children otherwise."""
    if x & 1 == 0:
        return 0
    # Number of trailing one bits.
    return ((x ^ (x + 1)).bit_length()) - 1


def node_width(n_leaves: int) -> int:
    """Number of array entries for a tree with ``n_leaves`` leaves."""
    return 0 if n_leaves == 0 else 2 * (n_leaves - 1) + 1


def root(n_leaves: int) -> NodeIndex:
    """Index of the root of a tree with ``n_leaves`` leaves."""
    return NodeIndex((1 << _log2(node_width(n_leaves))) - 1)


def left(x: NodeIndex) -> NodeIndex:
    """Left child of parent node ``x``. Raises ValueError for a leaf."""
    k = level(x)
    if k == 0:
        raise ValueError("a leaf has no children")
    return NodeIndex(x ^ (1 << (k - 1)))


def right(x: NodeIndex) -> NodeIndex:
    """Right child of parent node ``x``. Raises ValueError for a leaf."""
    k = level(x)
    if k == 0:
        raise ValueError("a leaf has no children")
    return NodeIndex(x ^ (3 << (k - 1)))


def parent(x: NodeIndex, n_leaves: int) -> NodeIndex:
    """Parent of node ``x``. Raises ValueError for the root."""
    if x == root(n_leaves):
        raise ValueError("the root has no parent")
    k = level(x)
    b = (x >> (k + 1)) & 1
    return NodeIndex((x | (1 << k)) ^ (b << (k + 1)))


def sibling(x: NodeIndex, n_leaves: int) -> NodeIndex:
    """The other child of ``x``'s parent."""
    p = parent(x, n_leaves)
    return right(p) if x < p else left(p)


def direct_path(x: NodeIndex, n_leaves: int) -> list[NodeIndex]:
    """Ancestors of ``x`` from its parent up to the root (empty for the root)."""
    r = root(n_leaves)
    path: list[NodeIndex] = []
    while x != r:
        x = parent(x, n_leaves)
        path.append(x)
    return path


def copath(x: NodeIndex, n_leaves: int) -> list[NodeIndex]:
    """Siblings of ``x`` and of each of its ancestors below the root."""
    r = root(n_leaves)
    result: list[NodeIndex] = []
    while x != r:
        result.append(sibling(x, n_leaves))
        x = parent(x, n_leaves)
    return result


def common_ancestor(x: NodeIndex, y: NodeIndex) -> NodeIndex:
    """The lowest node whose subtree holds both ``x`` and ``y``."""
    lx, ly = level(x) + 1, level(y) + 1
    if lx <= ly and x >> ly == y >> ly:
        return y
    if ly <= lx and x >> lx == y >> lx:
        return x
    k = 0
    while x != y:
        x, y = NodeIndex(x >> 1), NodeIndex(y >> 1)
        k += 1
    return NodeIndex((x << k) + (1 << (k - 1)) - 1)


def leaf_to_node(leaf: LeafIndex) -> NodeIndex:
    """Node index of leaf number ``leaf``."""
    return NodeIndex(2 * leaf)


def node_to_leaf(node: NodeIndex) -> LeafIndex:
    """Leaf number of leaf node ``node``. Raises ValueError for a parent node."""
    if node & 1:
        raise ValueError(f"node {node} is not a leaf")
    return LeafIndex(node >> 1)
