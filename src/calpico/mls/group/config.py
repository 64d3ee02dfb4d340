"""The application's hooks into a group: policy, credentials, PSKs, randomness and time.

RFC 9420 leaves several decisions to the application: whether a credential
is acceptable (the Authentication Service, §5.3.1), who may add or remove
whom (§12.2 "an application may extend the above procedure by additional
rules"), which external PSKs exist (§8.4), and how much clock skew to
tolerate (§7.3). `GroupConfig` carries those decisions into a `Group`;
it is not persisted, so pass the same config when loading a saved group.

Every hook raises to veto (a `ProtocolError` naming the rule is best); the
defaults accept everything the RFC itself accepts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from os import urandom
from time import time
from typing import Protocol

from ..credentials import Credential
from ..extensions import Extension
from ..framing import Sender, WireFormat
from ..private_protection import DEFAULT_PADDING, PaddingPolicy
from ..proposals import Proposal
from ..tree.ratchet_tree import RatchetTree

__all__ = [
    "AcceptAllCredentials",
    "AllowAll",
    "CredentialValidator",
    "GroupConfig",
    "GroupPolicy",
    "PolicyContext",
    "ProposalInContext",
]


@dataclass(frozen=True, slots=True)
class ProposalInContext:
    """A proposal with the sender that proposed it (the committer for proposals sent by value)."""

    sender: Sender
    proposal: Proposal


@dataclass(frozen=True, slots=True, eq=False)
class PolicyContext:
    """What a `GroupPolicy` sees when it judges a proposal or a commit.

    ``tree`` is the ratchet tree of the current epoch (read it, do not change
    it): ``tree.leaf_node(i).credential`` tells who a sender is.
    ``old_extensions`` are the GroupContext extensions of the current epoch;
    ``new_extensions`` those the commit would install (equal when no
    GroupContextExtensions proposal is present).
    """

    group_id: bytes
    epoch: int
    tree: RatchetTree
    old_extensions: tuple[Extension, ...]
    new_extensions: tuple[Extension, ...]


class GroupPolicy(Protocol):
    """Application rules on proposals and commits, enforced by every member (§12.2).

    Calpico keeps room policy (admins, who may add and remove) in a custom
    GroupContext extension; an implementation reads it from
    ``context.old_extensions`` and raises `ProtocolError` to veto. Both
    methods run when we create a proposal or commit *and* when we receive
    one, so every client enforces the same rules.
    """

    def check_proposal(self, context: PolicyContext, proposal: ProposalInContext) -> None:
        """Judge one proposal as it is received or created (before any commit covers it)."""
        ...

    def check_commit(self, context: PolicyContext, committer: Sender, proposals: Sequence[ProposalInContext]) -> None:
        """Judge the full proposal list of a commit, after RFC validation passed."""
        ...


class AllowAll:
    """The default `GroupPolicy`: whatever RFC 9420 allows."""

    def check_proposal(self, context: PolicyContext, proposal: ProposalInContext) -> None:
        """Accept."""

    def check_commit(self, context: PolicyContext, committer: Sender, proposals: Sequence[ProposalInContext]) -> None:
        """Accept."""


class CredentialValidator(Protocol):
    """The Authentication Service (§5.3.1): may a credential speak for this signature key?

    ``validate`` runs for every credential that enters the group (Add,
    Update, a commit's new leaf, a joiner's view of the whole tree, external
    senders) and raises `ProtocolError` to refuse it. ``same_client`` decides
    whether a new credential may replace an old one (an Update or a resync
    external commit, §12.1.2, §12.4.3.2).
    """

    def validate(self, credential: Credential, signature_key: bytes) -> None:
        """Raise to refuse ``credential`` for ``signature_key``."""
        ...

    def same_client(self, old: Credential, new: Credential) -> bool:
        """Whether ``new`` identifies the same client as ``old``."""
        ...


class AcceptAllCredentials:
    """The default `CredentialValidator`: any credential; the same client means an equal credential."""

    def validate(self, credential: Credential, signature_key: bytes) -> None:
        """Accept."""

    def same_client(self, old: Credential, new: Credential) -> bool:
        """Equal credentials (for basic credentials: the same identity)."""
        return old == new


Rng = Callable[[int], bytes]
Clock = Callable[[], float]


@dataclass(frozen=True, slots=True)
class GroupConfig:
    """How a `Group` behaves; not part of the persisted state.

    - ``rng``/``clock``: randomness and time (defaults ``os.urandom`` and
      ``time.time``). When ``rng`` is the default, HPKE uses the native
      implementation; an injected ``rng`` makes every random choice
      reproducible (and HPKE slower).
    - ``policy``: application rules (`GroupPolicy`); ``credentials``: the
      Authentication Service (`CredentialValidator`).
    - ``external_psks``: psk_id → PSK, for PreSharedKey proposals of type
      external (a dict you may update while the group lives);
      ``resumption_psks``: (group_id, epoch) → resumption PSK of *other*
      groups (this group's own recent ones are kept automatically).
    - ``handshake_wire_format``: proposals and commits as PublicMessage
      (default: the server must read them) or PrivateMessage.
    - ``ratchet_tree_in_welcome``: put the tree in the GroupInfo's
      ``ratchet_tree`` extension (else ship it out of band, `Group.export_ratchet_tree`).
    - ``external_pub_in_group_info``: publish ``external_pub`` in GroupInfos
      we create, enabling external commits.
    - ``check_received_lifetimes``: also check KeyPackage lifetimes in
      received Adds and joined trees (§7.3 only recommends it; default off).
    - ``max_past_epochs``: how many earlier epochs keep their keys, for late
      application messages (§15.3 bounded window); ``max_resumption_psks``
      how many epochs' resumption PSKs are kept.
    - ``padding``: PrivateMessage padding policy (§6.3.1).
    - ``out_of_order_window`` / ``max_forward_distance``: the secret tree's limits (§9.2, §15.3).
    """

    rng: Rng | None = None
    clock: Clock = time
    policy: GroupPolicy = field(default_factory=AllowAll)
    credentials: CredentialValidator = field(default_factory=AcceptAllCredentials)
    external_psks: Mapping[bytes, bytes] = field(default_factory=dict)
    resumption_psks: Mapping[tuple[bytes, int], bytes] = field(default_factory=dict)
    handshake_wire_format: WireFormat = WireFormat.mls_public_message
    ratchet_tree_in_welcome: bool = True
    external_pub_in_group_info: bool = True
    check_received_lifetimes: bool = False
    max_past_epochs: int = 3
    max_resumption_psks: int = 8
    padding: PaddingPolicy = DEFAULT_PADDING
    out_of_order_window: int = 32
    max_forward_distance: int = 1024

    @property
    def random(self) -> Rng:
        """The randomness source: the injected ``rng`` or ``os.urandom``."""
        return self.rng if self.rng is not None else urandom

    def now(self) -> int:
        """The current time in whole seconds."""
        return int(self.clock())
