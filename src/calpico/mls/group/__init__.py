"""RFC 9420 §11–§14 — the group state machine.

Theory of operation
-------------------
A `Group` is one member's state of one group in one epoch. It is sans-I/O:
every method takes bytes or structs and returns messages, events and new
state; randomness and time come from `GroupConfig` (defaults ``os.urandom``
and ``time.time``). Its life::

    create ─┐                     ┌─> propose_*() ──> MLSMessage (cached by ProposalRef)
    join ───┼─> Group @ epoch n ──┼─> protect(data) ──> MLSMessage (PrivateMessage)
    join_external ─┘              ├─> commit(...) ──> CommitResult(commit, welcome, group_info, staged)
                                  └─> process(msg) ──> ApplicationMessage | ProposalReceived | StagedCommit

    merge(staged) ──> Group @ epoch n+1      discard(staged) ──> unchanged

The state changes in exactly three ways:

1. ``process`` of a proposal caches it (by its ProposalRef, §5.2, whether it
   came as PublicMessage or PrivateMessage) for this epoch;
2. ``protect``, ``process`` of application data, and handshake messages
   sent as PrivateMessage advance the secret tree's ratchets (§9);
3. ``merge`` installs a staged commit: the new epoch's tree, keys and
   context; the old epoch's message keys stay for ``max_past_epochs`` so
   late application messages still open (§15.3); cached proposals end.

Commits are never applied in place. ``commit()`` and ``process(commit)``
both build the next epoch on copies (`StagedCommit`); the caller merges our
own commit only after the server accepted it (a 409 means: ``discard``,
process what we missed, retry), and an incoming commit once it has
persisted whatever it needs. A message that fails any check raises a typed
`calpico.mls.errors` error naming the RFC section and changes nothing.

Rules are checked where the RFC puts them: KeyPackages (§10.1), proposals
(§12.1) on receipt, the proposal list (§12.2) and its application (§12.3)
when a commit is created or processed, paths and their parent hashes
(§7.5, §7.9), the confirmation tag (§8.2), Welcome and GroupInfo
(§12.4.3.1), external commits (§12.4.3.2). The application adds its own
rules through `GroupPolicy` (e.g. room admins kept in a custom GroupContext
extension) and `CredentialValidator` (the Authentication Service, §5.3.1).

Persistence: `Group.to_bytes` / `Group.from_bytes`, or the split
`epoch_state_bytes` (once per epoch) and `message_state_bytes` (after every
message); see `calpico.mls.group.persistence`.

Modules: `config` (hooks), `events`, `state`, `key_packages` (§10.1),
`proposal_list` (§12.1–§12.3), `psks` (§8.4), `commits` (§12.4.1, §12.4.2),
`committing` (`Group.commit`), `receive` (`Group.process`, §6, §12),
`group_info` (§12.4.3), `join` (§12.4.3.1), `external` (§12.4.3.2, §12.1.8),
`persistence`, `group` (the `Group` API).
"""

from __future__ import annotations

from .config import (
    AcceptAllCredentials,
    AllowAll,
    CredentialValidator,
    GroupConfig,
    GroupPolicy,
    PolicyContext,
    ProposalInContext,
)
from .events import (
    ApplicationMessage,
    CommitEvent,
    ExtensionsChanged,
    Member,
    MemberAdded,
    MemberRemoved,
    MemberUpdated,
    ProcessedMessage,
    ProposalReceived,
    PskUsed,
    ReInitCommitted,
    RemovedFromGroup,
    StagedCommit,
)
from .external import external_proposal, new_member_proposal
from .group import CommitResult, Group, GroupStatus
from .key_packages import verify_key_package

__all__ = [
    "AcceptAllCredentials",
    "AllowAll",
    "ApplicationMessage",
    "CommitEvent",
    "CommitResult",
    "CredentialValidator",
    "ExtensionsChanged",
    "Group",
    "GroupConfig",
    "GroupPolicy",
    "GroupStatus",
    "Member",
    "MemberAdded",
    "MemberRemoved",
    "MemberUpdated",
    "PolicyContext",
    "ProcessedMessage",
    "ProposalInContext",
    "ProposalReceived",
    "PskUsed",
    "ReInitCommitted",
    "RemovedFromGroup",
    "StagedCommit",
    "external_proposal",
    "new_member_proposal",
    "verify_key_package",
]
