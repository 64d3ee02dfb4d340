"""RFC 9420 §6.1 — signing FramedContent, and the sender rules."""

from __future__ import annotations

import pytest

from calpico.mls.authentication import (
    VerifiedContent,
    authenticate,
    check_sender_content,
    encoded_auth_length,
    encoded_body,
    encoded_context,
    framed_content_tbs,
    sign_framed_content,
    verify_framed_content,
)
from calpico.mls.errors import ProtocolError, UsageError, VerificationError
from calpico.mls.framing import (
    AuthenticatedContent,
    ContentType,
    FramedContent,
    FramedContentAuthData,
    FramedContentTBS,
    Sender,
    SenderType,
    WireFormat,
)
from calpico.mls.proposals import Add, Proposal, Remove, Update

from .members import epoch
from .samples import commit, framed_content, group_context, key_package, leaf_node

PUBLIC, PRIVATE = WireFormat.mls_public_message, WireFormat.mls_private_message
SENDERS = [Sender.member(3), Sender.external(0), Sender.new_member_proposal(), Sender.new_member_commit()]


@pytest.mark.parametrize("sender", SENDERS, ids=lambda s: s.sender_type.name)
@pytest.mark.parametrize("wire_format", [PUBLIC, PRIVATE], ids=lambda w: w.name)
def test_tbs_is_the_framed_content_tbs_struct(sender: Sender, wire_format: WireFormat) -> None:
    content = framed_content(ContentType.proposal, sender)
    context = group_context()
    want = FramedContentTBS.of(wire_format, content, context).encode()
    assert framed_content_tbs(wire_format, content, sender.sender_type, context) == want
    assert framed_content_tbs(wire_format, content.encode(), sender.sender_type, context.encode()) == want
    signs_context = sender.sender_type in (SenderType.member, SenderType.new_member_commit)
    assert want.endswith(context.encode()) == signs_context


def test_sign_and_verify() -> None:
    e = epoch()
    content = framed_content(ContentType.application, Sender.member(1))
    signed = authenticate(e.suite, e.private_key(1), PRIVATE, content, e.context)
    assert signed.wire_format is PRIVATE and signed.content == content
    assert signed.auth.confirmation_tag is None
    tbs = framed_content_tbs(PRIVATE, content, SenderType.member, e.context)
    verify_framed_content(e.suite, e.signature_keys[1].public_key, tbs, signed.auth.signature)
    assert sign_framed_content(e.suite, e.private_key(1), tbs) == signed.auth.signature  # Ed25519 is deterministic
    # The signature binds the key, the wire format and the epoch's GroupContext.
    wrong = [
        (e.signature_keys[2].public_key, tbs),
        (e.signature_keys[1].public_key, framed_content_tbs(PUBLIC, content, SenderType.member, e.context)),
        (e.signature_keys[1].public_key, framed_content_tbs(PRIVATE, content, SenderType.member, group_context())),
    ]
    for public_key, other_tbs in wrong:
        with pytest.raises(VerificationError) as info:
            verify_framed_content(e.suite, public_key, other_tbs, signed.auth.signature)
        assert info.value.section == "6.1"


def test_authenticate_checks_its_arguments() -> None:
    e = epoch()
    proposal = framed_content(ContentType.proposal, Sender.member(0))
    with pytest.raises(UsageError):
        authenticate(e.suite, e.private_key(0), WireFormat.mls_welcome, proposal, e.context)
    with pytest.raises(UsageError):
        authenticate(e.suite, e.private_key(0), PUBLIC, proposal, e.context, confirmation_tag=b"tag")
    with pytest.raises(UsageError):
        authenticate(e.suite, e.private_key(0), PUBLIC, framed_content(ContentType.commit), e.context)
    signed = authenticate(e.suite, e.private_key(0), PUBLIC, framed_content(ContentType.commit), e.context, b"t")
    assert signed.auth.confirmation_tag == b"t"
    with pytest.raises(UsageError):
        authenticate(e.suite, b"bad key", PUBLIC, proposal, e.context)


def _with_body(sender: Sender, body: bytes | Proposal) -> FramedContent:
    return FramedContent.of(b"g", 1, sender, body)


@pytest.mark.parametrize(
    ("sender", "body", "allowed"),
    [
        (Sender.member(0), b"data", True),
        (Sender.member(0), Proposal.of(Update(leaf_node())), True),
        (Sender.external(0), Proposal.of(Remove(1)), True),
        (Sender.external(0), Proposal.of(Add(key_package())), True),
        (Sender.external(0), Proposal.of(Update(leaf_node())), False),
        (Sender.external(0), b"data", False),
        (Sender.new_member_proposal(), Proposal.of(Add(key_package())), True),
        (Sender.new_member_proposal(), Proposal.of(Remove(1)), False),
        (Sender.new_member_commit(), Proposal.of(Remove(1)), False),
    ],
)
def test_sender_rules(sender: Sender, body: bytes | Proposal, allowed: bool) -> None:
    content = _with_body(sender, body)
    if allowed:
        check_sender_content(content)
    else:
        with pytest.raises(ProtocolError):
            check_sender_content(content)


def test_new_member_commit_may_only_commit() -> None:
    check_sender_content(FramedContent.of(b"g", 1, Sender.new_member_commit(), commit()))


def test_encoded_helpers_match_the_structs() -> None:
    for tag in (None, b"t" * 32):
        for signature in (b"s" * 10, b"s" * 64, b"s" * 20000):
            auth = FramedContentAuthData(signature, tag)
            assert encoded_auth_length(auth) == len(auth.encode())
    assert encoded_body(ContentType.application, b"x" * 70) == bytes([0x40, 70]) + b"x" * 70
    proposal = Proposal.of(Remove(2))
    assert encoded_body(ContentType.proposal, proposal) == proposal.encode()
    with pytest.raises(UsageError):
        encoded_body(ContentType.proposal, b"bytes")


def test_encoded_context_is_the_encoding_of_each_object() -> None:
    a, b = group_context(epoch=1), group_context(epoch=2)
    for _ in range(2):
        assert encoded_context(a) == a.encode()
        assert encoded_context(b) == b.encode()
    assert encoded_context(b"raw") == b"raw"
    for n in range(200):  # the cache is bounded and stays correct when it is cleared
        c = group_context(epoch=n)
        assert encoded_context(c) == c.encode()


def test_verified_content_exposes_the_content() -> None:
    content = framed_content(ContentType.commit, Sender.member(2))
    auth = FramedContentAuthData(b"sig", b"tag")
    verified = VerifiedContent(AuthenticatedContent(PUBLIC, content, auth))
    assert (verified.wire_format, verified.content, verified.auth) == (PUBLIC, content, auth)
    assert verified.sender == Sender.member(2)
    assert verified.body == content.commit
