"""Checkers for the codec and tree-math vector files (§2.1.2, Appendix C)."""

from __future__ import annotations

from ..codec import decode_varint, encode_varint
from ..tree import treemath
from ..tree.treemath import NodeIndex
from . import Case, checker, expect_equal, unhex


@checker("deserialization")
def check_deserialization(case: Case) -> None:
    header = unhex(case["vlbytes_header"])
    expect_equal("decoded length", decode_varint(header), case["length"])
    expect_equal("encoded header", encode_varint(case["length"]), header)


@checker("tree-math")
def check_tree_math(case: Case) -> None:
    n = case["n_leaves"]
    expect_equal("n_nodes", treemath.node_width(n), case["n_nodes"])
    expect_equal("root", treemath.root(n), case["root"])
    for i in range(case["n_nodes"]):
        x = NodeIndex(i)
        is_leaf = treemath.level(x) == 0
        is_root = x == treemath.root(n)
        expect_equal(f"left[{i}]", None if is_leaf else treemath.left(x), case["left"][i])
        expect_equal(f"right[{i}]", None if is_leaf else treemath.right(x), case["right"][i])
        expect_equal(f"parent[{i}]", None if is_root else treemath.parent(x, n), case["parent"][i])
        expect_equal(f"sibling[{i}]", None if is_root else treemath.sibling(x, n), case["sibling"][i])
