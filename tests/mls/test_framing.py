"""RFC 9420 §6–§6.2 — Sender, FramedContent, auth data, TBS, AuthenticatedContent, PublicMessage."""

from __future__ import annotations

import pytest

from calpico.mls.codec import encode_opaque
from calpico.mls.errors import DecodeError, EncodeError, UsageError
from calpico.mls.framing import (
    AuthenticatedContent,
    AuthenticatedContentTBM,
    ContentType,
    FramedContent,
    FramedContentAuthData,
    FramedContentTBS,
    ProtocolVersion,
    PublicMessage,
    Sender,
    SenderType,
    WireFormat,
)
from calpico.mls.proposals import Proposal, Remove

from .samples import auth, framed_content, group_context, public_message

SENDERS = [
    (Sender.member(5), "01 00000005"),
    (Sender.external(2), "02 00000002"),
    (Sender.new_member_proposal(), "03"),
    (Sender.new_member_commit(), "04"),
]


@pytest.mark.parametrize(("sender", "encoded"), SENDERS, ids=[s.sender_type.name for s, _ in SENDERS])
def test_sender_encodings(sender: Sender, encoded: str) -> None:
    assert sender.encode() == bytes.fromhex(encoded)
    assert Sender.decode(bytes.fromhex(encoded)) == sender


def test_sender_select_must_match_its_type() -> None:
    with pytest.raises(EncodeError):
        Sender(SenderType.member).encode()
    with pytest.raises(EncodeError):
        Sender(SenderType.new_member_commit, leaf_index=1).encode()
    with pytest.raises(DecodeError, match="unknown value"):
        Sender.decode(b"\x05")


@pytest.mark.parametrize("content_type", list(ContentType), ids=lambda c: c.name)
def test_framed_content_of_selects_by_body(content_type: ContentType) -> None:
    content = framed_content(content_type)
    assert content.content_type is content_type
    assert FramedContent.decode(content.encode()) == content
    assert content.encode().startswith(b"\x05group" + (7).to_bytes(8, "big") + Sender.member(0).encode() + b"\x03aad")
    selected = {"application_data": content.application_data, "proposal": content.proposal, "commit": content.commit}
    assert [name for name, value in selected.items() if value is not None] == [
        {"application": "application_data", "proposal": "proposal", "commit": "commit"}[content_type.name]
    ]
    assert content.body is not None


def test_framed_content_body_and_consistency() -> None:
    content = FramedContent.of(b"g", 0, Sender.member(0), b"")
    assert content.body == b""
    bad = FramedContent(b"g", 0, Sender.member(0), b"", ContentType.proposal, application_data=b"x")
    with pytest.raises(EncodeError):
        bad.encode()
    with pytest.raises(UsageError):
        _ = bad.body


def test_auth_data_has_a_confirmation_tag_only_for_commits() -> None:
    commit_auth = FramedContentAuthData(b"sig", b"tag")
    assert commit_auth.encode() == b"\x03sig\x03tag"
    assert FramedContentAuthData.decode_for(ContentType.commit, commit_auth.encode()) == commit_auth
    plain = FramedContentAuthData(b"sig")
    for content_type in (ContentType.application, ContentType.proposal):
        assert FramedContentAuthData.decode_for(content_type, b"\x03sig") == plain
        with pytest.raises(DecodeError, match="trailing"):
            FramedContentAuthData.decode_for(content_type, commit_auth.encode())
    with pytest.raises(DecodeError):
        FramedContentAuthData.decode_for(ContentType.commit, b"\x03sig")


def test_auth_data_cannot_be_decoded_without_its_content_type() -> None:
    with pytest.raises(UsageError, match="decode_for"):
        FramedContentAuthData.decode(b"\x03sig")


def test_auth_data_tag_is_checked_against_the_content_type() -> None:
    FramedContentAuthData(b"s", b"t").check_content_type(ContentType.commit)
    FramedContentAuthData(b"s").check_content_type(ContentType.proposal)
    with pytest.raises(EncodeError, match="needs a confirmation_tag"):
        FramedContentAuthData(b"s").check_content_type(ContentType.commit)
    with pytest.raises(EncodeError, match="must not have"):
        FramedContentAuthData(b"s", b"t").check_content_type(ContentType.application)


@pytest.mark.parametrize("content_type", list(ContentType), ids=lambda c: c.name)
def test_authenticated_content(content_type: ContentType) -> None:
    ac = AuthenticatedContent(WireFormat.mls_private_message, framed_content(content_type), auth(content_type))
    encoded = ac.encode()
    assert encoded == b"\x00\x02" + ac.content.encode() + ac.auth.encode()
    assert AuthenticatedContent.decode(encoded) == ac


def test_authenticated_content_checks_the_confirmation_tag() -> None:
    with pytest.raises(EncodeError, match="needs a confirmation_tag"):
        AuthenticatedContent(
            WireFormat.mls_public_message, framed_content(ContentType.commit), FramedContentAuthData(b"s")
        ).encode()
    with pytest.raises(EncodeError, match="must not have"):
        AuthenticatedContent(
            WireFormat.mls_public_message, framed_content(ContentType.proposal), FramedContentAuthData(b"s", b"t")
        ).encode()
    with pytest.raises(DecodeError, match="wire_format"):
        AuthenticatedContent.decode(b"\x00\x09")


@pytest.mark.parametrize(
    ("sender", "signs_context"),
    [(s, s.sender_type in (SenderType.member, SenderType.new_member_commit)) for s, _ in SENDERS],
    ids=[s.sender_type.name for s, _ in SENDERS],
)
def test_framed_content_tbs_includes_the_context_for_members_and_new_member_commits(
    sender: Sender, signs_context: bool
) -> None:
    content = framed_content(ContentType.proposal, sender)
    context = group_context()
    tbs = FramedContentTBS.of(WireFormat.mls_public_message, content, context)
    expected = b"\x00\x01\x00\x01" + content.encode() + (context.encode() if signs_context else b"")
    assert tbs.encode() == expected
    assert (tbs.context is not None) == signs_context
    assert FramedContentTBS.decode(expected) == tbs


def test_framed_content_tbs_context_must_match_the_sender() -> None:
    member = framed_content(ContentType.application)
    with pytest.raises(EncodeError, match="signs the GroupContext"):
        FramedContentTBS(ProtocolVersion.mls10, WireFormat.mls_private_message, member).encode()
    external = framed_content(ContentType.proposal, Sender.external(0))
    with pytest.raises(EncodeError, match="sign no GroupContext"):
        FramedContentTBS(ProtocolVersion.mls10, WireFormat.mls_public_message, external, group_context()).encode()
    with pytest.raises(DecodeError, match="version"):
        FramedContentTBS.decode(b"\x00\x02\x00\x01")


def test_authenticated_content_tbm() -> None:
    message = public_message(ContentType.commit)
    tbs = FramedContentTBS.of(WireFormat.mls_public_message, message.content, group_context())
    tbm = AuthenticatedContentTBM(tbs, message.auth)
    assert tbm.encode() == tbs.encode() + message.auth.encode()
    assert AuthenticatedContentTBM.decode(tbm.encode()) == tbm


@pytest.mark.parametrize("content_type", list(ContentType), ids=lambda c: c.name)
def test_member_public_message_carries_a_membership_tag(content_type: ContentType) -> None:
    message = public_message(content_type)
    encoded = message.encode()
    assert encoded == message.content.encode() + message.auth.encode() + encode_opaque(b"membership")
    assert PublicMessage.decode(encoded) == message
    assert message.authenticated_content() == AuthenticatedContent(
        WireFormat.mls_public_message, message.content, message.auth
    )


@pytest.mark.parametrize(
    ("sender", "content_type"),
    [
        (Sender.external(1), ContentType.proposal),
        (Sender.new_member_proposal(), ContentType.proposal),
        (Sender.new_member_commit(), ContentType.commit),
    ],
    ids=["external", "new_member_proposal", "new_member_commit"],
)
def test_non_member_public_message_has_no_membership_tag(sender: Sender, content_type: ContentType) -> None:
    message = public_message(content_type, sender)
    assert message.membership_tag is None
    assert message.encode() == message.content.encode() + message.auth.encode()
    assert PublicMessage.decode(message.encode()) == message
    with pytest.raises(EncodeError, match="only a member"):
        PublicMessage(message.content, message.auth, b"tag").encode()


def test_public_message_select_consistency() -> None:
    message = public_message(ContentType.proposal)
    with pytest.raises(EncodeError, match="needs a membership_tag"):
        PublicMessage(message.content, message.auth).encode()
    with pytest.raises(EncodeError, match="must not have"):
        PublicMessage(message.content, FramedContentAuthData(b"s", b"t"), b"m").encode()
    # A member's message cut before the membership tag.
    with pytest.raises(DecodeError):
        PublicMessage.decode(message.content.encode() + message.auth.encode())


def test_proposal_framed_content_by_hand_matches_of() -> None:
    by_hand = FramedContent(b"g", 1, Sender.member(2), b"", ContentType.proposal, proposal=Proposal.of(Remove(0)))
    assert FramedContent.of(b"g", 1, Sender.member(2), Proposal.of(Remove(0))) == by_hand
