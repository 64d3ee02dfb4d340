"""RFC 9420 §6 — MLSMessage wrapping every kind of message."""

from __future__ import annotations

import pytest

from calpico.mls.errors import DecodeError, EncodeError, UsageError
from calpico.mls.framing import ContentType, ProtocolVersion, WireFormat
from calpico.mls.messages import MLSMessage, MLSMessageBody
from calpico.mls.private_message import PrivateMessage
from calpico.mls.welcome import Welcome

from .samples import group_info, key_package, public_message

BODIES: list[tuple[MLSMessageBody, WireFormat, str]] = [
    (public_message(ContentType.commit), WireFormat.mls_public_message, "public_message"),
    (
        PrivateMessage(b"g", 1, ContentType.application, b"", b"sd", b"ct"),
        WireFormat.mls_private_message,
        "private_message",
    ),
    (Welcome(1, (), b"gi"), WireFormat.mls_welcome, "welcome"),
    (group_info(), WireFormat.mls_group_info, "group_info"),
    (key_package(), WireFormat.mls_key_package, "key_package"),
]


@pytest.mark.parametrize(("body", "wire_format", "field"), BODIES, ids=[b[2] for b in BODIES])
def test_mls_message_wraps_each_body(body: MLSMessageBody, wire_format: WireFormat, field: str) -> None:
    message = MLSMessage.of(body)
    assert message.version is ProtocolVersion.mls10
    assert message.wire_format is wire_format
    assert getattr(message, field) == body
    assert message.body == body
    encoded = message.encode()
    assert encoded == b"\x00\x01" + wire_format.to_bytes(2, "big") + body.encode()
    assert MLSMessage.decode(encoded) == message


def test_mls_message_select_consistency() -> None:
    with pytest.raises(EncodeError):
        MLSMessage(ProtocolVersion.mls10, WireFormat.mls_welcome, key_package=key_package()).encode()
    with pytest.raises(UsageError):
        _ = MLSMessage(ProtocolVersion.mls10, WireFormat.mls_welcome).body
    with pytest.raises(UsageError):
        MLSMessage.of(b"bytes")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("prefix", "what"),
    [("0001 0000", "wire_format"), ("0001 0006", "wire_format"), ("0000 0001", "version"), ("0002 0003", "version")],
)
def test_unknown_version_or_wire_format_is_rejected(prefix: str, what: str) -> None:
    with pytest.raises(DecodeError, match=what):
        MLSMessage.decode(bytes.fromhex(prefix) + Welcome(1, (), b"").encode())


def test_trailing_bytes_after_a_message_are_rejected() -> None:
    encoded = MLSMessage.of(key_package()).encode()
    with pytest.raises(DecodeError, match="trailing"):
        MLSMessage.decode(encoded + b"\x00")
