"""The roster bookkeeping of RFC 9420 §12.1 / §7.7 (leftmost blank leaf, removes before adds)."""

from __future__ import annotations

import pytest

from calpico.server.services.roster import apply_commit


def test_adds_fill_the_leftmost_blank_leaves_after_removes() -> None:
    roster = {0: "a", 1: "b", 2: "c", 3: "d"}
    change = apply_commit(roster, removes=[1, 3], adds=["e", "f", "g"])
    assert change.roster == {0: "a", 1: "e", 2: "c", 3: "f", 4: "g"}
    assert change.removed == {1: "b", 3: "d"}
    assert change.added == {1: "e", 3: "f", 4: "g"}


def test_adds_extend_on_the_right_when_there_is_no_gap() -> None:
    assert apply_commit({0: "a"}, [], ["b", "c"]).roster == {0: "a", 1: "b", 2: "c"}


@pytest.mark.parametrize(
    ("removes", "adds"),
    [([5], []), ([1, 1], []), ([], ["a"]), ([], ["x", "x"])],
    ids=["blank-leaf", "twice", "existing-member", "same-device-twice"],
)
def test_invalid_changes_are_refused(removes: list[int], adds: list[str]) -> None:
    with pytest.raises(ValueError):
        apply_commit({0: "a", 1: "b"}, removes, adds)
