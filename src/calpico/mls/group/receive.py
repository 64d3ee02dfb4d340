"""RFC 9420 §6 and §12 — what `Group.process` does with a received message.

A PublicMessage must be of the current epoch; it is verified (membership tag
for members, §6.2; signature, §6.1) against the current GroupContext. A
PrivateMessage of the current epoch is decrypted with the current secret
tree; one of the last few epochs is accepted only for application data,
with that epoch's keys and the senders' LeafNodes as they were then (§15.3).
Then a proposal is checked and cached (§12.1), and a commit staged
(`commits.stage_commit`). Nothing changes unless every check passed.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..authentication import VerifiedContent
from ..errors import DecryptionError, ProtocolError, UsageError
from ..framing import AuthenticatedContent, ContentType, FramedContent, PublicMessage, Sender, SenderType
from ..messages import MLSMessage
from ..private_message import PrivateMessage
from ..private_protection import unprotect_private
from ..proposals import ProposalType
from ..public_protection import unprotect_public
from ..refs import make_proposal_ref
from ..tree.nodes import LeafNode
from .commits import stage_commit
from .config import ProposalInContext
from .events import ApplicationMessage, Member, ProcessedMessage, ProposalReceived, StagedCommit
from .proposal_list import check_proposal, external_senders
from .state import CachedProposal

if TYPE_CHECKING:
    from .group import Group

__all__ = ["LeafLookup", "leaf_node_of", "process_message"]

LeafLookup = Callable[[int], LeafNode | None]
"""``lookup(leaf_index) -> LeafNode`` of an epoch, None for a blank leaf."""


def process_message(group: Group, message: MLSMessage) -> ProcessedMessage:
    """`Group.process`: dispatch on the wire format."""
    from .group import GroupStatus

    body = message.body
    if group._status == GroupStatus.REMOVED:
        raise UsageError("we were removed from this group")
    if isinstance(body, PublicMessage):
        return _process_public(group, body)
    if isinstance(body, PrivateMessage):
        return _process_private(group, body)
    raise UsageError(f"process() takes group messages; a {type(body).__name__} is handled elsewhere")


def _process_public(group: Group, message: PublicMessage) -> ProcessedMessage:
    state = group._epoch
    content = message.content
    if content.group_id != state.context.group_id:
        raise ProtocolError("the message belongs to another group", section="6")
    if content.epoch != state.epoch:
        raise ProtocolError(f"a handshake message for epoch {content.epoch}, we are at {state.epoch}", section="6")
    verified = unprotect_public(
        state.suite,
        message,
        context=state.context,
        membership_key=state.secrets.membership_key,
        signature_key=functools.partial(_signature_key_of, group),
    )
    if content.content_type == ContentType.proposal:
        return _receive_proposal(group, verified.authenticated_content)
    return _receive_commit(group, verified.authenticated_content)


def _process_private(group: Group, message: PrivateMessage) -> ProcessedMessage:
    state = group._epoch
    if message.group_id != state.context.group_id:
        raise ProtocolError("the message belongs to another group", section="6")
    if message.epoch == state.epoch:
        context, sender_data_secret, secret_tree = (
            state.context,
            state.secrets.sender_data_secret,
            group._secret_tree,
        )
        lookup: LeafLookup = functools.partial(leaf_node_of, group)
    else:
        past_index = next((i for i, p in enumerate(group._past) if p.context.epoch == message.epoch), None)
        if past_index is None or message.content_type != ContentType.application:
            raise ProtocolError(f"a message for epoch {message.epoch}, we are at {state.epoch}", section="6")
        past = group._past[past_index]
        context, sender_data_secret, secret_tree = past.context, past.sender_data_secret, past.secret_tree
        lookup = _past_lookup(group, past_index)
    # The secret tree changes only once the message fully verified and was accepted (SecretTree.consume,
    # §9.2): a message that fails, or that our rules refuse (a proposal the policy vetoes, a commit that
    # does not stage), leaves it as it was, even the lazy derivation of the sender's ratchets.
    outcome: list[ProcessedMessage] = []

    def accept(verified: VerifiedContent) -> None:
        content = verified.content
        if content.content_type == ContentType.application:
            leaf_index = content.sender.leaf_index
            assert leaf_index is not None and content.application_data is not None
            node = lookup(leaf_index)
            assert node is not None
            outcome.append(
                ApplicationMessage(
                    Member.of(leaf_index, node), content.application_data, content.authenticated_data, content.epoch
                )
            )
        elif content.content_type == ContentType.proposal:
            outcome.append(_receive_proposal(group, verified.authenticated_content))
        else:
            outcome.append(_receive_commit(group, verified.authenticated_content))

    try:
        unprotect_private(
            state.suite,
            message,
            context=context,
            sender_data_secret=sender_data_secret,
            secret_tree=secret_tree,
            leaf_signature_key=lambda leaf: None if (node := lookup(leaf)) is None else node.signature_key,
            accept=accept,
        )
    except DecryptionError as exc:
        if exc.section is None:  # the AEAD's own error: name the rule it broke
            raise DecryptionError(f"PrivateMessage does not decrypt: {exc.reason}", section="6.3") from None
        raise
    return outcome[0]


def leaf_node_of(group: Group, leaf_index: int) -> LeafNode | None:
    tree = group._epoch.tree
    return tree.leaf_node(leaf_index) if leaf_index < tree.n_leaves else None


def _past_lookup(group: Group, past_index: int) -> LeafLookup:
    """The LeafNode lookup of a past epoch: its ``replaced`` maps forward, then the current tree."""
    chain = group._past[past_index:]

    def lookup(leaf_index: int) -> LeafNode | None:
        for past in chain:
            if leaf_index in past.replaced:
                return past.replaced[leaf_index]
        return leaf_node_of(group, leaf_index)

    return lookup


def _signature_key_of(group: Group, sender: Sender, content: FramedContent) -> bytes:
    """The SignatureKeyLookup of §6.1 for the current epoch."""
    match sender.sender_type:
        case SenderType.member:
            assert sender.leaf_index is not None
            leaf = leaf_node_of(group, sender.leaf_index)
            if leaf is None:
                raise ProtocolError(f"sender leaf {sender.leaf_index} is blank or outside the tree", section="6.1")
            return leaf.signature_key
        case SenderType.external:
            senders = external_senders(group._epoch.context.extensions)
            assert sender.sender_index is not None
            if senders is None or sender.sender_index >= len(senders.external_senders):
                raise ProtocolError(f"unknown external sender {sender.sender_index}", section="12.1.8.1")
            return senders.external_senders[sender.sender_index].signature_key
        case SenderType.new_member_commit:
            if content.commit is None or content.commit.path is None:
                raise ProtocolError("an external commit must carry a path", section="12.4.3.2")
            return content.commit.path.leaf_node.signature_key
        case SenderType.new_member_proposal:
            if content.proposal is None or content.proposal.add is None:
                raise ProtocolError("a new member can only propose its own Add", section="12.1.8")
            return content.proposal.add.key_package.leaf_node.signature_key
    raise ProtocolError("unknown sender type", section="6")


def _receive_proposal(group: Group, authenticated: AuthenticatedContent) -> ProposalReceived:
    state = group._epoch
    content = authenticated.content
    proposal = content.proposal
    assert proposal is not None
    ref = make_proposal_ref(state.suite, authenticated)
    if ref not in group._proposals:
        item = ProposalInContext(content.sender, proposal)
        clock = group._config.clock if group._config.check_received_lifetimes else None
        check_proposal(state, item, clock=clock, credentials=group._config.credentials)
        if proposal.proposal_type == ProposalType.external_init:
            raise ProtocolError("ExternalInit is only valid inside an external commit", section="12.1.6")
        group._config.policy.check_proposal(group._policy_context(), item)
        group._proposals[ref] = CachedProposal(ref, content.sender, proposal)
    return ProposalReceived(content.sender, proposal, ref, state.epoch, group._member_of(content.sender))


def _receive_commit(group: Group, authenticated: AuthenticatedContent) -> StagedCommit:
    state = group._epoch
    content = authenticated.content
    sender = content.sender
    if sender.sender_type == SenderType.member and sender.leaf_index == state.own_leaf:
        own = group._own_commit
        if own is not None and own[0] == content.encode():
            return own[1]
        raise UsageError("a commit from our own leaf that we did not stage here: merge the StagedCommit we made")
    nxt, events = stage_commit(
        state,
        VerifiedContent(authenticated),
        cache=group._proposals,
        own_update_keys=group._own_updates,
        config=group._config,
        resumption=group._resumption_lookup,
    )
    return StagedCommit(sender, state.epoch + 1, events, False, state.epoch, nxt)
