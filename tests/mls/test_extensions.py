"""RFC 9420 §13.4 — extensions, their payloads, and GREASE (§13.5)."""

from __future__ import annotations

import pytest

from calpico.mls.credentials import Credential
from calpico.mls.errors import DecodeError, ProtocolError, UsageError
from calpico.mls.extensions import (
    GREASE_VALUES,
    ApplicationId,
    Extension,
    ExtensionType,
    ExternalPub,
    ExternalSender,
    ExternalSenders,
    RequiredCapabilities,
    check_unique_extension_types,
    find_extension,
    is_grease,
)
from calpico.mls.tree.nodes import RatchetTree

from .samples import GREASE_EXTENSION


def test_extension_is_a_type_and_opaque_data() -> None:
    ext = Extension(ExtensionType.external_pub, b"key")
    assert ext.encode() == bytes.fromhex("0004") + b"\x03key"
    assert Extension.decode(ext.encode()) == ext


@pytest.mark.parametrize("extension_type", [0x0A0A, 0xEAEA, 0xF000, 0x1234])
def test_unknown_and_grease_extension_types_round_trip(extension_type: int) -> None:
    ext = Extension(extension_type, b"whatever the sender chose")
    decoded = Extension.decode(ext.encode())
    assert decoded.extension_type == extension_type
    assert decoded == ext


def test_grease_values_are_the_fifteen_of_section_13_5() -> None:
    listed = "0A0A 1A1A 2A2A 3A3A 4A4A 5A5A 6A6A 7A7A 8A8A 9A9A AAAA BABA CACA DADA EAEA"
    assert {int(v, 16) for v in listed.split()} == GREASE_VALUES
    assert is_grease(0xDADA)
    assert not is_grease(0xFAFA)  # private use, not GREASE
    assert not any(is_grease(t) for t in ExtensionType)


@pytest.mark.parametrize(
    ("payload", "extension_type"),
    [
        (ApplicationId(b"device-1"), ExtensionType.application_id),
        (RatchetTree((None,)), ExtensionType.ratchet_tree),
        (RequiredCapabilities((0x0A0A, 9), (8,), (1, 2)), ExtensionType.required_capabilities),
        (ExternalPub(b"K" * 32), ExtensionType.external_pub),
        (
            ExternalSenders((ExternalSender(b"S" * 32, Credential.basic(b"ds")),)),
            ExtensionType.external_senders,
        ),
    ],
    ids=["application_id", "ratchet_tree", "required_capabilities", "external_pub", "external_senders"],
)
def test_payloads_wrap_and_unwrap(payload: ApplicationId, extension_type: ExtensionType) -> None:
    ext = Extension.of(payload)
    assert ext.extension_type == extension_type
    assert ext.extension_data == payload.encode()
    assert ext.parse(type(payload)) == payload


def test_application_id_is_an_opaque_vector() -> None:
    assert ApplicationId(b"abc").encode() == b"\x03abc"


def test_external_senders_is_a_vector_of_external_sender() -> None:
    sender = ExternalSender(b"key", Credential.basic(b"ds"))
    one = sender.encode()
    assert one == b"\x03key" + bytes.fromhex("0001") + b"\x02ds"
    assert ExternalSenders((sender, sender)).encode() == bytes([2 * len(one)]) + one + one


def test_parse_checks_the_extension_type() -> None:
    with pytest.raises(UsageError, match="not a ExternalPub"):
        Extension(ExtensionType.application_id, b"\x00").parse(ExternalPub)


def test_parse_rejects_malformed_payloads() -> None:
    with pytest.raises(DecodeError):
        Extension(ExtensionType.external_pub, b"\x05abc").parse(ExternalPub)
    with pytest.raises(DecodeError, match="trailing"):
        Extension(ExtensionType.external_pub, b"\x01ab").parse(ExternalPub)


def test_find_extension() -> None:
    wanted = Extension.of(ExternalPub(b"k"))
    extensions = (GREASE_EXTENSION, wanted)
    assert find_extension(extensions, ExtensionType.external_pub) is wanted
    assert find_extension(extensions, 0x0A0A) is GREASE_EXTENSION
    assert find_extension(extensions, ExtensionType.ratchet_tree) is None
    assert find_extension((), ExtensionType.ratchet_tree) is None


def test_duplicate_extension_types_are_rejected() -> None:
    check_unique_extension_types((GREASE_EXTENSION, Extension(0x1A1A, b""), Extension(ExtensionType.external_pub, b"")))
    with pytest.raises(ProtocolError, match="more than one extension of type 2570") as info:
        check_unique_extension_types((GREASE_EXTENSION, Extension(1, b""), Extension(0x0A0A, b"other")))
    assert info.value.section == "13.4"
