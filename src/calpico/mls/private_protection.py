"""RFC 9420 §6.3 — PrivateMessage protection: content and sender-data encryption.

Protecting (sender)::

    plaintext   = PrivateMessageContent = body || auth || zero padding      (§6.3.1)
    key, nonce  = next generation of the sender's handshake/application ratchet (§9.1)
    ciphertext  = AEAD.Seal(key, nonce XOR reuse_guard, PrivateContentAAD, plaintext)
    sd_key/nonce = ExpandWithLabel(sender_data_secret, "key"/"nonce", ciphertext[:Nh])  (§6.3.2)
    encrypted_sender_data = AEAD.Seal(sd_key, sd_nonce, SenderDataAAD,
                                      SenderData{leaf_index, generation, reuse_guard})

Unprotecting runs it backwards, checking on the way that the sender's leaf is
not blank (§6.3.2), that the generation is neither used nor too far ahead
(§9.2, §15.3), that the padding is all zeros (§6.3.1) and that the signature
verifies (§6.1). Only then is the ratchet key deleted, so a message that fails
any step changes nothing.

The ``reuse_guard`` is four fresh random bytes XORed into the first four
bytes of the nonce, so that a client that lost its ratchet state and reuses a
generation still does not reuse a nonce (§6.3.1). How much padding to add is
the caller's policy; the default pads the plaintext to a multiple of 32 bytes.

This is the hot path of every application message, so the AADs and the
FramedContent that the signature covers are built from their parts (each
equal to the struct's encoding; the tests check it) rather than through
intermediate structs, and every value is encoded once. `protect_application`
goes further and frames, signs and encrypts chat data without building a
FramedContent at all; `protect_private` takes any signed content (proposals
and commits included).
"""

from __future__ import annotations

from collections.abc import Callable
from os import urandom

from .authentication import (
    FRAMED_CONTENT_TBS_LABEL,
    VerifiedContent,
    encoded_auth_length,
    encoded_body,
    encoded_context,
    framed_content_tbs,
    verify_framed_content,
)
from .codec import encode_varint
from .crypto import CipherSuite
from .errors import DecodeError, ProtocolError, UsageError
from .framing import AuthenticatedContent, ContentType, FramedContent, Sender, SenderType, WireFormat
from .group_context import GroupContext, ProtocolVersion
from .private_message import PrivateMessage, PrivateMessageContent
from .secret_tree import RatchetType, SecretTree, sender_data_key_nonce

__all__ = [
    "DEFAULT_PADDING",
    "LeafSignatureKey",
    "PaddingPolicy",
    "no_padding",
    "pad_to_multiple",
    "protect_application",
    "protect_private",
    "unprotect_private",
]

PaddingPolicy = Callable[[int], int]
"""``policy(n) -> p``: how many zero bytes to append to ``n`` bytes of content and auth (§6.3.1, §15.1)."""

LeafSignatureKey = Callable[[int], bytes | None]
"""``lookup(leaf_index) -> signature public key``, or None when the leaf is blank (§6.3.2)."""


def pad_to_multiple(block: int) -> PaddingPolicy:
    """Pad the plaintext to a multiple of ``block`` bytes; raises `UsageError` unless ``block`` >= 1."""
    if block < 1:
        raise UsageError(f"padding block must be at least 1 byte, got {block}")

    def policy(length: int) -> int:
        return -length % block

    return policy


def no_padding(length: int) -> int:
    """Add no padding."""
    return 0


DEFAULT_PADDING = pad_to_multiple(32)

_MEMBER = SenderType.member.to_bytes(1, "big")
_APPLICATION = ContentType.application.to_bytes(1, "big")
# FramedContentTBS starts with ProtocolVersion mls10 and WireFormat mls_private_message (§6.1).
_PRIVATE_TBS_HEAD = ProtocolVersion.mls10.to_bytes(2, "big") + WireFormat.mls_private_message.to_bytes(2, "big")


def _sender_data_aad(group_id: bytes, epoch: int, content_type: ContentType) -> bytes:
    # SenderDataAAD {group_id<V>, uint64 epoch, ContentType} (§6.3.2); PrivateContentAAD appends authenticated_data<V>.
    return encode_varint(len(group_id)) + group_id + epoch.to_bytes(8, "big") + content_type.to_bytes(1, "big")


def _guarded(nonce: bytes, reuse_guard: bytes) -> bytes:
    # nonce[0:4] XOR reuse_guard (§6.3.1).
    head = int.from_bytes(nonce[:4], "big") ^ int.from_bytes(reuse_guard, "big")
    return head.to_bytes(4, "big") + nonce[4:]


def protect_private(
    suite: CipherSuite,
    authenticated_content: AuthenticatedContent,
    *,
    sender_data_secret: bytes,
    secret_tree: SecretTree,
    padding: PaddingPolicy = DEFAULT_PADDING,
    rng: Callable[[int], bytes] = urandom,
) -> PrivateMessage:
    """Encrypt signed content from a member into a PrivateMessage (§6.3).

    ``authenticated_content`` must be signed for ``mls_private_message``
    (`calpico.mls.authentication.authenticate`); the next generation of the
    sender's ratchet in ``secret_tree`` is used and consumed. Raises
    `UsageError` for another wire format, a non-member sender (§6.3.2), a bad
    padding policy or rng, or an exhausted ratchet.
    """
    if authenticated_content.wire_format != WireFormat.mls_private_message:
        raise UsageError("this content was signed for a PublicMessage", section="6.1")
    content = authenticated_content.content
    leaf_index = content.sender.leaf_index
    if content.sender.sender_type != SenderType.member or leaf_index is None:
        raise UsageError("only members can send a PrivateMessage", section="6.3.2")
    content_type = content.content_type
    auth = authenticated_content.auth
    auth.check_content_type(content_type, "PrivateMessageContent")
    plaintext = encoded_body(content_type, content.body) + auth.encode()
    group_id, epoch, authenticated_data = content.group_id, content.epoch, content.authenticated_data
    sender_data_aad = _sender_data_aad(group_id, epoch, content_type)
    content_aad = sender_data_aad + encode_varint(len(authenticated_data)) + authenticated_data
    encrypted_sender_data, ciphertext = _seal(
        suite,
        secret_tree,
        sender_data_secret,
        leaf_index,
        content_type,
        sender_data_aad,
        content_aad,
        plaintext,
        padding,
        rng,
    )
    return PrivateMessage(group_id, epoch, content_type, authenticated_data, encrypted_sender_data, ciphertext)


def protect_application(
    suite: CipherSuite,
    application_data: bytes,
    *,
    leaf_index: int,
    signature_private_key: bytes,
    context: GroupContext,
    sender_data_secret: bytes,
    secret_tree: SecretTree,
    authenticated_data: bytes = b"",
    padding: PaddingPolicy = DEFAULT_PADDING,
    rng: Callable[[int], bytes] = urandom,
) -> PrivateMessage:
    """Frame, sign and encrypt application data from member ``leaf_index`` (§6, §6.1, §6.3).

    The same as `calpico.mls.authentication.authenticate` followed by
    `protect_private` for ``FramedContent.of(context.group_id, context.epoch,
    Sender.member(leaf_index), application_data, authenticated_data)``, built
    without the intermediate structs: this is every chat message's path.
    Raises `UsageError` for an invalid key, padding policy or rng, a leaf
    outside the tree, or an exhausted ratchet.
    """
    group_id, epoch = context.group_id, context.epoch
    group_epoch = encode_varint(len(group_id)) + group_id + epoch.to_bytes(8, "big")
    encoded_authenticated_data = encode_varint(len(authenticated_data)) + authenticated_data
    body = encode_varint(len(application_data)) + application_data
    # FramedContent {group_id<V>, epoch, Sender{member, leaf_index}, authenticated_data<V>,
    #                content_type = application, application_data<V>} (§6), in its FramedContentTBS (§6.1)
    tbs = b"".join(
        (
            _PRIVATE_TBS_HEAD,
            group_epoch,
            _MEMBER,
            leaf_index.to_bytes(4, "big"),
            encoded_authenticated_data,
            _APPLICATION,
            body,
            encoded_context(context),
        )
    )
    signature = suite.sign_with_label(signature_private_key, FRAMED_CONTENT_TBS_LABEL, tbs)
    # PrivateMessageContent {application_data<V>, FramedContentAuthData{signature<V>}} (§6.3.1)
    plaintext = body + encode_varint(len(signature)) + signature
    sender_data_aad = group_epoch + _APPLICATION
    encrypted_sender_data, ciphertext = _seal(
        suite,
        secret_tree,
        sender_data_secret,
        leaf_index,
        ContentType.application,
        sender_data_aad,
        sender_data_aad + encoded_authenticated_data,
        plaintext,
        padding,
        rng,
    )
    return PrivateMessage(
        group_id, epoch, ContentType.application, authenticated_data, encrypted_sender_data, ciphertext
    )


def _seal(
    suite: CipherSuite,
    secret_tree: SecretTree,
    sender_data_secret: bytes,
    leaf_index: int,
    content_type: ContentType,
    sender_data_aad: bytes,
    content_aad: bytes,
    plaintext: bytes,
    padding: PaddingPolicy,
    rng: Callable[[int], bytes],
) -> tuple[bytes, bytes]:
    """Pad and encrypt a PrivateMessageContent, then its SenderData (§6.3.1, §6.3.2).

    Returns ``(encrypted_sender_data, ciphertext)``.
    """
    pad = padding(len(plaintext))
    if pad:
        if pad < 0:
            raise UsageError(f"padding policy returned {pad}")
        plaintext += bytes(pad)
    ratchet = RatchetType.application if content_type == ContentType.application else RatchetType.handshake
    ratchet_key = secret_tree.encryption_key(leaf_index, ratchet)
    reuse_guard = rng(4)
    if len(reuse_guard) != 4:
        raise UsageError("rng must return the number of bytes asked for")
    ciphertext = suite.aead_seal(ratchet_key.key, _guarded(ratchet_key.nonce, reuse_guard), content_aad, plaintext)

    sender_data_key, sender_data_nonce = sender_data_key_nonce(suite, sender_data_secret, ciphertext)
    # SenderData {uint32 leaf_index, uint32 generation, opaque reuse_guard[4]} (§6.3.2)
    sender_data = leaf_index.to_bytes(4, "big") + ratchet_key.generation.to_bytes(4, "big") + reuse_guard
    return suite.aead_seal(sender_data_key, sender_data_nonce, sender_data_aad, sender_data), ciphertext


def unprotect_private(
    suite: CipherSuite,
    message: PrivateMessage,
    *,
    context: GroupContext,
    sender_data_secret: bytes,
    secret_tree: SecretTree,
    leaf_signature_key: LeafSignatureKey,
    accept: Callable[[VerifiedContent], None] | None = None,
) -> VerifiedContent:
    """Decrypt and verify a received PrivateMessage (§6.3), then delete its key (§9.2).

    ``context``, ``sender_data_secret`` and ``secret_tree`` are those of the
    epoch the message claims; ``leaf_signature_key`` gives a leaf's signature
    key, None for a blank leaf. ``accept``, if given, sees the verified
    content before the key is deleted and may refuse it by raising: the
    secret tree then stays as it was, so an authentic message the receiver
    rejects (a proposal its rules forbid) changes no state. Raises `ProtocolError` for another group or
    epoch, or a blank or unknown sender leaf; `DecryptionError` when either
    AEAD fails or the generation was used, dropped or is too far ahead;
    `DecodeError` for a malformed plaintext or non-zero padding;
    `VerificationError` for a bad signature.
    """
    group_id, epoch, content_type = message.group_id, message.epoch, message.content_type
    if group_id != context.group_id:
        raise ProtocolError("the message belongs to another group", section="6")
    if epoch != context.epoch:
        raise ProtocolError(f"the message is for epoch {epoch}, not {context.epoch}", section="6")

    # §6.3.2: who sent it, and with which generation.
    sender_data_aad = _sender_data_aad(group_id, epoch, content_type)
    ciphertext = message.ciphertext
    sender_data_key, sender_data_nonce = sender_data_key_nonce(suite, sender_data_secret, ciphertext)
    sender_data = suite.aead_open(sender_data_key, sender_data_nonce, sender_data_aad, message.encrypted_sender_data)
    if len(sender_data) != 12:
        raise DecodeError(f"SenderData is 12 bytes, got {len(sender_data)}", section="6.3.2")
    leaf_index = int.from_bytes(sender_data[:4], "big")
    generation = int.from_bytes(sender_data[4:8], "big")
    public_key = leaf_signature_key(leaf_index) if leaf_index < secret_tree.n_leaves else None
    if public_key is None:
        raise ProtocolError(f"sender leaf {leaf_index} is blank or outside the tree", section="6.3.2")

    # §6.3.1: the content, under the sender's ratchet key for this generation (not yet consumed).
    ratchet_key = secret_tree.decryption_key(leaf_index, RatchetType.for_content(content_type), generation)
    authenticated_data = message.authenticated_data
    encoded_authenticated_data = encode_varint(len(authenticated_data)) + authenticated_data
    plaintext = suite.aead_open(
        ratchet_key.key,
        _guarded(ratchet_key.nonce, sender_data[8:]),
        sender_data_aad + encoded_authenticated_data,
        ciphertext,
    )
    private_content = PrivateMessageContent.decode_for(content_type, plaintext)
    auth = private_content.auth

    # §6.1: the signature covers the FramedContent, rebuilt from the parts we have.
    body_end = len(plaintext) - private_content.padding - encoded_auth_length(auth)
    content_bytes = b"".join(
        (
            sender_data_aad[:-1],  # group_id<V> || epoch
            _MEMBER,
            sender_data[:4],  # leaf_index
            encoded_authenticated_data,
            sender_data_aad[-1:],  # content_type
            plaintext[:body_end],
        )
    )
    tbs = framed_content_tbs(WireFormat.mls_private_message, content_bytes, SenderType.member, context)
    verify_framed_content(suite, public_key, tbs, auth.signature)

    content = FramedContent(
        group_id,
        epoch,
        Sender.member(leaf_index),
        authenticated_data,
        content_type,
        private_content.application_data,
        private_content.proposal,
        private_content.commit,
    )
    verified = VerifiedContent(AuthenticatedContent(WireFormat.mls_private_message, content, auth))
    if accept is not None:
        accept(verified)
    secret_tree.consume(ratchet_key)
    return verified
