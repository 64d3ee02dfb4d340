"""RFC 9420 §12.1 — what the `Group.propose_*` methods do: build, check, sign, send and cache a proposal.

A proposal we send is checked by the same §12.1 rules as one we receive
(`proposal_list.check_proposal`) and by the application's policy, framed for
the current epoch, signed (§6.1) and protected as the group's handshake wire
format says (PublicMessage with a membership tag by default, §6.2, or
PrivateMessage, §6.3). It is cached under its ProposalRef (§5.2) like a
received one, so our next commit covers it by reference. An Update keeps
the private key of its new leaf until a commit covers it or the epoch ends.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..authentication import authenticate
from ..credentials import Credential
from ..extensions import Extension
from ..framing import AuthenticatedContent, FramedContent, PublicMessage, Sender, WireFormat
from ..messages import MLSMessage
from ..private_message import PrivateMessage
from ..private_protection import protect_private
from ..proposals import Proposal, ProposalBody, Update
from ..psk import PreSharedKeyID
from ..public_protection import protect_public
from ..refs import make_proposal_ref
from ..secret import Secret
from ..tree.nodes import LeafNodeSource, LeafNodeTBS
from .config import ProposalInContext
from .proposal_list import check_proposal
from .state import CachedProposal

if TYPE_CHECKING:
    from .group import Group

__all__ = ["propose", "propose_update", "protect_handshake", "psk_id"]


def psk_id(group: Group, psk: PreSharedKeyID | bytes) -> PreSharedKeyID:
    """A PreSharedKeyID as given, or an external one for the psk_id ``psk`` with a fresh Nh-byte nonce (§8.4)."""
    if isinstance(psk, PreSharedKeyID):
        return psk
    return PreSharedKeyID.external(psk, group.config.random(group.cipher_suite.nh))


def propose(group: Group, body: ProposalBody, authenticated_data: bytes) -> MLSMessage:
    """Check, sign, protect and cache a proposal of ours (§12.1); see the module docstring.

    Raises `ProtocolError` for a proposal the §12.1 rules or the policy refuse,
    `UsageError` when the group cannot send.
    """
    group._require_active()
    state = group._epoch
    config = group.config
    sender = Sender.member(state.own_leaf)
    proposal = Proposal.of(body)
    item = ProposalInContext(sender, proposal)
    check_proposal(state, item, clock=config.clock, credentials=config.credentials)
    config.policy.check_proposal(group._policy_context(), item)
    content = FramedContent.of(state.context.group_id, state.epoch, sender, proposal, authenticated_data)
    wire_format = config.handshake_wire_format
    authenticated = authenticate(state.suite, group._signature_key, wire_format, content, state.context)
    message: PublicMessage | PrivateMessage
    if wire_format == WireFormat.mls_public_message:
        message = protect_public(
            state.suite, authenticated, context=state.context, membership_key=state.secrets.membership_key
        )
    else:
        message = protect_handshake(group, authenticated)
    ref = make_proposal_ref(state.suite, authenticated)
    group._proposals[ref] = CachedProposal(ref, sender, proposal)
    return MLSMessage.of(message)


def protect_handshake(group: Group, authenticated: AuthenticatedContent) -> PrivateMessage:
    """A handshake message of ours as a PrivateMessage, under the handshake ratchet (§6.3)."""
    state = group._epoch
    config = group.config
    return protect_private(
        state.suite,
        authenticated,
        sender_data_secret=state.secrets.sender_data_secret,
        secret_tree=group._secret_tree,
        padding=config.padding,
        rng=config.random,
    )


def propose_update(
    group: Group,
    credential: Credential | None,
    leaf_extensions: tuple[Extension, ...] | None,
    authenticated_data: bytes,
) -> MLSMessage:
    """An Update with a fresh leaf for us (§12.1.2): new encryption key, signed over group id and leaf index."""
    state = group._epoch
    suite, me = state.suite, state.own_leaf
    old = state.tree.leaf_node(me)
    assert old is not None
    keys = suite.generate_hpke_key_pair(group.config.rng)
    tbs = LeafNodeTBS(
        keys.public_key,
        old.signature_key,
        credential or old.credential,
        old.capabilities,
        LeafNodeSource.update,
        None,
        None,
        old.extensions if leaf_extensions is None else leaf_extensions,
        state.context.group_id,
        me,
    )
    leaf = tbs.with_signature(suite.sign_with_label(group._signature_key, b"LeafNodeTBS", tbs.encode()))
    message = propose(group, Update(leaf), authenticated_data)
    group._own_updates[keys.public_key] = Secret(keys.private_key)
    return message
