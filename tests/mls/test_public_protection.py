"""RFC 9420 §6.2 — PublicMessage: membership tag, signature, and what may not be sent in public."""

from __future__ import annotations

import dataclasses

import pytest

from calpico.mls.authentication import VerifiedContent, authenticate, framed_content_tbs, sign_framed_content
from calpico.mls.commit import Commit, UpdatePath
from calpico.mls.errors import DecodeError, MLSError, ProtocolError, UsageError, VerificationError
from calpico.mls.framing import (
    AuthenticatedContent,
    FramedContent,
    FramedContentAuthData,
    PublicMessage,
    Sender,
    SenderType,
    WireFormat,
)
from calpico.mls.messages import MLSMessage
from calpico.mls.proposals import Add, Proposal, Remove
from calpico.mls.public_protection import membership_tag, protect_public, unprotect_public

from .members import Epoch, epoch
from .samples import commit as sample_commit
from .samples import key_package, leaf_node

PUBLIC = WireFormat.mls_public_message


def signed(e: Epoch, content: FramedContent, private_key: bytes, tag: bytes | None = None) -> AuthenticatedContent:
    if tag is None:
        return authenticate(e.suite, private_key, PUBLIC, content, e.context)
    tbs = framed_content_tbs(PUBLIC, content, content.sender.sender_type, e.context)
    return AuthenticatedContent(
        PUBLIC, content, FramedContentAuthData(sign_framed_content(e.suite, private_key, tbs), tag)
    )


def unprotect(e: Epoch, message: PublicMessage | None, allow_application: bool = False) -> VerifiedContent:
    assert message is not None
    return unprotect_public(
        e.suite,
        message,
        context=e.context,
        membership_key=e.membership_key,
        signature_key=e.signature_key,
        allow_application=allow_application,
    )


def member_proposal(e: Epoch, leaf: int = 1) -> PublicMessage:
    content = FramedContent.of(e.context.group_id, e.context.epoch, Sender.member(leaf), Proposal.of(Remove(2)))
    return protect_public(
        e.suite, signed(e, content, e.private_key(leaf)), context=e.context, membership_key=e.membership_key
    )


def test_member_proposal_and_commit_round_trip() -> None:
    e = epoch()
    message = member_proposal(e)
    tbs = framed_content_tbs(PUBLIC, message.content, SenderType.member, e.context)
    assert message.membership_tag == membership_tag(e.suite, e.membership_key, tbs, message.auth.encode())
    verified = unprotect(e, MLSMessage.decode(MLSMessage.of(message).encode()).public_message)
    assert verified.authenticated_content == message.authenticated_content()
    commit = FramedContent.of(e.context.group_id, e.context.epoch, Sender.member(0), Commit.of([Remove(3)]))
    message = protect_public(
        e.suite, signed(e, commit, e.private_key(0), b"T" * 32), context=e.context, membership_key=e.membership_key
    )
    assert unprotect(e, message).auth.confirmation_tag == b"T" * 32


def test_non_members_have_no_membership_tag() -> None:
    e = epoch()
    external = FramedContent.of(e.context.group_id, e.context.epoch, Sender.external(0), Proposal.of(Remove(1)))
    message = protect_public(
        e.suite, signed(e, external, e.external_keys[0].private_key), context=e.context, membership_key=None
    )
    assert message.membership_tag is None
    assert unprotect(e, message).sender == Sender.external(0)

    joiner = e.suite.generate_signature_key_pair()
    add = Proposal.of(Add(key_package(leaf_node=leaf_node(signature_key=joiner.public_key))))
    content = FramedContent.of(e.context.group_id, e.context.epoch, Sender.new_member_proposal(), add)
    message = protect_public(e.suite, signed(e, content, joiner.private_key), context=e.context, membership_key=None)
    assert unprotect(e, message).body == add

    path = UpdatePath(leaf_node(signature_key=joiner.public_key))
    external_commit = Commit(sample_commit().proposals, path)
    content = FramedContent.of(e.context.group_id, e.context.epoch, Sender.new_member_commit(), external_commit)
    message = protect_public(
        e.suite, signed(e, content, joiner.private_key, b"T"), context=e.context, membership_key=None
    )
    assert unprotect(e, message).body == external_commit
    # A new_member_commit signs the GroupContext: another context of the same epoch does not verify.
    other = dataclasses.replace(e.context, tree_hash=b"another tree")
    with pytest.raises(VerificationError):
        unprotect_public(e.suite, message, context=other, membership_key=b"", signature_key=e.signature_key)


def test_application_data_is_never_public() -> None:
    e = epoch()
    content = FramedContent.of(e.context.group_id, e.context.epoch, Sender.member(1), b"hello")
    authenticated = signed(e, content, e.private_key(1))
    with pytest.raises(UsageError, match="PrivateMessage"):
        protect_public(e.suite, authenticated, context=e.context, membership_key=e.membership_key)
    # Built by hand, as a peer might send it: refused unless the caller allows it.
    tbs = framed_content_tbs(PUBLIC, content, SenderType.member, e.context)
    tag = membership_tag(e.suite, e.membership_key, tbs, authenticated.auth.encode())
    message = PublicMessage(content, authenticated.auth, tag)
    with pytest.raises(ProtocolError) as info:
        unprotect(e, message)
    assert info.value.section == "6"
    assert unprotect(e, message, allow_application=True).body == b"hello"


def test_protect_refuses_misuse() -> None:
    e = epoch()
    content = FramedContent.of(e.context.group_id, e.context.epoch, Sender.member(1), Proposal.of(Remove(2)))
    private = authenticate(e.suite, e.private_key(1), WireFormat.mls_private_message, content, e.context)
    with pytest.raises(UsageError):
        protect_public(e.suite, private, context=e.context, membership_key=e.membership_key)
    with pytest.raises(UsageError):
        protect_public(e.suite, signed(e, content, e.private_key(1)), context=e.context, membership_key=None)
    stale = FramedContent.of(e.context.group_id, e.context.epoch - 1, Sender.member(1), Proposal.of(Remove(2)))
    with pytest.raises(UsageError):
        protect_public(e.suite, signed(e, stale, e.private_key(1)), context=e.context, membership_key=e.membership_key)
    bad_sender = FramedContent.of(
        e.context.group_id, e.context.epoch, Sender.new_member_commit(), Proposal.of(Remove(2))
    )
    with pytest.raises(UsageError):
        protect_public(e.suite, signed(e, bad_sender, e.private_key(1)), context=e.context, membership_key=None)


def test_unprotect_refuses_wrong_keys_and_epochs() -> None:
    e = epoch()
    message = member_proposal(e)
    with pytest.raises(VerificationError) as info:
        unprotect_public(e.suite, message, context=e.context, membership_key=bytes(32), signature_key=e.signature_key)
    assert info.value.section == "6.2"
    with pytest.raises(VerificationError) as info:
        unprotect_public(
            e.suite,
            message,
            context=e.context,
            membership_key=e.membership_key,
            signature_key=lambda s, c: e.signature_keys[2].public_key,
        )
    assert info.value.section == "6.1"
    for other in (dataclasses.replace(e.context, epoch=43), dataclasses.replace(e.context, group_id=b"other room")):
        with pytest.raises(ProtocolError) as info:
            unprotect_public(
                e.suite, message, context=other, membership_key=e.membership_key, signature_key=e.signature_key
            )
        assert info.value.section == "6"
    blank = epoch(blank=frozenset({1}))
    blank.schedule, blank.signature_keys = e.schedule, e.signature_keys
    with pytest.raises(ProtocolError, match="blank"):
        unprotect(blank, message)
    untagged = PublicMessage(message.content, message.auth, None)
    with pytest.raises(VerificationError):
        unprotect(e, untagged)


def test_every_tampered_byte_is_refused_with_a_typed_error() -> None:
    e = epoch()
    for message in (member_proposal(e), _member_commit(e)):
        wire = MLSMessage.of(message).encode()
        for position in range(len(wire)):
            for flip in (0x01, 0x80):
                tampered = bytearray(wire)
                tampered[position] ^= flip
                with pytest.raises((DecodeError, ProtocolError)) as info:
                    public = MLSMessage.decode(bytes(tampered)).public_message
                    if public is None:
                        raise DecodeError("not a PublicMessage")
                    unprotect(e, public)
                assert isinstance(info.value, MLSError)
        assert unprotect(e, MLSMessage.decode(wire).public_message).content == message.content


def _member_commit(e: Epoch) -> PublicMessage:
    content = FramedContent.of(e.context.group_id, e.context.epoch, Sender.member(2), sample_commit(), b"aad")
    return protect_public(
        e.suite, signed(e, content, e.private_key(2), b"C" * 32), context=e.context, membership_key=e.membership_key
    )
