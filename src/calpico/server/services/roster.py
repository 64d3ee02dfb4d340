"""A group's roster (leaf index → device) and how a commit changes it — RFC 9420 §7.7, §12.1, §12.3.

The server cannot see the ratchet tree's keys, but it can follow which leaves
are occupied: a Remove blanks a leaf, an Add takes the leftmost blank leaf
(or extends the tree on the right), and after the Removes the tree is
truncated so that its rightmost leaf is occupied. Updates, PSKs and
GroupContextExtensions do not change the roster. Proposals are applied in the
order of §12.3: Updates, then Removes, then Adds (each Add in list order).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

__all__ = ["RosterChange", "apply_commit"]


@dataclass(frozen=True, slots=True)
class RosterChange:
    """The result of a commit on the roster."""

    roster: dict[int, str]
    """The new leaf index → device id map."""
    removed: dict[int, str]
    """Leaves the commit blanked, with the device that was there."""
    added: dict[int, str]
    """Leaves the commit filled, with the device that now holds each."""


def apply_commit(roster: Mapping[int, str], removes: Sequence[int], adds: Sequence[str]) -> RosterChange:
    """Apply the Removes, then the Adds, of one commit to ``roster``.

    ``removes`` are leaf indices, ``adds`` the devices whose KeyPackages the
    Adds carry, in proposal-list order. Raises `ValueError` when a Remove
    names a blank leaf or the same leaf twice, or an Add adds a device that
    is already a member (§12.2).
    """
    leaves = dict(roster)
    removed: dict[int, str] = {}
    for leaf in removes:
        if leaf not in leaves:
            raise ValueError(f"Remove of leaf {leaf}, which is blank or already removed")
        removed[leaf] = leaves.pop(leaf)
    # §7.7 truncation happens after the Removes; with the roster as a map it
    # only means the next free leaf is computed from what is left.
    members = set(leaves.values())
    added: dict[int, str] = {}
    for device in adds:
        if device in members:
            raise ValueError("Add of a device that is already a member")
        leaf = _leftmost_blank(leaves)
        leaves[leaf] = device
        added[leaf] = device
        members.add(device)
    return RosterChange(roster=leaves, removed=removed, added=added)


def _leftmost_blank(leaves: Mapping[int, str]) -> int:
    """The smallest leaf index not in use; past the rightmost leaf when there is no gap (§7.7)."""
    index = 0
    while index in leaves:
        index += 1
    return index
