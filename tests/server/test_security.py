"""Authorization, blocking, contact policy, and what the server may keep: on SQLite and PostgreSQL."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest
from sqlalchemy import text

from calpico.wire.common import b64decode, b64encode

from . import mls_messages as mls
from .client import ApiClient, make_group


async def test_a_device_cannot_send_to_a_group_it_is_not_in(api: ApiClient) -> None:
    alice, bob, mallory = await api.register(), await api.register(), await api.register()
    group = await make_group(alice, bob)
    r = await mallory.send(group, mls.application(group, 1, b"spam"))
    assert r.status_code == 403 and r.json()["code"] == "not_a_member"


async def test_a_device_cannot_impersonate_another_leaf(api: ApiClient) -> None:
    alice, bob = await api.register(), await api.register()
    group = await make_group(alice, bob)
    # Bob (leaf 1) sends a commit claiming to come from Alice (leaf 0).
    r = await bob.send(group, mls.commit(group, 1, 0))
    assert r.status_code == 403 and r.json()["code"] == "not_a_member"
    # A challenge signed with someone else's key does not log in.
    ch = (await api.http.post("/v1/auth/challenge", json={"device_id": alice.device_id})).json()
    forged = bob.keys.sign_challenge(b64decode(ch["nonce"]), alice.device_id, ch["server_name"])
    r = await api.http.post(
        "/v1/auth/token", json={"device_id": alice.device_id, "nonce": ch["nonce"], "signature": b64encode(forged)}
    )
    assert r.status_code == 401 and r.json()["code"] == "bad_signature"
    # And the consumed nonce cannot be replayed with a good signature.
    good = alice.keys.sign_challenge(b64decode(ch["nonce"]), alice.device_id, ch["server_name"])
    r = await api.http.post(
        "/v1/auth/token", json={"device_id": alice.device_id, "nonce": ch["nonce"], "signature": b64encode(good)}
    )
    assert r.status_code == 401


async def test_a_device_reads_and_acks_only_its_own_queue(api: ApiClient) -> None:
    alice, bob, carol = await api.register(), await api.register(), await api.register()
    group = await make_group(alice, bob)
    seq = (await alice.send(group, mls.application(group, 1, b"for bob"))).json()["seq"]
    assert await carol.inbox() == []
    assert (await carol.ack(group, seq)).status_code == 204  # acks only ever touch the caller's cursor
    assert any(m["seq"] == seq for m in await bob.inbox())


async def test_revoked_device_is_refused_at_once(api: ApiClient) -> None:
    alice = await api.register()
    second = await api.add_device(alice)
    assert (await second.get("/v1/devices")).status_code == 200
    other = await api.register()
    assert (await other.delete(f"/v1/devices/{second.device_id}")).status_code == 404  # not theirs
    assert (await alice.delete(f"/v1/devices/{second.device_id}")).status_code == 204
    r = await second.get("/v1/devices")
    assert r.status_code == 401 and r.json()["code"] == "unauthenticated"
    assert (await api.http.post("/v1/auth/challenge", json={"device_id": second.device_id})).status_code == 404


async def test_blocking_stops_claims_conversations_and_adds(api: ApiClient) -> None:
    alice, bob = await api.register(), await api.register()
    await bob.upload_key_packages(2)
    assert (await bob.put(f"/v1/blocks/{alice.username}")).status_code == 204
    r = await alice.claim(bob.username)
    assert r.status_code == 403 and r.json()["code"] == "blocked"
    # Even with a KeyPackage obtained another way, Alice cannot add Bob.
    group = await make_group(alice)
    kp = bob.key_packages[0]
    r = await alice.send(group, mls.commit(group, 0, 0, adds=(kp,)), welcome=mls.welcome(kp))
    assert r.status_code == 403 and r.json()["code"] == "blocked"
    assert (await bob.get("/v1/blocks")).json() == {"blocked": [alice.username]}
    assert (await bob.delete(f"/v1/blocks/{alice.username}")).status_code == 204
    claimed = await alice.claim(bob.username)
    assert claimed.status_code == 200
    assert [k["device_id"] for k in claimed.json()["key_packages"]] == [bob.device_id]


async def test_claims_hand_out_batch_then_last_resort(api: ApiClient) -> None:
    alice, bob = await api.register(), await api.register()
    second = await api.add_device(bob)
    await bob.upload_key_packages(1, last_resort=True)
    await second.upload_key_packages(1, last_resort=False)
    first = (await alice.claim(bob.username)).json()["key_packages"]
    assert sorted(k["device_id"] for k in first) == sorted([bob.device_id, second.device_id])
    assert not any(k["last_resort"] for k in first)
    again = (await alice.claim(bob.username)).json()["key_packages"]
    assert [(k["device_id"], k["last_resort"]) for k in again] == [(bob.device_id, True)]
    assert (await bob.get("/v1/key-packages")).json() == {"available": 0, "has_last_resort": True}


async def test_contacts_only_policy(api: ApiClient) -> None:
    alice, bob, carol = await api.register(), await api.register(), await api.register()
    await bob.upload_key_packages(3)
    r = await bob.put("/v1/contact-policy", json={"policy": "contacts"})
    assert r.status_code == 200
    r = await alice.claim(bob.username)
    assert r.status_code == 403 and r.json()["code"] == "contacts_only"
    assert (await bob.put(f"/v1/contacts/{alice.username}")).status_code == 204
    assert (await alice.claim(bob.username)).status_code == 200
    # Sharing a conversation makes Carol a contact too.
    await make_group(alice, bob, carol)
    assert (await carol.claim(bob.username)).status_code == 200


async def test_claims_are_rate_limited(api: ApiClient) -> None:
    alice, bob = await api.register(), await api.register()
    statuses = [(await alice.claim(bob.username)).status_code for _ in range(api.config.claim_burst + 5)]
    assert statuses[0] == 404  # no KeyPackages, but the attempt counts
    assert statuses[-1] == 429


@pytest.mark.parametrize("registration", ["closed", "invite"])
async def test_registration_modes(api: ApiClient, registration: str) -> None:
    from dataclasses import replace

    from calpico.server.config import Registration

    state = api.app.state.calpico  # type: ignore[union-attr]
    state.accounts._config = replace(state.accounts._config, registration=Registration(registration))
    keys = mls.DeviceKeys.generate()
    body = {"username": "newbie", "device": {"signature_key": b64encode(keys.public_key), "cipher_suite": 1}}
    r = await api.http.post("/v1/accounts", json=body)
    assert r.status_code == 403
    if registration == "invite":
        token = await state.accounts.create_invite(1)
        assert (await api.http.post("/v1/accounts", json={**body, "invite": token})).status_code == 201
        again = {**body, "username": "second", "invite": token}
        again["device"] = {"signature_key": b64encode(mls.DeviceKeys.generate().public_key), "cipher_suite": 1}
        r = await api.http.post("/v1/accounts", json=again)
        assert r.status_code == 403 and r.json()["code"] == "bad_invite"


async def test_no_plaintext_or_token_in_database_logs_or_metrics(
    api: ApiClient, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    caplog.set_level(logging.DEBUG)
    marker = b"PLAINTEXT-MARKER-" + os.urandom(6).hex().encode()
    alice, bob = await api.register(), await api.register()
    group = await make_group(alice, bob)
    # What a client would send: the marker encrypted (here a one-time pad stands in for MLS).
    pad = os.urandom(len(marker))
    ciphertext = bytes(a ^ b for a, b in zip(marker, pad, strict=True))
    assert (await alice.send(group, mls.application(group, 1, ciphertext))).status_code == 200
    assert (await bob.send(group, mls.application(group, 1, b"\x00" * 8), client_id="x")).status_code == 200
    await bob.inbox()
    metrics = (await api.http.get("/metrics")).text
    state = api.app.state.calpico  # type: ignore[union-attr]
    dump = bytearray()
    async with state.engine.connect() as conn:
        tables = ["users", "devices", "tokens", "challenges", "key_packages", "groups", "memberships", "messages"]
        for table in tables:
            for row in await conn.execute(text(f"SELECT * FROM {table}")):
                for value in row:
                    dump += value if isinstance(value, bytes) else str(value).encode()
    if api.config.database_url is None:
        for f in (api.config.data_dir).glob("calpico.db*"):
            dump += f.read_bytes()
    logs = "\n".join(r.getMessage() for r in caplog.records)
    for secret in (marker, alice.token.encode(), bob.token.encode()):
        assert secret not in dump
        assert secret.decode() not in logs
        assert secret.decode() not in metrics
    assert ciphertext in dump  # the check looks at the right place: ciphertext is stored
