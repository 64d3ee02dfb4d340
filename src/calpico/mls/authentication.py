"""RFC 9420 §6.1 — Content authentication: signing and verifying FramedContent.

A message's signature is ``SignWithLabel(., "FramedContentTBS", FramedContentTBS)``
over the protocol version, the wire format it travels in, the FramedContent,
and — for ``member`` and ``new_member_commit`` senders — the GroupContext of
the epoch it was sent in. `authenticate` signs a FramedContent into an
`AuthenticatedContent`, which message protection then turns into a
PublicMessage (`calpico.mls.public_protection`, §6.2) or a PrivateMessage
(`calpico.mls.private_protection`, §6.3).

Received messages stay untrusted wire structs (`PublicMessage`,
`PrivateMessage`) until unprotecting them returns a `VerifiedContent`: the
only way to get one is a verified signature plus a verified membership tag
or a successful AEAD decryption. A Commit's confirmation tag is the exception:
it can only be checked once the new epoch's confirmation_key is known, so the
group checks it (`calpico.mls.transcript.verify_confirmation_tag`).

The signature key depends on the sender (§6.1): the sender's leaf, an
``external_senders`` entry, the LeafNode in an external Commit's path, or the
KeyPackage of an external Add. The caller knows the tree and the extensions,
so it passes a `SignatureKeyLookup`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .codec import encode_varint
from .commit import Commit
from .crypto import CipherSuite
from .errors import ProtocolError, UsageError, VerificationError
from .framing import (
    AuthenticatedContent,
    ContentType,
    FramedContent,
    FramedContentAuthData,
    Sender,
    SenderType,
    WireFormat,
)
from .group_context import GroupContext
from .proposals import Proposal, ProposalType

__all__ = [
    "FRAMED_CONTENT_TBS_LABEL",
    "SignatureKeyLookup",
    "VerifiedContent",
    "authenticate",
    "check_sender_content",
    "encoded_auth_length",
    "encoded_body",
    "encoded_context",
    "framed_content_tbs",
    "sign_framed_content",
    "verify_framed_content",
]

FRAMED_CONTENT_TBS_LABEL = b"FramedContentTBS"

SignatureKeyLookup = Callable[[Sender, FramedContent], bytes]
"""``lookup(sender, content) -> signature public key`` of the sender (§6.1).

It raises a `ProtocolError` when the sender cannot sign in this group: a
blank or out-of-range leaf, an unknown ``external_senders`` index.
"""

_VERSION_MLS10 = b"\x00\x01"
_WIRE_FORMAT = {w: w.to_bytes(2, "big") for w in WireFormat}
_SIGNS_CONTEXT = frozenset((SenderType.member, SenderType.new_member_commit))
# §12.1.8: the proposal types an `external` sender may send.
_EXTERNAL_PROPOSALS = frozenset(
    (
        ProposalType.add,
        ProposalType.remove,
        ProposalType.psk,
        ProposalType.reinit,
        ProposalType.group_context_extensions,
    )
)


# GroupContext encodings by object: a group signs and verifies every message of an epoch
# against the same GroupContext object, so it is encoded once, not per message.
_ENCODED_CONTEXTS: dict[int, tuple[GroupContext, bytes]] = {}
_ENCODED_CONTEXTS_MAX = 64


def encoded_context(context: GroupContext | bytes) -> bytes:
    """``context.encode()``, remembered for the GroupContext objects in recent use."""
    if isinstance(context, bytes):
        return context
    entry = _ENCODED_CONTEXTS.get(id(context))
    if entry is not None and entry[0] is context:
        return entry[1]
    encoded = context.encode()
    if len(_ENCODED_CONTEXTS) >= _ENCODED_CONTEXTS_MAX:
        _ENCODED_CONTEXTS.clear()
    # The entry keeps `context` alive, so its id cannot be reused by another object meanwhile.
    _ENCODED_CONTEXTS[id(context)] = (context, encoded)
    return encoded


def framed_content_tbs(
    wire_format: WireFormat, content: FramedContent | bytes, sender_type: SenderType, context: GroupContext | bytes
) -> bytes:
    """The encoded FramedContentTBS (§6.1).

    ``content`` and ``context`` may be given already encoded; the context is
    left out for ``external`` and ``new_member_proposal`` senders.
    """
    content_bytes = content if isinstance(content, bytes) else content.encode()
    head = _VERSION_MLS10 + _WIRE_FORMAT[wire_format] + content_bytes
    if sender_type in _SIGNS_CONTEXT:
        return head + encoded_context(context)
    return head


def check_sender_content(content: FramedContent) -> None:
    """The §6.1 rules on what each kind of sender may send; raises `ProtocolError`.

    ``external``: proposals of the types §12.1.8 allows; ``new_member_commit``:
    commits; ``new_member_proposal``: Add proposals.
    """
    sender_type = content.sender.sender_type
    if sender_type == SenderType.member:
        return
    content_type = content.content_type
    proposal = content.proposal
    if sender_type == SenderType.new_member_commit:
        if content_type != ContentType.commit:
            raise ProtocolError("a new_member_commit sender can only send a Commit", section="6.1")
    elif sender_type == SenderType.new_member_proposal:
        if proposal is None or proposal.proposal_type != ProposalType.add:
            raise ProtocolError("a new_member_proposal sender can only send an Add proposal", section="6.1")
    elif proposal is None or proposal.proposal_type not in _EXTERNAL_PROPOSALS:
        raise ProtocolError("an external sender can only send add, remove, psk, reinit or GCE", section="12.1.8")


def sign_framed_content(suite: CipherSuite, signature_private_key: bytes, tbs: bytes) -> bytes:
    """``SignWithLabel(key, "FramedContentTBS", tbs)`` over an encoded FramedContentTBS (§6.1).

    Raises `UsageError` for an invalid private key.
    """
    return suite.sign_with_label(signature_private_key, FRAMED_CONTENT_TBS_LABEL, tbs)


def verify_framed_content(suite: CipherSuite, signature_public_key: bytes, tbs: bytes, signature: bytes) -> None:
    """Check a message signature over an encoded FramedContentTBS (§6.1); raises `VerificationError`."""
    try:
        suite.verify_with_label(signature_public_key, FRAMED_CONTENT_TBS_LABEL, tbs, signature)
    except VerificationError as exc:
        raise VerificationError(f"message signature: {exc.reason}", section="6.1") from None


def authenticate(
    suite: CipherSuite,
    signature_private_key: bytes,
    wire_format: WireFormat,
    content: FramedContent,
    context: GroupContext | bytes,
    confirmation_tag: bytes | None = None,
) -> AuthenticatedContent:
    """Sign ``content`` for sending as ``wire_format`` (§6.1).

    ``context`` is the GroupContext of the sending epoch. A Commit needs its
    ``confirmation_tag``, which depends on the signature (§8.2), so a commit
    is signed with `framed_content_tbs` and `sign_framed_content` and
    assembled by hand; other content takes none.
    Raises `UsageError` if the tag does not match the content type, or for a
    wire format other than PublicMessage or PrivateMessage.
    """
    if wire_format not in (WireFormat.mls_public_message, WireFormat.mls_private_message):
        raise UsageError(f"content is not sent as {wire_format.name}", section="6")
    if (confirmation_tag is None) == (content.content_type == ContentType.commit):
        raise UsageError("a Commit, and only a Commit, carries a confirmation tag", section="6.1")
    tbs = framed_content_tbs(wire_format, content, content.sender.sender_type, context)
    signature = sign_framed_content(suite, signature_private_key, tbs)
    return AuthenticatedContent(wire_format, content, FramedContentAuthData(signature, confirmation_tag))


def encoded_body(content_type: ContentType, body: bytes | Proposal | Commit) -> bytes:
    """The encoding of the ``select`` arm of a FramedContent or PrivateMessageContent (§6, §6.3.1)."""
    if isinstance(body, bytes):
        if content_type != ContentType.application:
            raise UsageError(f"a {content_type.name} body cannot be bytes")
        return encode_varint(len(body)) + body
    return body.encode()


def encoded_auth_length(auth: FramedContentAuthData) -> int:
    """The length of ``auth``'s encoding, without encoding it."""
    n = len(auth.signature)
    length = n + len(encode_varint(n))
    tag = auth.confirmation_tag
    if tag is not None:
        length += len(tag) + len(encode_varint(len(tag)))
    return length


@dataclass(frozen=True, slots=True)
class VerifiedContent:
    """An AuthenticatedContent whose sender is authenticated (§6).

    Returned only by unprotecting a message: the signature verified, and so
    did the membership tag (PublicMessage from a member) or the AEAD
    (PrivateMessage). A Commit's confirmation tag is still to be checked
    against the new epoch (§8.2).
    """

    authenticated_content: AuthenticatedContent

    @property
    def wire_format(self) -> WireFormat:
        """The wire format the content arrived in."""
        return self.authenticated_content.wire_format

    @property
    def content(self) -> FramedContent:
        """The FramedContent."""
        return self.authenticated_content.content

    @property
    def auth(self) -> FramedContentAuthData:
        """Signature and, for a Commit, confirmation tag."""
        return self.authenticated_content.auth

    @property
    def sender(self) -> Sender:
        """Who sent it."""
        return self.authenticated_content.content.sender

    @property
    def body(self) -> bytes | Proposal | Commit:
        """The application data, Proposal or Commit."""
        return self.authenticated_content.content.body
