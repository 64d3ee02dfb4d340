"""RFC 9420 Appendix C — tree math beyond the vectors: paths and common ancestors."""

from __future__ import annotations

import pytest

from calpico.mls.tree import treemath as tm
from calpico.mls.tree.treemath import LeafIndex, NodeIndex


def test_eight_leaf_tree_matches_the_rfc_figure() -> None:
    assert tm.root(8) == 7
    assert tm.direct_path(NodeIndex(0), 8) == [1, 3, 7]
    assert tm.copath(NodeIndex(0), 8) == [2, 5, 11]
    assert tm.direct_path(NodeIndex(7), 8) == []
    assert tm.leaf_to_node(LeafIndex(5)) == 10
    assert tm.node_to_leaf(NodeIndex(10)) == 5


@pytest.mark.parametrize("n", [1, 2, 4, 8, 16, 64])
def test_common_ancestor_is_lowest_shared_node(n: int) -> None:
    for x in range(tm.node_width(n)):
        for y in range(tm.node_width(n)):
            ax = {x, *tm.direct_path(NodeIndex(x), n)}
            ay = {y, *tm.direct_path(NodeIndex(y), n)}
            expected = min(ax & ay, key=lambda z: tm.level(NodeIndex(z)))
            assert tm.common_ancestor(NodeIndex(x), NodeIndex(y)) == expected


def test_misuse_raises() -> None:
    with pytest.raises(ValueError):
        tm.left(NodeIndex(2))
    with pytest.raises(ValueError):
        tm.parent(NodeIndex(3), 4)
    with pytest.raises(ValueError):
        tm.node_to_leaf(NodeIndex(3))
