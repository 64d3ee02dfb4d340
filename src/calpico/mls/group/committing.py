"""RFC 9420 §12.4.1 — what `Group.commit` does: choose the proposals, create the commit, build the Welcome.

Pending proposals of this epoch go in by reference (those that fit
together, §12.2: Removes preferred over Updates, the newest Update per
leaf, no own Update or Remove, one GroupContextExtensions, never a ReInit
alongside others); the caller's Adds, Removes, extension change and PSKs go
in by value. `commits.create_commit` validates, applies and signs; then the
GroupInfo is signed for the new epoch and the Welcome encrypted to each new
member, with the path secret of the lowest common ancestor when the commit
has a path (§12.4.3.1).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from ..credentials import Credential
from ..errors import UsageError
from ..extensions import Extension
from ..framing import PublicMessage, Sender
from ..key_package import KeyPackage
from ..messages import MLSMessage
from ..proposals import (
    Add,
    GroupContextExtensions,
    PreSharedKey,
    Proposal,
    ProposalBody,
    ProposalOrRef,
    ReInit,
    Remove,
    Update,
)
from ..psk import PreSharedKeyID
from ..tree.treekem import LeafNodeParams
from ..welcome import GroupInfo, Welcome
from .commits import create_commit
from .config import ProposalInContext
from .events import StagedCommit
from .group_info import build_welcome, group_info_extensions, sign_group_info
from .key_packages import key_package_ref_and_tbs
from .proposing import psk_id
from .state import CachedProposal

if TYPE_CHECKING:
    from .group import CommitResult, Group

__all__ = ["commit_group"]


def commit_group(
    group: Group,
    *,
    add: Iterable[KeyPackage | MLSMessage],
    remove: Iterable[int],
    extensions: Sequence[Extension] | None,
    psks: Iterable[PreSharedKeyID | bytes],
    include_pending: bool,
    update: bool,
    credential: Credential | None,
    reinit: ReInit | None,
    with_group_info: bool,
    authenticated_data: bytes,
) -> CommitResult:
    """`Group.commit` (see its docstring)."""
    from .group import CommitResult, _key_package_of

    group._require_active()
    state = group._epoch
    me = state.own_leaf
    new_bodies: list[ProposalBody] = [Add(_key_package_of(k) if isinstance(k, MLSMessage) else k) for k in add]
    new_bodies += [Remove(index) for index in remove]
    if extensions is not None:
        new_bodies.append(GroupContextExtensions(tuple(extensions)))
    new_bodies += [PreSharedKey(psk_id(group, p)) for p in psks]
    if reinit is not None:
        if new_bodies:
            raise UsageError("a ReInit must be committed alone", section="12.2")
        new_bodies, include_pending = [reinit], False
    by_value_leaves = {b.removed for b in new_bodies if isinstance(b, Remove)}
    references: list[tuple[bytes, CachedProposal]] = []
    if include_pending:
        references = _committable(
            group, me, by_value_leaves, any(isinstance(b, GroupContextExtensions) for b in new_bodies)
        )
    proposals = [ProposalOrRef.of(ref) for ref, _ in references]
    proposals += [ProposalOrRef.of(body) for body in new_bodies]
    sender = Sender.member(me)
    items = [ProposalInContext(c.sender, c.proposal) for _, c in references]
    items += [ProposalInContext(sender, Proposal.of(body)) for body in new_bodies]
    leaf_params = None
    if credential is not None:
        old = state.tree.leaf_node(me)
        assert old is not None
        leaf_params = LeafNodeParams(old.signature_key, credential, old.capabilities, old.extensions)
    created = create_commit(
        state,
        group._signature_key,
        proposals,
        items,
        prevalidated=range(len(references)),
        config=group._config,
        force_path=update,
        leaf_params=leaf_params,
        authenticated_data=authenticated_data,
        wire_format=group._config.handshake_wire_format,
        secret_tree=group._secret_tree,
        resumption=group._resumption_lookup,
    )
    new_epoch = created.next.epoch
    assert new_epoch is not None
    welcome: Welcome | None = None
    group_info: GroupInfo | None = None
    applied = created.applied
    if applied.added or with_group_info:
        gi_extensions = group_info_extensions(
            new_epoch,
            ratchet_tree=group._config.ratchet_tree_in_welcome,
            external_pub=group._config.external_pub_in_group_info,
        )
        group_info = sign_group_info(new_epoch, gi_extensions, created.confirmation_tag, group._signature_key)
    if applied.added:
        assert group_info is not None
        recipients = []
        for index, _, kp, _ in applied.added:
            ref = applied.key_package_refs.get(index) or key_package_ref_and_tbs(state.suite, kp)[0]
            path_secret = None if created.prepared is None else created.prepared.path_secret_for(index)
            recipients.append((ref, kp.init_key, path_secret))
        welcome = build_welcome(
            state.suite,
            group_info,
            joiner_secret=created.schedule.joiner_secret,
            welcome_secret=created.schedule.welcome_secret,
            recipients=recipients,
            psks=applied.psks,
            rng=group._config.rng,
        )
    staged = StagedCommit(sender, state.epoch + 1, created.events, True, state.epoch, created.next)
    content = created.message.content if isinstance(created.message, PublicMessage) else None
    group._own_commit = (b"" if content is None else content.encode(), staged)
    return CommitResult(
        MLSMessage.of(created.message),
        None if welcome is None else MLSMessage.of(welcome),
        None if group_info is None else MLSMessage.of(group_info),
        staged,
    )


def _committable(
    group: Group, me: int, by_value_leaves: set[int], by_value_gce: bool
) -> list[tuple[bytes, CachedProposal]]:
    """Cached proposals that can go into our commit together (§12.2, §12.4: SHOULD include valid ones)."""
    chosen: list[tuple[bytes, CachedProposal]] = []
    removes = {c.proposal.remove.removed for c in group._proposals.values() if c.proposal.remove is not None}
    touched = set(by_value_leaves)
    seen_keys: set[bytes] = set()
    gce = by_value_gce
    # Newest Updates win (§12.2 SHOULD): walk the cache newest first, then restore order.
    for ref, cached in reversed(list(group._proposals.items())):
        body = cached.proposal.body
        sender_leaf = cached.sender.leaf_index
        if isinstance(body, Update):
            if sender_leaf == me or sender_leaf in removes or sender_leaf in touched:
                continue
            assert sender_leaf is not None
            touched.add(sender_leaf)
        elif isinstance(body, Remove):
            if body.removed == me or body.removed in touched:
                continue
            touched.add(body.removed)
        elif isinstance(body, Add):
            key = body.key_package.leaf_node.signature_key
            if key in seen_keys:
                continue
            seen_keys.add(key)
        elif isinstance(body, GroupContextExtensions):
            if gce:
                continue
            gce = True
        elif isinstance(body, ReInit):
            continue  # a ReInit must stand alone (§12.2): commit(reinit=...)
        chosen.append((ref, cached))
    chosen.reverse()
    return chosen
