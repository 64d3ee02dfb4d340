"""The data a group holds, split by how often it changes.

- `EpochState`: fixed for a whole epoch — GroupContext, ratchet tree, our
  private path keys, the epoch secrets (§8), the transcript hashes (§8.2).
  It changes only when a commit is merged, so it is persisted once per epoch.
- Per-message state, owned by `Group`: the secret tree's ratchets (§9), the
  proposals cached this epoch (§12.1), our own pending Update keys, and the
  secret trees of the last few epochs (`PastEpoch`) for late application
  messages (§15.3). It is small and persisted after every message.
- `NextEpoch`: what a staged commit carries until it is merged.

`PastEpoch` keeps, besides its keys, only the LeafNodes of the leaves that
differ in the following epoch (``replaced``): looking up a sender in an
old epoch walks those small maps forward and falls back to the current tree,
so no old tree is kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..codec import Struct, VLBytes, wire
from ..crypto import CipherSuite
from ..framing import Sender
from ..group_context import GroupContext
from ..key_schedule import EpochSecrets
from ..proposals import Proposal, ReInit
from ..secret import Secret
from ..secret_tree import SecretTree
from ..transcript import TranscriptHashes
from ..tree.nodes import LeafNode
from ..tree.private_tree import PrivateTree
from ..tree.ratchet_tree import RatchetTree

__all__ = ["CachedProposal", "EpochState", "NextEpoch", "PastEpoch"]


@dataclass(slots=True, eq=False)
class EpochState:
    """The epoch-stable part of a member's state."""

    suite: CipherSuite
    context: GroupContext
    tree: RatchetTree
    private: PrivateTree
    secrets: EpochSecrets
    transcript: TranscriptHashes

    @property
    def epoch(self) -> int:
        """The epoch number."""
        return self.context.epoch

    @property
    def own_leaf(self) -> int:
        """Our leaf index."""
        return self.private.leaf_index


@dataclass(slots=True, eq=False)
class PastEpoch:
    """What is kept of an earlier epoch to read its late application messages (§15.3).

    ``replaced`` maps each leaf that differs in the *next* epoch to its
    LeafNode in this one (None: the leaf was blank here).
    """

    context: GroupContext
    sender_data_secret: Secret
    secret_tree: SecretTree
    replaced: dict[int, LeafNode | None] = field(default_factory=dict)


@dataclass(slots=True, eq=False)
class NextEpoch:
    """The state a staged commit installs.

    ``epoch`` is None when the commit removes us. ``replaced`` feeds the
    `PastEpoch` the current epoch becomes; ``base`` is the state it was staged from. ``reinit`` is set when the commit
    covered a ReInit (the group stops sending once merged).
    """

    base: EpochState
    epoch: EpochState | None
    secret_tree: SecretTree | None
    replaced: dict[int, LeafNode | None]
    reinit: ReInit | None = None


@wire
@dataclass(frozen=True, slots=True)
class CachedProposal(Struct):
    """A proposal received or sent in this epoch, by its ProposalRef (§5.2)::

    struct { opaque ref<V>; Sender sender; Proposal proposal; } CachedProposal;  (Calpico state record)
    """

    ref: VLBytes
    sender: Sender
    proposal: Proposal
