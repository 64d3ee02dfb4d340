"""Checker for the psk_secret vector file (RFC 9420 §8.4)."""

from __future__ import annotations

from ..crypto import SUITES, get_suite
from ..psk import PreSharedKeyID, psk_secret
from . import Case, Skip, checker, expect_equal, unhex


@checker("psk_secret")
def check_psk_secret(case: Case) -> None:
    suite_id = case["cipher_suite"]
    if suite_id not in SUITES:
        raise Skip(f"cipher suite {suite_id} is not supported")
    psks = [(PreSharedKeyID.external(unhex(p["psk_id"]), unhex(p["psk_nonce"])), unhex(p["psk"])) for p in case["psks"]]
    expect_equal("psk_secret", bytes(psk_secret(get_suite(suite_id), psks)), unhex(case["psk_secret"]))
