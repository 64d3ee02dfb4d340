"""RFC 9420 §12.4.3.2 and §12.1.8 — external commits and external proposals.

An external commit lets a client join without a member's help, from a
GroupInfo that carries ``external_pub``: it derives the epoch's init secret
with HPKE against that key (§8.3, the ExternalInit's ``kem_output`` lets
members derive the same), takes the leftmost blank leaf (after an optional
resync Remove of its own old leaf), and sends a full commit signed with the
key of its new leaf, sender ``new_member_commit``, as a PublicMessage.

External proposals come from parties outside the group: an
``external_senders`` entry (sender ``external``, §12.1.8.1) or a client
proposing its own Add (``new_member_proposal``). Both are PublicMessages
without a membership tag, signed without the GroupContext (§6.1).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..authentication import framed_content_tbs, sign_framed_content
from ..codec import encode_varint
from ..commit import Commit
from ..credentials import Credential
from ..crypto import get_suite
from ..errors import ProtocolError, UsageError
from ..extensions import Extension, ExtensionType
from ..framing import FramedContent, FramedContentAuthData, PublicMessage, Sender, SenderType, WireFormat
from ..group_context import GroupContext
from ..key_package import KeyPackage
from ..key_schedule import EpochKeySchedule, derive_epoch, send_external_init
from ..proposals import Add, ExternalInit, PreSharedKey, Proposal, ProposalBody, ProposalType, Remove
from ..psk import PreSharedKeyID
from ..transcript import TranscriptHashes, confirmation_tag, interim_transcript_hash
from ..tree.nodes import Capabilities
from ..tree.ratchet_tree import RatchetTree
from ..tree.treekem import LeafNodeParams, create_update_path
from ..tree.validation import validate_tree
from ..welcome import GroupInfo
from .config import GroupConfig
from .group_info import external_pub_of, tree_from_group_info, verify_group_info_signature
from .proposal_list import check_psk_id, required_capabilities
from .psks import compute_psk_secret
from .state import EpochState

__all__ = ["ExternalCommit", "create_external_commit", "external_proposal", "new_member_proposal", "verified_tree"]

_DEFAULT_EXTENSIONS = frozenset(int(t) for t in ExtensionType)


def verified_tree(group_info: GroupInfo, ratchet_tree: bytes | None, config: GroupConfig) -> RatchetTree:
    """The group's tree from a GroupInfo, checked as a joiner must (§12.4.3.1): hash, signature, validity."""
    context = group_info.group_context
    suite = get_suite(context.cipher_suite)
    tree = tree_from_group_info(suite, group_info, ratchet_tree)
    signer = tree.leaf_node(group_info.signer) if group_info.signer < tree.n_leaves else None
    if signer is None:
        raise ProtocolError(f"GroupInfo signer {group_info.signer} is a blank leaf", section="12.4.3.1")
    verify_group_info_signature(suite, group_info, signer.signature_key)
    validate_tree(
        tree,
        context.group_id,
        clock=config.clock if config.check_received_lifetimes else None,
        required_capabilities=required_capabilities(context.extensions),
    )
    for _, leaf in tree.members():
        config.credentials.validate(leaf.credential, leaf.signature_key)
    return tree


@dataclass(slots=True, eq=False)
class ExternalCommit:
    """An external commit: the message to send and the joiner's state if the group accepts it."""

    message: PublicMessage
    epoch: EpochState
    schedule: EpochKeySchedule


def create_external_commit(
    group_info: GroupInfo,
    *,
    signature_private_key: bytes,
    credential: Credential,
    capabilities: Capabilities | None,
    leaf_extensions: tuple[Extension, ...],
    ratchet_tree: bytes | None,
    resync_leaf: int | None,
    psks: Sequence[PreSharedKeyID],
    authenticated_data: bytes,
    config: GroupConfig,
) -> ExternalCommit:
    """Join the group of ``group_info`` by an external commit (§12.4.3.2).

    Raises `ProtocolError` if the GroupInfo has no ``external_pub``, we do
    not support the group's extensions, or ``resync_leaf`` is blank; what
    verifying the GroupInfo and tree raises (§12.4.3.1).
    """
    context = group_info.group_context
    suite = get_suite(context.cipher_suite)
    tree = verified_tree(group_info, ratchet_tree, config).copy()
    signature_key = suite.signature_public_key(signature_private_key)
    if capabilities is None:
        capabilities = Capabilities(
            versions=(context.version,),
            cipher_suites=(context.cipher_suite,),
            credentials=(credential.credential_type,),
        )
    for ext in context.extensions:
        if ext.extension_type not in _DEFAULT_EXTENSIONS and ext.extension_type not in capabilities.extensions:
            raise ProtocolError(f"we do not support the group's extension {ext.extension_type}", section="12.4.3.2")
    kem_output, init_secret = send_external_init(suite, external_pub_of(group_info), config.rng)
    bodies: list[ProposalBody] = [ExternalInit(kem_output)]
    if resync_leaf is not None:
        if tree.leaf_node(resync_leaf) is None:
            raise ProtocolError(f"resync of leaf {resync_leaf}, which is blank", section="12.1.3")
        tree.remove_leaf(resync_leaf)
        bodies.append(Remove(resync_leaf))
    for psk in psks:
        check_psk_id(psk, suite.nh)
        bodies.append(PreSharedKey(psk))
    psk_secret = compute_psk_secret(
        suite,
        list(psks),
        external=config.external_psks,
        resumption=lambda group_id, epoch: config.resumption_psks.get((group_id, epoch)),
    )
    index = tree.reserve_leaf()
    params = LeafNodeParams(signature_key, credential, capabilities, leaf_extensions)
    prepared = create_update_path(
        tree,
        index,
        group_id=context.group_id,
        signature_private_key=signature_private_key,
        leaf_params=params,
        rng=config.rng,
    )
    new_epoch = context.epoch + 1
    provisional = GroupContext(
        context.version,
        context.cipher_suite,
        context.group_id,
        new_epoch,
        tree.tree_hash(),
        context.confirmed_transcript_hash,
        context.extensions,
    )
    path = prepared.encrypt(provisional.encode(), rng=config.rng)
    content = FramedContent.of(
        context.group_id, context.epoch, Sender.new_member_commit(), Commit.of(bodies, path), authenticated_data
    )
    content_bytes = content.encode()
    wire_format = WireFormat.mls_public_message
    tbs = framed_content_tbs(wire_format, content_bytes, SenderType.new_member_commit, context)
    signature = sign_framed_content(suite, signature_private_key, tbs)
    interim = interim_transcript_hash(suite, context.confirmed_transcript_hash, group_info.confirmation_tag)
    confirmed = suite.hash(
        interim + wire_format.to_bytes(2, "big") + content_bytes + encode_varint(len(signature)) + signature
    )
    new_context = GroupContext(
        context.version,
        context.cipher_suite,
        context.group_id,
        new_epoch,
        tree.tree_hash(),
        confirmed,
        context.extensions,
    )
    schedule = derive_epoch(suite, init_secret, prepared.commit_secret, new_context, psk_secret)
    tag = confirmation_tag(suite, schedule.secrets.confirmation_key, confirmed)
    transcript = TranscriptHashes(confirmed, interim_transcript_hash(suite, confirmed, tag))
    epoch = EpochState(suite, new_context, tree, prepared.private_tree, schedule.secrets, transcript)
    message = PublicMessage(content, FramedContentAuthData(signature, tag))
    return ExternalCommit(message, epoch, schedule)


def external_proposal(
    group_id: bytes,
    epoch: int,
    cipher_suite: int,
    *,
    sender_index: int,
    signature_private_key: bytes,
    proposal: Proposal | ProposalBody,
    authenticated_data: bytes = b"",
) -> PublicMessage:
    """A proposal from entry ``sender_index`` of the group's ``external_senders`` (§12.1.8).

    Only add, remove, psk, reinit and group_context_extensions may be sent
    this way; raises `UsageError` for another type.
    """
    if not isinstance(proposal, Proposal):
        proposal = Proposal.of(proposal)
    if proposal.proposal_type in (ProposalType.update, ProposalType.external_init):
        raise UsageError(f"an external sender cannot propose {proposal.proposal_type.name}", section="12.1.8")
    return _sign_external(
        cipher_suite,
        FramedContent.of(group_id, epoch, Sender.external(sender_index), proposal, authenticated_data),
        signature_private_key,
    )


def new_member_proposal(
    group_info: GroupInfo, key_package: KeyPackage, signature_private_key: bytes, authenticated_data: bytes = b""
) -> PublicMessage:
    """A client's proposal to add itself, from the group's GroupInfo (§12.1.8, sender ``new_member_proposal``)."""
    context = group_info.group_context
    content = FramedContent.of(
        context.group_id,
        context.epoch,
        Sender.new_member_proposal(),
        Proposal.of(Add(key_package)),
        authenticated_data,
    )
    return _sign_external(context.cipher_suite, content, signature_private_key)


def _sign_external(cipher_suite: int, content: FramedContent, signature_private_key: bytes) -> PublicMessage:
    suite = get_suite(cipher_suite)
    tbs = framed_content_tbs(WireFormat.mls_public_message, content, content.sender.sender_type, b"")
    signature = sign_framed_content(suite, signature_private_key, tbs)
    return PublicMessage(content, FramedContentAuthData(signature))
