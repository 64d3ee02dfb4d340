"""Inspecting MLS messages without decrypting them — RFC 9420 §6, §10, §12.

The delivery service sees the framing of every message: for a PrivateMessage
the group id, epoch and content type (§6.3); for a PublicMessage (proposals
and commits) also the sender and the content (§6.2). This module reads
exactly that, using `calpico.mls`'s structs, and nothing more: the server
never verifies MLS signatures or MACs (it lacks the group's keys) and never
decrypts. Every parse failure becomes `MalformedMessage`; a well-formed
message the server does not accept becomes `InvalidHandshake`.

What the server derives:

- `inspect_message`: kind, group id, epoch; for a PublicMessage the sender
  leaf, and for a proposal its ProposalRef (§5.2, over the
  AuthenticatedContent) and for a commit the Removes and the Adds'
  KeyPackageRefs, with proposals by reference left for the caller to resolve.
- `inspect_key_package`: cipher suite, KeyPackageRef (§5.2), signature key.
- `inspect_welcome`: the KeyPackageRefs the Welcome's secrets are for (§12.4.3.1).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from calpico.mls.commit import Commit
from calpico.mls.errors import MLSError
from calpico.mls.framing import ContentType, SenderType, WireFormat
from calpico.mls.key_package import KeyPackage
from calpico.mls.messages import MLSMessage
from calpico.mls.proposals import Proposal, ProposalOrRefType, ProposalType

from ..errors import InvalidHandshake, MalformedMessage

__all__ = [
    "CommitSummary",
    "ContentType",
    "InspectedMessage",
    "KeyPackageInfo",
    "ProposalSummary",
    "inspect_key_package",
    "inspect_message",
    "inspect_welcome",
    "proposal_summary",
    "ref_hash",
]

KEY_PACKAGE_REF_LABEL = b"MLS 1.0 KeyPackage Reference"
PROPOSAL_REF_LABEL = b"MLS 1.0 Proposal Reference"


@dataclass(frozen=True, slots=True)
class ProposalSummary:
    """What the roster needs from one proposal: a removed leaf or an added KeyPackage."""

    remove: int | None = None
    add_ref: bytes | None = None
    add_signature_key: bytes | None = None


@dataclass(frozen=True, slots=True)
class CommitSummary:
    """The proposals a commit covers: inline ones summarised, references to resolve."""

    inline: tuple[ProposalSummary, ...] = ()
    references: tuple[bytes, ...] = ()
    has_path: bool = False


@dataclass(frozen=True, slots=True)
class InspectedMessage:
    """The parts of an MLSMessage the server may read."""

    content_type: ContentType
    group_id: bytes
    epoch: int
    public: bool
    sender_leaf: int | None = None
    proposal_ref: bytes | None = None
    proposal_body: bytes | None = None
    proposal: ProposalSummary | None = None
    commit: CommitSummary | None = field(default=None)


@dataclass(frozen=True, slots=True)
class KeyPackageInfo:
    cipher_suite: int
    ref: bytes
    signature_key: bytes
    body: bytes


def ref_hash(cipher_suite: int, label: bytes, value: bytes) -> bytes:
    """RefHash (§5.2) with the suite's hash; raises `InvalidHandshake` for an unknown suite."""
    from calpico.mls.crypto import get_suite

    try:
        return bytes(get_suite(cipher_suite).ref_hash(label, value))
    except MLSError as exc:
        raise InvalidHandshake(f"cipher suite {cipher_suite:#06x} is not supported") from exc


def _decode(data: bytes) -> MLSMessage:
    try:
        return MLSMessage.decode(data)
    except MLSError as exc:
        raise MalformedMessage(f"not a valid MLSMessage: {exc.reason}") from exc


def inspect_message(data: bytes, cipher_suite: int) -> InspectedMessage:
    """Read the framing of a message sent into a group.

    Raises `MalformedMessage` if it does not parse, and `InvalidHandshake`
    for forms the server does not relay: handshake content inside a
    PrivateMessage (the server could not order it), application data in a
    PublicMessage (§6.2 forbids it), non-member senders, other wire formats.
    """
    message = _decode(data)
    if message.wire_format == WireFormat.mls_private_message:
        private = message.private_message
        assert private is not None
        if private.content_type != ContentType.application:
            raise InvalidHandshake("proposals and commits must be sent as PublicMessage so the server can order them")
        return InspectedMessage(ContentType.application, bytes(private.group_id), private.epoch, public=False)
    if message.wire_format != WireFormat.mls_public_message:
        raise InvalidHandshake(f"a {message.wire_format.name} cannot be sent into a group")
    public = message.public_message
    assert public is not None
    content = public.content
    if content.sender.sender_type != SenderType.member or content.sender.leaf_index is None:
        raise InvalidHandshake("only members may send handshake messages through this server")
    if content.content_type == ContentType.application:
        raise InvalidHandshake("application data must be a PrivateMessage (RFC 9420 §6.2)")
    common = {
        "group_id": bytes(content.group_id),
        "epoch": content.epoch,
        "public": True,
        "sender_leaf": content.sender.leaf_index,
    }
    if content.content_type == ContentType.proposal:
        assert content.proposal is not None
        # §5.2: ProposalRef = RefHash("MLS 1.0 Proposal Reference", AuthenticatedContent).
        ref = ref_hash(cipher_suite, PROPOSAL_REF_LABEL, public.authenticated_content().encode())
        return InspectedMessage(
            ContentType.proposal,
            proposal_ref=ref,
            proposal_body=content.proposal.encode(),
            proposal=proposal_summary(content.proposal, cipher_suite),
            **common,  # type: ignore[arg-type]
        )
    assert content.commit is not None
    return InspectedMessage(ContentType.commit, commit=_commit_summary(content.commit, cipher_suite), **common)  # type: ignore[arg-type]


def proposal_summary(proposal: Proposal, cipher_suite: int) -> ProposalSummary:
    """Summarise a decoded Proposal for the roster (§12.1)."""
    if proposal.proposal_type == ProposalType.remove and proposal.remove is not None:
        return ProposalSummary(remove=proposal.remove.removed)
    if proposal.proposal_type == ProposalType.add and proposal.add is not None:
        kp = proposal.add.key_package
        if kp.cipher_suite != cipher_suite:
            raise InvalidHandshake("an Add carries a KeyPackage of another cipher suite")
        ref = ref_hash(cipher_suite, KEY_PACKAGE_REF_LABEL, kp.encode())
        return ProposalSummary(add_ref=ref, add_signature_key=bytes(kp.leaf_node.signature_key))
    if proposal.proposal_type in (ProposalType.external_init, ProposalType.reinit):
        raise InvalidHandshake(f"{proposal.proposal_type.name} proposals are not supported by this server")
    return ProposalSummary()


def summarise_stored_proposal(body: bytes, cipher_suite: int) -> ProposalSummary:
    """Decode a Proposal the server stored earlier in the epoch and summarise it."""
    try:
        return proposal_summary(Proposal.decode(body), cipher_suite)
    except MLSError as exc:  # pragma: no cover - it parsed when it was stored
        raise MalformedMessage(f"stored proposal does not parse: {exc.reason}") from exc


def _commit_summary(commit: Commit, cipher_suite: int) -> CommitSummary:
    inline: list[ProposalSummary] = []
    refs: list[bytes] = []
    for item in commit.proposals:
        if item.type == ProposalOrRefType.proposal and item.proposal is not None:
            inline.append(proposal_summary(item.proposal, cipher_suite))
        elif item.reference is not None:
            refs.append(bytes(item.reference))
    return CommitSummary(tuple(inline), tuple(refs), has_path=commit.path is not None)


def inspect_key_package(data: bytes) -> KeyPackageInfo:
    """Parse an uploaded KeyPackage (an MLSMessage carrying one, or a bare one) — §10.

    Raises `MalformedMessage` if it does not parse.
    """
    try:
        if data[:4] == b"\x00\x01\x00\x05":
            kp = MLSMessage.decode(data).key_package
            assert kp is not None
        else:
            kp = KeyPackage.decode(data)
    except MLSError as exc:
        raise MalformedMessage(f"not a valid KeyPackage: {exc.reason}") from exc
    body = kp.encode()
    ref = ref_hash(kp.cipher_suite, KEY_PACKAGE_REF_LABEL, body)
    return KeyPackageInfo(kp.cipher_suite, ref, bytes(kp.leaf_node.signature_key), body)


def inspect_welcome(data: bytes) -> tuple[int, list[bytes]]:
    """The cipher suite of an MLSMessage(Welcome) and the KeyPackageRefs it is for (§12.4.3.1)."""
    message = _decode(data)
    if message.welcome is None:
        raise MalformedMessage("expected an MLSMessage carrying a Welcome")
    return message.welcome.cipher_suite, [bytes(s.new_member) for s in message.welcome.secrets]
