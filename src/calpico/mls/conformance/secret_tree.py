"""Checker for the secret-tree vector file (RFC 9420 §9, §9.1, §6.3.2)."""

from __future__ import annotations

from ..crypto import SUITES, get_suite
from ..secret_tree import RatchetType, SecretTree, sender_data_key_nonce
from . import Case, Skip, checker, expect_equal, unhex


@checker("secret-tree")
def check_secret_tree(case: Case) -> None:
    suite_id = case["cipher_suite"]
    if suite_id not in SUITES:
        raise Skip(f"cipher suite {suite_id} is not supported")
    suite = get_suite(suite_id)

    v = case["sender_data"]
    key, nonce = sender_data_key_nonce(suite, unhex(v["sender_data_secret"]), unhex(v["ciphertext"]))
    expect_equal("sender_data key", bytes(key), unhex(v["key"]))
    expect_equal("sender_data nonce", bytes(nonce), unhex(v["nonce"]))

    leaves = case["leaves"]
    # One tree for everything: reaching a later generation ratchets forward, as a receiver would.
    tree = SecretTree(suite, unhex(case["encryption_secret"]), len(leaves))
    for leaf, entries in enumerate(leaves):
        for entry in entries:
            generation = entry["generation"]
            for ratchet in RatchetType:
                got = tree.decryption_key(leaf, ratchet, generation)
                where = f"leaf {leaf} generation {generation} {ratchet.name}"
                expect_equal(f"{where} key", bytes(got.key), unhex(entry[f"{ratchet.name}_key"]))
                expect_equal(f"{where} nonce", bytes(got.nonce), unhex(entry[f"{ratchet.name}_nonce"]))
                tree.consume(got)
