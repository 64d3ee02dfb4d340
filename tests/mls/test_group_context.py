"""RFC 9420 §8.1 — GroupContext."""

from __future__ import annotations

import pytest

from calpico.mls.errors import DecodeError, EncodeError
from calpico.mls.extensions import Extension, ExtensionType
from calpico.mls.group_context import GroupContext, ProtocolVersion

from .samples import group_context


def test_group_context_encoding_follows_the_rfc_field_order() -> None:
    context = group_context(
        group_id=b"g", epoch=2, tree_hash=b"t", confirmed_transcript_hash=b"c", extensions=(Extension(3, b""),)
    )
    assert context.encode() == bytes.fromhex("0001 0001 01 67 0000000000000002 01 74 01 63 03 0003 00")
    assert GroupContext.decode(context.encode()) == context


def test_group_context_extensions_default_to_empty() -> None:
    context = GroupContext(ProtocolVersion.mls10, 1, b"g", 0, b"", b"")
    assert context.extensions == ()
    assert context.encode().endswith(b"\x00")


def test_epoch_is_a_64_bit_integer() -> None:
    assert GroupContext.decode(group_context(epoch=2**64 - 1).encode()).epoch == 2**64 - 1
    with pytest.raises(EncodeError):
        group_context(epoch=2**64).encode()


def test_only_mls10_is_accepted() -> None:
    encoded = group_context(extensions=(Extension(ExtensionType.required_capabilities, b"\x00\x00\x00"),)).encode()
    with pytest.raises(DecodeError, match="version"):
        GroupContext.decode(b"\x00\x02" + encoded[2:])
