"""Checker for the key-schedule vector file (RFC 9420 §8, §8.1, §8.5, §8.7)."""

from __future__ import annotations

from ..crypto import SUITES, get_suite
from ..group_context import GroupContext, ProtocolVersion
from ..key_schedule import derive_epoch
from . import Case, Skip, checker, expect_equal, unhex

# The vector's name for each EpochSecrets field (they are the same).
_SECRETS = (
    "sender_data_secret",
    "exporter_secret",
    "external_secret",
    "confirmation_key",
    "membership_key",
    "resumption_psk",
    "epoch_authenticator",
    "init_secret",
)


@checker("key-schedule")
def check_key_schedule(case: Case) -> None:
    suite_id = case["cipher_suite"]
    if suite_id not in SUITES:
        raise Skip(f"cipher suite {suite_id} is not supported")
    suite = get_suite(suite_id)
    group_id = unhex(case["group_id"])
    init_secret = unhex(case["initial_init_secret"])
    for epoch, v in enumerate(case["epochs"]):
        context = GroupContext(
            ProtocolVersion.mls10,
            suite_id,
            group_id,
            epoch,
            unhex(v["tree_hash"]),
            unhex(v["confirmed_transcript_hash"]),
            (),
        )
        encoded = context.encode()
        expect_equal(f"epoch {epoch} group_context", encoded, unhex(v["group_context"]))
        psk_secret = unhex(v["psk_secret"]) if v.get("psk_secret") else None
        schedule = derive_epoch(suite, init_secret, unhex(v["commit_secret"]), encoded, psk_secret)
        expect_equal(f"epoch {epoch} joiner_secret", bytes(schedule.joiner_secret), unhex(v["joiner_secret"]))
        expect_equal(f"epoch {epoch} welcome_secret", bytes(schedule.welcome_secret), unhex(v["welcome_secret"]))
        expect_equal(
            f"epoch {epoch} encryption_secret", bytes(schedule.encryption_secret), unhex(v["encryption_secret"])
        )
        secrets = schedule.secrets
        for name in _SECRETS:
            expect_equal(f"epoch {epoch} {name}", bytes(getattr(secrets, name)), unhex(v[name]))
        expect_equal(f"epoch {epoch} external_pub", secrets.external_pub, unhex(v["external_pub"]))
        x = v["exporter"]
        exported = secrets.exporter(x["label"].encode(), unhex(x["context"]), x["length"])
        expect_equal(f"epoch {epoch} exporter", bytes(exported), unhex(x["secret"]))
        init_secret = secrets.init_secret
