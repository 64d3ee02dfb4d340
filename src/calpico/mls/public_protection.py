"""RFC 9420 §6.2 — PublicMessage: signed, with a membership tag for members.

A PublicMessage carries its AuthenticatedContent in the clear. For a
``member`` sender it adds ``membership_tag = MAC(membership_key,
AuthenticatedContentTBM)``, where the TBM is the FramedContentTBS followed by
the FramedContentAuthData, so only holders of the epoch's membership key can
produce one; messages from non-members carry no tag and rely on the signature
alone.

Calpico sends proposals and commits as PublicMessage (so the server can order
them, ../shared/docs/ARCHITECTURE.md §3); application data never: §6 requires
PrivateMessage for it, so `protect_public` refuses it and `unprotect_public`
rejects it unless the caller explicitly allows it.
"""

from __future__ import annotations

from .authentication import (
    SignatureKeyLookup,
    VerifiedContent,
    check_sender_content,
    framed_content_tbs,
    verify_framed_content,
)
from .crypto import CipherSuite
from .errors import ProtocolError, UsageError, VerificationError
from .framing import AuthenticatedContent, ContentType, FramedContent, PublicMessage, SenderType, WireFormat
from .group_context import GroupContext

__all__ = ["membership_tag", "protect_public", "unprotect_public", "verify_membership_tag"]


def membership_tag(suite: CipherSuite, membership_key: bytes, tbs: bytes, auth_bytes: bytes) -> bytes:
    """``MAC(membership_key, AuthenticatedContentTBM)``, from the encoded FramedContentTBS and auth (§6.2)."""
    return suite.mac(membership_key, tbs + auth_bytes)


def verify_membership_tag(suite: CipherSuite, membership_key: bytes, tbs: bytes, auth_bytes: bytes, tag: bytes) -> None:
    """Check a membership tag in constant time; raises `VerificationError`."""
    try:
        suite.verify_mac(membership_key, tbs + auth_bytes, tag)
    except VerificationError:
        raise VerificationError("membership tag does not verify", section="6.2") from None


def protect_public(
    suite: CipherSuite,
    authenticated_content: AuthenticatedContent,
    *,
    context: GroupContext,
    membership_key: bytes | None,
) -> PublicMessage:
    """Encode signed content as a PublicMessage, with a membership tag for a member sender (§6.2).

    ``context`` is the GroupContext of the sending epoch; ``membership_key``
    its membership key (None is allowed for non-member senders, which have
    none). Raises `UsageError` for application data (§6: it must be a
    PrivateMessage), content signed for another wire format or epoch, a
    sender that may not send this content (§6.1), or a member without a key.
    """
    content = authenticated_content.content
    if authenticated_content.wire_format != WireFormat.mls_public_message:
        raise UsageError("this content was signed for a PrivateMessage", section="6.1")
    if content.content_type == ContentType.application:
        raise UsageError("application data must be sent as a PrivateMessage", section="6")
    _check_epoch(content, context, UsageError)
    try:
        check_sender_content(content)
    except ProtocolError as exc:
        raise UsageError(exc.reason, section=exc.section) from None
    auth = authenticated_content.auth
    if content.sender.sender_type != SenderType.member:
        return PublicMessage(content, auth)
    if membership_key is None:
        raise UsageError("a member's PublicMessage needs the epoch's membership key", section="6.2")
    tbs = framed_content_tbs(WireFormat.mls_public_message, content, SenderType.member, context)
    return PublicMessage(content, auth, membership_tag(suite, membership_key, tbs, auth.encode()))


def unprotect_public(
    suite: CipherSuite,
    message: PublicMessage,
    *,
    context: GroupContext,
    membership_key: bytes,
    signature_key: SignatureKeyLookup,
    allow_application: bool = False,
) -> VerifiedContent:
    """Verify a received PublicMessage (§6.2): membership tag for members, then the signature (§6.1).

    ``context`` and ``membership_key`` are those of the epoch the message
    claims; ``signature_key`` finds the sender's key. Raises `ProtocolError`
    for another group or epoch, application data (unless
    ``allow_application``), or a sender that may not send this content;
    `VerificationError` for a bad membership tag or signature; whatever
    ``signature_key`` raises for an unknown sender.
    """
    content = message.content
    _check_epoch(content, context, ProtocolError)
    if content.content_type == ContentType.application and not allow_application:
        raise ProtocolError("application data arrived as a PublicMessage", section="6")
    check_sender_content(content)
    sender_type = content.sender.sender_type
    tbs = framed_content_tbs(WireFormat.mls_public_message, content, sender_type, context)
    if sender_type == SenderType.member:
        tag = message.membership_tag
        if tag is None:  # the codec requires one; a hand-built message may lack it
            raise VerificationError("a member's PublicMessage has no membership tag", section="6.2")
        verify_membership_tag(suite, membership_key, tbs, message.auth.encode(), tag)
    public_key = signature_key(content.sender, content)
    verify_framed_content(suite, public_key, tbs, message.auth.signature)
    return VerifiedContent(message.authenticated_content())


def _check_epoch(content: FramedContent, context: GroupContext, error: type[UsageError] | type[ProtocolError]) -> None:
    if content.group_id != context.group_id:
        raise error("the message belongs to another group", section="6")
    if content.epoch != context.epoch:
        raise error(f"the message is for epoch {content.epoch}, not {context.epoch}", section="6")
