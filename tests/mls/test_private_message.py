"""RFC 9420 §6.3 — PrivateMessage, its content and padding, SenderData and the AADs."""

from __future__ import annotations

import pytest

from calpico.mls.commit import Commit
from calpico.mls.errors import DecodeError, EncodeError, UsageError
from calpico.mls.framing import ContentType, FramedContentAuthData
from calpico.mls.private_message import (
    PrivateContentAAD,
    PrivateMessage,
    PrivateMessageContent,
    SenderData,
    SenderDataAAD,
)
from calpico.mls.proposals import Proposal, Remove

from .samples import auth, commit

BODIES: dict[ContentType, bytes | Proposal | Commit] = {
    ContentType.application: b"hello",
    ContentType.proposal: Proposal.of(Remove(4)),
    ContentType.commit: commit(),
}


def _content(content_type: ContentType, padding: int = 0) -> PrivateMessageContent:
    return PrivateMessageContent.of(BODIES[content_type], auth(content_type), padding)


def test_private_message_round_trips() -> None:
    message = PrivateMessage(b"group", 3, ContentType.application, b"aad", b"sender data", b"ciphertext")
    encoded = message.encode()
    assert encoded == b"\x05group" + (3).to_bytes(8, "big") + b"\x01\x03aad\x0bsender data\x0aciphertext"
    assert PrivateMessage.decode(encoded) == message
    with pytest.raises(DecodeError, match="content_type"):
        PrivateMessage.decode(encoded[:14] + b"\x00" + encoded[15:])


@pytest.mark.parametrize("content_type", list(ContentType), ids=lambda c: c.name)
@pytest.mark.parametrize("padding", [0, 1, 63, 1000])
def test_zero_padding_is_accepted_and_stripped(content_type: ContentType, padding: int) -> None:
    content = _content(content_type, padding)
    encoded = content.encode()
    unpadded = _content(content_type).encode()
    assert encoded == unpadded + bytes(padding)
    decoded = PrivateMessageContent.decode_for(content_type, encoded)
    assert decoded.padding == padding
    assert decoded.content_type is content_type
    assert decoded.body == BODIES[content_type]
    assert decoded.auth == content.auth
    assert decoded.encode() == encoded


@pytest.mark.parametrize("content_type", list(ContentType), ids=lambda c: c.name)
@pytest.mark.parametrize("where", [0, 5, -1])
def test_non_zero_padding_is_rejected(content_type: ContentType, where: int) -> None:
    padded = bytearray(_content(content_type, 10).encode())
    padded[len(padded) - 10 + where if where >= 0 else where] = 0x80
    with pytest.raises(DecodeError, match="padding must be all zero") as info:
        PrivateMessageContent.decode_for(content_type, bytes(padded))
    assert info.value.section == "6.3.1"


def test_content_is_parsed_by_the_enclosing_content_type() -> None:
    application = _content(ContentType.application).encode()
    # As a commit, the same bytes lack the confirmation tag.
    with pytest.raises(DecodeError):
        PrivateMessageContent.decode_for(ContentType.commit, application)
    with pytest.raises(UsageError, match="decode_for"):
        PrivateMessageContent.decode(application)


def test_private_message_content_must_hold_exactly_one_body() -> None:
    plain = FramedContentAuthData(b"sig")
    with pytest.raises(EncodeError, match="exactly one"):
        PrivateMessageContent(None, None, None, plain).encode()
    with pytest.raises(EncodeError, match="exactly one"):
        PrivateMessageContent(b"x", Proposal.of(Remove(1)), None, plain).encode()
    with pytest.raises(EncodeError, match="needs a confirmation_tag"):
        PrivateMessageContent(None, None, commit(), plain).encode()
    with pytest.raises(EncodeError, match="must not have"):
        PrivateMessageContent(b"x", None, None, FramedContentAuthData(b"s", b"t")).encode()
    with pytest.raises(EncodeError, match="negative padding"):
        PrivateMessageContent(b"x", None, None, plain, -1).encode()
    with pytest.raises(UsageError):
        _ = PrivateMessageContent(None, None, None, plain).body


def test_sender_data() -> None:
    data = SenderData(7, 300, b"\x01\x02\x03\x04")
    assert data.encode() == bytes.fromhex("00000007 0000012c 01020304")
    assert SenderData.decode(data.encode()) == data
    with pytest.raises(EncodeError, match="4 bytes"):
        SenderData(7, 300, b"\x01").encode()
    with pytest.raises(DecodeError):
        SenderData.decode(bytes.fromhex("00000007 0000012c 0102"))


def test_aads() -> None:
    sender_aad = SenderDataAAD(b"g", 9, ContentType.proposal)
    assert sender_aad.encode() == b"\x01g" + (9).to_bytes(8, "big") + b"\x02"
    content_aad = PrivateContentAAD(b"g", 9, ContentType.proposal, b"ad")
    assert content_aad.encode() == sender_aad.encode() + b"\x02ad"
    assert PrivateContentAAD.decode(content_aad.encode()) == content_aad
    assert SenderDataAAD.decode(sender_aad.encode()) == sender_aad
