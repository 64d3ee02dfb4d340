"""RFC 9420 §8.4 — PreSharedKeyID and PSKLabel."""

from __future__ import annotations

import pytest

from calpico.mls.crypto import get_suite
from calpico.mls.errors import DecodeError, EncodeError, UsageError
from calpico.mls.psk import PreSharedKeyID, PSKLabel, PSKType, ResumptionPSKUsage, psk_secret


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


# --- §8.4 psk_secret (the 77 official psk_secret vectors run in test_conformance_vectors.py) ---

SUITE = get_suite(1)


def test_no_psks_give_the_zero_secret() -> None:
    assert psk_secret(SUITE, []) == bytes(32)
    assert psk_secret(get_suite(5), ()) == bytes(64)


def test_psk_secret_chains_the_psks_in_order() -> None:
    a = (PreSharedKeyID.external(b"a", bytes(32)), b"first key")
    b = (PreSharedKeyID.resumption(ResumptionPSKUsage.application, b"group", 4, bytes(32)), b"second key")
    one = psk_secret(SUITE, [a])
    label = PSKLabel(a[0], 0, 1).encode()
    psk_input = SUITE.expand_with_label(SUITE.extract(bytes(32), b"first key"), b"derived psk", label, 32)
    assert one == SUITE.extract(psk_input, bytes(32))
    both = psk_secret(SUITE, [a, b])
    assert len({bytes(one), bytes(both), bytes(psk_secret(SUITE, [b, a]))}) == 3
    # The nonce is part of the identity: a fresh nonce gives a different secret.
    renonced = (PreSharedKeyID.external(b"a", bytes([1]) * 32), b"first key")
    assert psk_secret(SUITE, [renonced]) != one


def test_too_many_psks_for_psk_label() -> None:
    entry = (PreSharedKeyID.external(b"a", bytes(32)), b"k")
    with pytest.raises(UsageError):
        psk_secret(SUITE, [entry] * 0x10000)
