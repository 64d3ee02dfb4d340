"""RFC 9420 §8 — the key schedule, Welcome key, exporter, external init, and EpochSecrets persistence.

The official key-schedule vectors run in test_conformance_vectors.py; these
tests pin the structure around them.
"""

from __future__ import annotations

import dataclasses
import random

import pytest
from hypothesis import given, settings

from calpico.mls.crypto import SUITES, get_suite
from calpico.mls.errors import DecodeError, DecryptionError, ProtocolError, UnsupportedError, UsageError
from calpico.mls.key_schedule import (
    EXTERNAL_INIT_EXPORT_LABEL,
    EpochSecrets,
    derive_epoch,
    derive_epoch_from_joiner,
    derive_joiner_secret,
    derive_welcome_secret,
    mls_exporter,
    receive_external_init,
    send_external_init,
    welcome_key_nonce,
)
from calpico.mls.secret import Secret

from .damage import damaged
from .samples import group_context

SUITE = get_suite(1)
CONTEXT = group_context()
INIT, COMMIT, PSK = bytes(range(32)), bytes(range(32, 64)), bytes(range(64, 96))


def test_joiners_and_members_reach_the_same_epoch() -> None:
    member = derive_epoch(SUITE, INIT, COMMIT, CONTEXT, PSK)
    joiner_secret = derive_joiner_secret(SUITE, INIT, COMMIT, CONTEXT.encode())
    assert joiner_secret == member.joiner_secret
    joiner = derive_epoch_from_joiner(SUITE, joiner_secret, CONTEXT.encode(), PSK)
    assert joiner == member
    assert derive_welcome_secret(SUITE, joiner_secret, PSK) == member.welcome_secret


def test_the_schedule_follows_section_8() -> None:
    schedule = derive_epoch(SUITE, INIT, COMMIT, CONTEXT)
    # psk_secret absent = all zero (§8.4)
    assert derive_epoch(SUITE, INIT, COMMIT, CONTEXT, bytes(32)) == schedule
    member_secret = SUITE.extract(schedule.joiner_secret, bytes(32))
    epoch_secret = SUITE.expand_with_label(member_secret, b"epoch", CONTEXT.encode(), 32)
    assert schedule.encryption_secret == SUITE.derive_secret(epoch_secret, b"encryption")
    for field, label in [
        ("sender_data_secret", b"sender data"),
        ("exporter_secret", b"exporter"),
        ("external_secret", b"external"),
        ("confirmation_key", b"confirm"),
        ("membership_key", b"membership"),
        ("resumption_psk", b"resumption"),
        ("epoch_authenticator", b"authentication"),
        ("init_secret", b"init"),
    ]:
        value = getattr(schedule.secrets, field)
        assert isinstance(value, Secret)
        assert value == SUITE.derive_secret(epoch_secret, label), field
    # Every input matters.
    others = [
        derive_epoch(SUITE, COMMIT, COMMIT, CONTEXT),
        derive_epoch(SUITE, INIT, INIT, CONTEXT),
        derive_epoch(SUITE, INIT, COMMIT, CONTEXT, PSK),
        derive_epoch(SUITE, INIT, COMMIT, group_context(epoch=8)),
    ]
    assert len({bytes(s.secrets.epoch_authenticator) for s in [schedule, *others]}) == 5


def test_welcome_key_and_nonce() -> None:
    schedule = derive_epoch(SUITE, INIT, COMMIT, CONTEXT)
    key, nonce = schedule.welcome_key_nonce(SUITE)
    assert (key, nonce) == welcome_key_nonce(SUITE, schedule.welcome_secret)
    assert key == SUITE.expand_with_label(schedule.welcome_secret, b"key", b"", SUITE.nk)
    assert nonce == SUITE.expand_with_label(schedule.welcome_secret, b"nonce", b"", SUITE.nn)
    # The GroupInfo is sealed with them and AAD "" (§12.4.3.1).
    sealed = SUITE.aead_seal(key, nonce, b"", b"group info")
    assert SUITE.aead_open(key, nonce, b"", sealed) == b"group info"


@pytest.mark.parametrize(
    "call",
    [
        lambda: derive_epoch(SUITE, INIT[:31], COMMIT, CONTEXT),
        lambda: derive_epoch(SUITE, INIT, COMMIT + b"x", CONTEXT),
        lambda: derive_epoch_from_joiner(SUITE, INIT, CONTEXT, PSK[:16]),
        lambda: derive_epoch_from_joiner(SUITE, b"", CONTEXT),
    ],
)
def test_wrong_secret_lengths_are_refused(call: object) -> None:
    with pytest.raises(UsageError):
        call()  # type: ignore[operator]


def test_exporter() -> None:
    secrets = derive_epoch(SUITE, INIT, COMMIT, CONTEXT).secrets
    exported = secrets.exporter(b"calpico attachments", b"ctx", 42)
    assert len(exported) == 42
    derived = SUITE.derive_secret(secrets.exporter_secret, b"calpico attachments")
    assert exported == SUITE.expand_with_label(derived, b"exported", SUITE.hash(b"ctx"), 42)
    assert exported == mls_exporter(SUITE, secrets.exporter_secret, b"calpico attachments", b"ctx", 42)
    assert secrets.exporter(b"other", b"ctx", 42) != exported
    assert secrets.exporter(b"calpico attachments", b"ctx2", 42) != exported
    with pytest.raises(UsageError):
        secrets.exporter(b"x", b"", 0x10000)


@pytest.mark.parametrize("suite_id", sorted(SUITES), ids=lambda s: f"cs{s}")
def test_external_init_round_trip(suite_id: int) -> None:
    suite = get_suite(suite_id)
    nh = suite.nh
    secrets = derive_epoch(suite, bytes(nh), bytes(nh), group_context(cipher_suite=suite_id)).secrets
    assert secrets.external_pub == suite.derive_key_pair(secrets.external_secret).public_key
    assert secrets.external_key_pair().public_key == secrets.external_pub
    rng = random.Random(suite_id).randbytes
    kem_output, joiner_init = send_external_init(suite, secrets.external_pub, rng)
    assert len(kem_output) == suite.hpke_enc_length and len(joiner_init) == nh
    assert receive_external_init(suite, secrets.external_secret, kem_output) == joiner_init
    # The same thing, spelled as §8.3 does.
    private_key = suite.derive_key_pair(secrets.external_secret).private_key
    exported = suite.hpke_export_from(private_key, kem_output, b"", EXTERNAL_INIT_EXPORT_LABEL, nh)
    assert exported == joiner_init
    # Another epoch's key cannot recover it.
    other = derive_epoch(suite, bytes(nh), bytes([1]) * nh, group_context(cipher_suite=suite_id)).secrets
    assert receive_external_init(suite, other.external_secret, kem_output) != joiner_init


def test_external_init_with_bad_inputs() -> None:
    secrets = derive_epoch(SUITE, INIT, COMMIT, CONTEXT).secrets
    with pytest.raises(DecryptionError):
        receive_external_init(SUITE, secrets.external_secret, b"short")
    with pytest.raises(ProtocolError):
        send_external_init(SUITE, b"not a key")


@pytest.mark.parametrize("suite_id", sorted(SUITES), ids=lambda s: f"cs{s}")
def test_epoch_secrets_persist(suite_id: int) -> None:
    suite = get_suite(suite_id)
    secrets = derive_epoch(suite, bytes(suite.nh), bytes(suite.nh), group_context(cipher_suite=suite_id)).secrets
    data = secrets.to_bytes()
    assert data[:3] == b"\x01" + suite_id.to_bytes(2, "big")
    restored = EpochSecrets.from_bytes(data)
    assert restored == secrets
    assert all(isinstance(getattr(restored, f.name), Secret) for f in dataclasses.fields(restored)[1:])
    assert restored.suite is suite


def test_epoch_secrets_do_not_print_their_values() -> None:
    secrets = derive_epoch(SUITE, INIT, COMMIT, CONTEXT).secrets
    assert bytes(secrets.init_secret).hex() not in repr(secrets)
    assert "redacted" in repr(secrets)


def test_bad_epoch_secret_records_are_refused() -> None:
    data = derive_epoch(SUITE, INIT, COMMIT, CONTEXT).secrets.to_bytes()
    with pytest.raises(DecodeError, match="format"):
        EpochSecrets.from_bytes(b"\x02" + data[1:])
    with pytest.raises(DecodeError):
        EpochSecrets.from_bytes(data[:-1])
    with pytest.raises(UnsupportedError):
        EpochSecrets.from_bytes(data[:1] + b"\x77\x77" + data[3:])
    # A record whose secrets do not have the suite's length (suite 3 would be fine, suite 5 is not).
    assert EpochSecrets.from_bytes(data[:1] + b"\x00\x03" + data[3:]).cipher_suite == 3
    with pytest.raises(DecodeError, match="64 bytes"):
        EpochSecrets.from_bytes(data[:1] + b"\x00\x05" + data[3:])


@settings(max_examples=200, deadline=None)
@given(damaged(derive_epoch(SUITE, INIT, COMMIT, CONTEXT).secrets.to_bytes()))
def test_damaged_epoch_secrets_raise_only_typed_errors(data: bytes) -> None:
    try:
        secrets = EpochSecrets.from_bytes(data)
    except (DecodeError, UnsupportedError):
        return
    assert secrets.to_bytes() == data
