"""What processing a message yields: typed, frozen events.

`Group.process` returns exactly one of:

- `ApplicationMessage`: decrypted application data, with the sender's leaf,
  credential and the message's authenticated data.
- `ProposalReceived`: a verified proposal, now cached for this epoch under
  its ProposalRef (§5.2) so that a later Commit can cover it by reference.
- `StagedCommit`: a verified Commit, applied to a *copy* of the state. Its
  ``events`` say what the commit changes (`MemberAdded`, `MemberRemoved`,
  `MemberUpdated`, `ExtensionsChanged`, `PskUsed`, `ReInitCommitted`,
  `RemovedFromGroup`); nothing changes until the caller passes it to
  `Group.merge` (after persisting, or after the server accepted our own).

Every event is a frozen dataclass; `Member` describes a leaf.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..credentials import Credential
from ..extensions import Extension
from ..framing import Sender
from ..proposals import Proposal, ReInit
from ..psk import PreSharedKeyID
from ..tree.nodes import LeafNode

if TYPE_CHECKING:
    from .state import NextEpoch

__all__ = [
    "ApplicationMessage",
    "CommitEvent",
    "ExtensionsChanged",
    "Member",
    "MemberAdded",
    "MemberRemoved",
    "MemberUpdated",
    "ProcessedMessage",
    "ProposalReceived",
    "PskUsed",
    "ReInitCommitted",
    "RemovedFromGroup",
    "StagedCommit",
]


@dataclass(frozen=True, slots=True)
class Member:
    """A member of the group: its leaf index and what its LeafNode says about it."""

    leaf_index: int
    credential: Credential
    signature_key: bytes
    encryption_key: bytes

    @classmethod
    def of(cls, leaf_index: int, leaf: LeafNode) -> Member:
        """The member at ``leaf_index`` with LeafNode ``leaf``."""
        return cls(leaf_index, leaf.credential, leaf.signature_key, leaf.encryption_key)


@dataclass(frozen=True, slots=True)
class ApplicationMessage:
    """Application data from a member (§6.3), decrypted and verified."""

    sender: Member
    data: bytes
    authenticated_data: bytes
    epoch: int


@dataclass(frozen=True, slots=True)
class ProposalReceived:
    """A verified proposal, cached under ``ref`` for this epoch (§12.1).

    ``sender`` is who proposed it (a member, an external sender, or a
    new member proposing its own Add); ``sender_member`` is set for members.
    """

    sender: Sender
    proposal: Proposal
    ref: bytes
    epoch: int
    sender_member: Member | None = None


@dataclass(frozen=True, slots=True)
class MemberAdded:
    """A new member at ``member.leaf_index`` (an Add, or an external commit when ``external``)."""

    member: Member
    by: Sender
    external: bool = False


@dataclass(frozen=True, slots=True)
class MemberRemoved:
    """The member ``member`` left the tree (§12.1.3); ``by`` proposed the Remove."""

    member: Member
    by: Sender


@dataclass(frozen=True, slots=True)
class MemberUpdated:
    """A member replaced its leaf (an Update proposal, or the committer's new path leaf)."""

    old: Member
    new: Member


@dataclass(frozen=True, slots=True)
class ExtensionsChanged:
    """A GroupContextExtensions proposal replaced the group's extensions (§12.1.7)."""

    old: tuple[Extension, ...]
    new: tuple[Extension, ...]


@dataclass(frozen=True, slots=True)
class PskUsed:
    """The commit injected these PSKs into the key schedule, in this order (§8.4)."""

    psk_ids: tuple[PreSharedKeyID, ...]


@dataclass(frozen=True, slots=True)
class ReInitCommitted:
    """The group is to be reinitialised (§11.2): it can no longer send once this is merged."""

    reinit: ReInit


@dataclass(frozen=True, slots=True)
class RemovedFromGroup:
    """This commit removes *us*; once merged, the group is inactive."""

    by: Sender


CommitEvent = (
    MemberAdded | MemberRemoved | MemberUpdated | ExtensionsChanged | PskUsed | ReInitCommitted | RemovedFromGroup
)


@dataclass(frozen=True, slots=True, eq=False)
class StagedCommit:
    """A verified Commit applied to a copy of the group state; `Group.merge` installs it.

    ``committer`` is the commit's sender; ``epoch`` the epoch it starts;
    ``events`` what it changes, in the order of §12.3. ``own`` is True for a
    commit we created (merge it once the server accepted it, discard it on a
    conflict). The new epoch's state is private to the group.
    """

    committer: Sender
    epoch: int
    events: tuple[CommitEvent, ...]
    own: bool
    from_epoch: int
    _next: NextEpoch = field(repr=False)

    @property
    def removes_us(self) -> bool:
        """Whether merging this commit ends our membership."""
        return any(isinstance(e, RemovedFromGroup) for e in self.events)

    @property
    def epoch_authenticator(self) -> bytes | None:
        """The new epoch's authenticator (§8.7), None if the commit removes us."""
        return None if self._next.epoch is None else bytes(self._next.epoch.secrets.epoch_authenticator)


ProcessedMessage = ApplicationMessage | ProposalReceived | StagedCommit
