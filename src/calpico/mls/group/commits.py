"""RFC 9420 §12.4.1 and §12.4.2 — creating and processing a Commit.

Both directions run the same steps on a copy of the state, so a commit we
create and the same commit received by another member give the same epoch:

1. resolve the proposal list (by value, or by reference from this epoch's
   cache) and validate and apply it (`proposal_list.apply_proposals`, §12.2, §12.3);
2. the path: required for update, remove, external_init,
   group_context_extensions or an empty list (§12.4 pseudocode). The
   committer creates it (`create_update_path`), encrypts its path secrets
   under the *provisional* GroupContext (new epoch, new tree hash, new
   extensions, old confirmed transcript hash), excluding the members this
   commit adds; a receiver merges it and decrypts its path secret.
   ``commit_secret`` is the path's last secret, or zero without a path;
3. the transcript: confirmed hash over the signed FramedContent, the new
   GroupContext, the key schedule from the old init_secret (or the external
   init secret, §8.3) with the PSKs (§8.4), then the confirmation tag (§6.1)
   and the interim hash (§8.2).

The result is a `NextEpoch` plus the events of the commit; nothing of the
current state changes (the committer's handshake ratchet excepted, when it
sends the commit as a PrivateMessage).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ..authentication import VerifiedContent, framed_content_tbs, sign_framed_content
from ..codec import encode_varint
from ..commit import Commit, UpdatePath
from ..errors import DecryptionError, ProtocolError
from ..framing import (
    AuthenticatedContent,
    FramedContent,
    FramedContentAuthData,
    PublicMessage,
    Sender,
    SenderType,
    WireFormat,
)
from ..group_context import GroupContext
from ..key_schedule import EpochKeySchedule, derive_epoch, receive_external_init
from ..private_message import PrivateMessage
from ..private_protection import protect_private
from ..proposals import ProposalOrRef, ProposalOrRefType
from ..public_protection import membership_tag
from ..secret import Secret
from ..secret_tree import SecretTree
from ..transcript import (
    TranscriptHashes,
    confirmation_tag,
    confirmed_transcript_hash,
    interim_transcript_hash,
    verify_confirmation_tag,
)
from ..tree.nodes import LeafNode
from ..tree.private_tree import PrivateTree
from ..tree.ratchet_tree import RatchetTree
from ..tree.treekem import LeafNodeParams, PreparedPath, create_update_path, decrypt_update_path, merge_update_path
from .config import GroupConfig, PolicyContext, ProposalInContext
from .events import (
    CommitEvent,
    ExtensionsChanged,
    Member,
    MemberAdded,
    MemberRemoved,
    MemberUpdated,
    PskUsed,
    ReInitCommitted,
    RemovedFromGroup,
)
from .proposal_list import AppliedProposals, apply_proposals, required_capabilities
from .psks import ResumptionLookup, compute_psk_secret
from .state import CachedProposal, EpochState, NextEpoch

__all__ = ["CreatedCommit", "create_commit", "new_secret_tree", "resolve_proposals", "stage_commit"]


def new_secret_tree(state: EpochState, encryption_secret: bytes, config: GroupConfig) -> SecretTree:
    """The §9 secret tree of a new epoch."""
    return SecretTree(
        state.suite,
        encryption_secret,
        state.tree.n_leaves,
        out_of_order_window=config.out_of_order_window,
        max_forward_distance=config.max_forward_distance,
    )


def _context(state: EpochState, tree: RatchetTree, confirmed: bytes, applied: AppliedProposals) -> GroupContext:
    old = state.context
    return GroupContext(
        old.version, old.cipher_suite, old.group_id, old.epoch + 1, tree.tree_hash(), confirmed, applied.extensions
    )


def _policy_context(state: EpochState, applied: AppliedProposals) -> PolicyContext:
    context = state.context
    return PolicyContext(context.group_id, context.epoch, state.tree, context.extensions, applied.extensions)


def _events(
    state: EpochState,
    applied: AppliedProposals,
    committer: Sender,
    committer_leaf: int | None,
    path: UpdatePath | None,
    removed_us: bool,
) -> tuple[tuple[CommitEvent, ...], dict[int, LeafNode | None]]:
    """The commit's events in §12.3 order, and the old LeafNodes of the leaves that change."""
    events: list[CommitEvent] = []
    replaced: dict[int, LeafNode | None] = {}
    if applied.extensions_changed:
        events.append(ExtensionsChanged(state.context.extensions, applied.extensions))
    for index, old, new in applied.updated:
        events.append(MemberUpdated(Member.of(index, old), Member.of(index, new)))
        replaced[index] = old
    for index, old, by in applied.removed:
        events.append(MemberRemoved(Member.of(index, old), by))
        replaced[index] = old
    for index, leaf, _, by in applied.added:
        events.append(MemberAdded(Member.of(index, leaf), by))
        replaced.setdefault(index, None)
    if applied.psks:
        events.append(PskUsed(tuple(applied.psks)))
    if applied.reinit is not None:
        events.append(ReInitCommitted(applied.reinit))
    if path is not None and committer_leaf is not None:
        old_leaf = state.tree.leaf_node(committer_leaf)
        new_leaf = path.leaf_node
        if committer.sender_type == SenderType.new_member_commit:
            events.append(MemberAdded(Member.of(committer_leaf, new_leaf), committer, external=True))
            replaced.setdefault(committer_leaf, old_leaf)
        elif old_leaf is not None and (
            old_leaf.credential != new_leaf.credential or old_leaf.signature_key != new_leaf.signature_key
        ):
            events.append(MemberUpdated(Member.of(committer_leaf, old_leaf), Member.of(committer_leaf, new_leaf)))
            replaced.setdefault(committer_leaf, old_leaf)
    if removed_us:
        events.append(RemovedFromGroup(next(by for i, _, by in applied.removed if i == state.own_leaf)))
    return tuple(events), replaced


def _transcript_input(wire_format: WireFormat, content_bytes: bytes, signature: bytes) -> bytes:
    # ConfirmedTranscriptHashInput {WireFormat, FramedContent, signature<V>} (§8.2)
    return wire_format.to_bytes(2, "big") + content_bytes + encode_varint(len(signature)) + signature


# --- §12.4.1: creating a commit ---------------------------------------------------------


@dataclass(slots=True, eq=False)
class CreatedCommit:
    """A commit we created: its message, the staged next epoch, and what Welcomes need."""

    message: PublicMessage | PrivateMessage
    next: NextEpoch
    events: tuple[CommitEvent, ...]
    applied: AppliedProposals
    schedule: EpochKeySchedule
    prepared: PreparedPath | None
    confirmation_tag: bytes


def create_commit(
    state: EpochState,
    signature_private_key: bytes,
    proposals: Sequence[ProposalOrRef],
    items: Sequence[ProposalInContext],
    *,
    prevalidated: Sequence[int],
    config: GroupConfig,
    force_path: bool,
    leaf_params: LeafNodeParams | None,
    authenticated_data: bytes,
    wire_format: WireFormat,
    secret_tree: SecretTree,
    resumption: ResumptionLookup,
) -> CreatedCommit:
    """Create a Commit covering ``proposals`` (with ``items`` their resolved contents), §12.4.1.

    Lifetimes of added KeyPackages are checked against the clock (a MUST for
    the sender, §7.3). Raises `ProtocolError` for an invalid list or a
    policy veto, and `UsageError` on misuse.
    """
    suite, old = state.suite, state.context
    me = state.own_leaf
    committer = Sender.member(me)
    applied = apply_proposals(
        state, items, committer=committer, clock=config.clock, credentials=config.credentials, prevalidated=prevalidated
    )
    config.policy.check_commit(_policy_context(state, applied), committer, items)
    psk_secret = compute_psk_secret(suite, applied.psks, external=config.external_psks, resumption=resumption)
    tree = applied.tree
    prepared: PreparedPath | None = None
    path: UpdatePath | None = None
    if applied.path_required or force_path or leaf_params is not None:
        prepared = create_update_path(
            tree,
            me,
            group_id=old.group_id,
            signature_private_key=signature_private_key,
            leaf_params=leaf_params,
            rng=config.rng,
        )
        provisional = _context(state, tree, old.confirmed_transcript_hash, applied)
        path = prepared.encrypt(provisional.encode(), exclude=applied.added_leaves, rng=config.rng)
        commit_secret: bytes = prepared.commit_secret
        private: PrivateTree = prepared.private_tree
    else:
        commit_secret = Secret.zero(suite.nh)
        private = state.private.pruned(tree)

    content = FramedContent.of(old.group_id, old.epoch, committer, Commit(tuple(proposals), path), authenticated_data)
    content_bytes = content.encode()
    tbs = framed_content_tbs(wire_format, content_bytes, SenderType.member, old)
    signature = sign_framed_content(suite, signature_private_key, tbs)
    confirmed = suite.hash(state.transcript.interim + _transcript_input(wire_format, content_bytes, signature))
    context = _context(state, tree, confirmed, applied)
    schedule = derive_epoch(suite, state.secrets.init_secret, commit_secret, context, psk_secret)
    tag = confirmation_tag(suite, schedule.secrets.confirmation_key, confirmed)
    auth = FramedContentAuthData(signature, tag)
    message: PublicMessage | PrivateMessage
    if wire_format == WireFormat.mls_public_message:
        mac = membership_tag(suite, state.secrets.membership_key, tbs, auth.encode())
        message = PublicMessage(content, auth, mac)
    else:
        message = protect_private(
            suite,
            AuthenticatedContent(wire_format, content, auth),
            sender_data_secret=state.secrets.sender_data_secret,
            secret_tree=secret_tree,
            padding=config.padding,
            rng=config.random,
        )
    transcript = TranscriptHashes(confirmed, interim_transcript_hash(suite, confirmed, tag))
    epoch = EpochState(suite, context, tree, private, schedule.secrets, transcript)
    events, replaced = _events(state, applied, committer, me, path, removed_us=False)
    next_epoch = NextEpoch(
        state, epoch, new_secret_tree(epoch, schedule.encryption_secret, config), replaced, applied.reinit
    )
    return CreatedCommit(message, next_epoch, events, applied, schedule, prepared, tag)


# --- §12.4.2: processing a commit --------------------------------------------------------


def resolve_proposals(
    commit: Commit, sender: Sender, cache: Mapping[bytes, CachedProposal]
) -> tuple[list[ProposalInContext], list[int]]:
    """The proposals a received Commit covers, and the positions that came from the cache."""
    items: list[ProposalInContext] = []
    cached_positions: list[int] = []
    external = sender.sender_type == SenderType.new_member_commit
    for position, entry in enumerate(commit.proposals):
        if entry.type == ProposalOrRefType.reference:
            if external:
                raise ProtocolError("an external commit cannot cover proposals by reference", section="12.4.3.2")
            assert entry.reference is not None
            cached = cache.get(bytes(entry.reference))
            if cached is None:
                raise ProtocolError(
                    f"the commit refers to proposal {bytes(entry.reference).hex()}, unknown in this epoch",
                    section="12.4.2",
                )
            items.append(ProposalInContext(cached.sender, cached.proposal))
            cached_positions.append(position)
        else:
            assert entry.proposal is not None
            items.append(ProposalInContext(sender, entry.proposal))
    return items, cached_positions


def stage_commit(
    state: EpochState,
    verified: VerifiedContent,
    *,
    cache: Mapping[bytes, CachedProposal],
    own_update_keys: Mapping[bytes, bytes],
    config: GroupConfig,
    resumption: ResumptionLookup,
) -> tuple[NextEpoch, tuple[CommitEvent, ...]]:
    """Apply a received, authenticated Commit to a copy of ``state`` (§12.4.2).

    ``own_update_keys`` maps the encryption keys of our pending Update
    proposals to their private keys. Raises `ProtocolError` /
    `VerificationError` / `DecryptionError` naming the broken rule; the
    confirmation tag is checked last (§8.2).
    """
    suite, old = state.suite, state.context
    content = verified.content
    commit = content.commit
    assert commit is not None
    sender = content.sender
    if sender.sender_type not in (SenderType.member, SenderType.new_member_commit):
        raise ProtocolError("only members and new members send commits", section="6.1")
    items, cached_positions = resolve_proposals(commit, sender, cache)
    applied = apply_proposals(
        state,
        items,
        committer=sender,
        clock=config.clock if config.check_received_lifetimes else None,
        credentials=config.credentials,
        prevalidated=cached_positions,
    )
    config.policy.check_commit(_policy_context(state, applied), sender, items)
    path = commit.path
    if applied.path_required and path is None:
        raise ProtocolError(
            "this commit needs a path (empty, or with update/remove/GCE/external_init)", section="12.4.2"
        )
    tree = applied.tree
    me = state.own_leaf
    removed_us = any(index == me for index, _, _ in applied.removed)
    external = sender.sender_type == SenderType.new_member_commit
    if external:
        assert path is not None and applied.external_init is not None
        sender_leaf: int = tree.reserve_leaf()
        for _, old_leaf, _ in applied.removed:  # a resync (§12.4.3.2)
            if not config.credentials.same_client(old_leaf.credential, path.leaf_node.credential):
                raise ProtocolError("a resync external commit must come from the removed client", section="12.4.3.2")
        init_secret = receive_external_init(suite, state.secrets.external_secret, applied.external_init.kem_output)
    else:
        assert sender.leaf_index is not None
        sender_leaf = sender.leaf_index
        init_secret = state.secrets.init_secret

    private = state.private
    if not removed_us:
        for index, _, new in applied.updated:
            if index == me:  # another member committed our Update: its key is ours
                key = own_update_keys.get(new.encryption_key)
                if key is None:
                    raise DecryptionError("our leaf was updated with a key we do not hold", section="12.1.2")
                private = private.with_leaf_key(key)
        private = private.pruned(tree)
    rc = required_capabilities(applied.extensions)
    commit_secret: bytes = Secret.zero(suite.nh)
    if path is not None:
        committer_old = tree.leaf_node(sender_leaf)
        merge_update_path(
            tree, sender_leaf, path, group_id=old.group_id, exclude=applied.added_leaves, required_capabilities=rc
        )
        new_leaf = path.leaf_node
        config.credentials.validate(new_leaf.credential, new_leaf.signature_key)
        if (
            committer_old is not None
            and committer_old.credential != new_leaf.credential
            and not config.credentials.same_client(committer_old.credential, new_leaf.credential)
        ):
            raise ProtocolError("the committer's new credential is not the same client", section="12.4.2")
        if not removed_us:
            provisional = _context(state, tree, old.confirmed_transcript_hash, applied)
            received = decrypt_update_path(
                tree, private, sender_leaf, path, provisional.encode(), exclude=applied.added_leaves
            )
            commit_secret, private = received.commit_secret, received.private_tree
    events, replaced = _events(state, applied, sender, sender_leaf, path, removed_us)
    if removed_us:
        return NextEpoch(state, None, None, replaced, applied.reinit), events

    psk_secret = compute_psk_secret(suite, applied.psks, external=config.external_psks, resumption=resumption)
    confirmed = confirmed_transcript_hash(suite, state.transcript.interim, verified.authenticated_content)
    context = _context(state, tree, confirmed, applied)
    schedule = derive_epoch(suite, init_secret, commit_secret, context, psk_secret)
    tag = verified.auth.confirmation_tag
    if tag is None:
        raise ProtocolError("a commit without a confirmation tag", section="6.1")
    verify_confirmation_tag(suite, schedule.secrets.confirmation_key, confirmed, tag)
    transcript = TranscriptHashes(confirmed, interim_transcript_hash(suite, confirmed, tag))
    epoch = EpochState(suite, context, tree, private, schedule.secrets, transcript)
    secret_tree = new_secret_tree(epoch, schedule.encryption_secret, config)
    return NextEpoch(state, epoch, secret_tree, replaced, applied.reinit), events
