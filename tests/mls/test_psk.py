"""RFC 9420 §8.4 — PreSharedKeyID and PSKLabel."""

from __future__ import annotations

import pytest

from calpico.mls.errors import DecodeError, EncodeError
from calpico.mls.psk import PreSharedKeyID, PSKLabel, PSKType, ResumptionPSKUsage


def test_external_psk_id() -> None:
    psk = PreSharedKeyID.external(b"id", b"nonce")
    assert (psk.psktype, psk.psk_id, psk.usage, psk.psk_group_id, psk.psk_epoch) == (
        PSKType.external,
        b"id",
        None,
        None,
        None,
    )
    assert psk.encode() == b"\x01" + b"\x02id" + b"\x05nonce"
    assert PreSharedKeyID.decode(psk.encode()) == psk


def test_resumption_psk_id() -> None:
    psk = PreSharedKeyID.resumption(ResumptionPSKUsage.branch, b"g", 9, b"n")
    assert psk.encode() == b"\x02" + b"\x03" + b"\x01g" + (9).to_bytes(8, "big") + b"\x01n"
    decoded = PreSharedKeyID.decode(psk.encode())
    assert decoded == psk
    assert decoded.usage is ResumptionPSKUsage.branch


@pytest.mark.parametrize(
    "psk",
    [
        PreSharedKeyID(PSKType.external, None, None, None, None, b"n"),
        PreSharedKeyID(PSKType.external, b"id", ResumptionPSKUsage.application, None, None, b"n"),
        PreSharedKeyID(PSKType.resumption, None, ResumptionPSKUsage.application, b"g", None, b"n"),
        PreSharedKeyID(PSKType.resumption, b"id", ResumptionPSKUsage.application, b"g", 1, b"n"),
    ],
    ids=["external-no-id", "external-with-usage", "resumption-no-epoch", "resumption-with-id"],
)
def test_select_arms_must_match_the_psk_type(psk: PreSharedKeyID) -> None:
    with pytest.raises(EncodeError):
        psk.encode()


@pytest.mark.parametrize("encoded", ["00 00", "03 00", "02 00 00 0000000000000000 00", "02 04 00 0000000000000000 00"])
def test_unknown_psk_type_or_usage_is_rejected(encoded: str) -> None:
    with pytest.raises(DecodeError, match="unknown value"):
        PreSharedKeyID.decode(bytes.fromhex(encoded))


def test_psk_label_appends_index_and_count() -> None:
    psk = PreSharedKeyID.external(b"id", b"nonce")
    label = PSKLabel(psk, 1, 3)
    assert label.encode() == psk.encode() + bytes.fromhex("0001 0003")
    assert PSKLabel.decode(label.encode()) == label
