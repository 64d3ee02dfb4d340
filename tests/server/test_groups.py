"""Conversations end to end through the HTTP API, on SQLite and PostgreSQL (the `api` fixture)."""

from __future__ import annotations

import asyncio
import uuid

from calpico.wire.common import b64encode

from . import mls_messages as mls
from .client import ApiClient, body_of, make_group


async def test_application_messages_reach_every_other_member_in_order(api: ApiClient) -> None:
    alice, bob, carol = await api.register(), await api.register(), await api.register()
    group = await make_group(alice, bob, carol)
    payloads = [f"ciphertext {i}".encode() for i in range(5)]
    for p in payloads:
        r = await alice.send(group, mls.application(group, 1, p))
        assert r.status_code == 200, r.text
    for member in (bob, carol):
        got = await member.inbox()
        kinds = [m["kind"] for m in got]
        assert kinds[0] == "welcome"
        apps = [m for m in got if m["kind"] == "application"]
        assert [mls.MLSMessage.decode(body_of(m)).private_message.ciphertext for m in apps] == payloads
        seqs = [m["seq"] for m in got]
        assert seqs == sorted(seqs)


async def test_resend_with_the_same_client_id_is_stored_once(api: ApiClient) -> None:
    alice, bob = await api.register(), await api.register()
    group = await make_group(alice, bob)
    msg = mls.application(group, 1, b"once")
    first = await alice.send(group, msg, client_id="c-1")
    again = await alice.send(group, msg, client_id="c-1")
    assert first.status_code == again.status_code == 200
    assert again.json()["duplicate"] is True and again.json()["seq"] == first.json()["seq"]
    apps = [m for m in await bob.inbox() if m["kind"] == "application"]
    assert len(apps) == 1


async def test_ack_moves_the_cursor_and_only_for_the_acking_device(api: ApiClient) -> None:
    alice, bob, carol = await api.register(), await api.register(), await api.register()
    group = await make_group(alice, bob, carol)
    r = await alice.send(group, mls.application(group, 1, b"x"))
    seq = r.json()["seq"]
    assert (await bob.ack(group, seq)).status_code == 204
    assert await bob.inbox() == []
    assert any(m["seq"] == seq for m in await carol.inbox())
    counts = (await carol.get("/v1/notifications")).json()
    assert counts["total"] >= 1 and counts["conversations"][0]["group_id"] == b64encode(group)


async def test_an_ack_past_the_end_of_the_log_stops_at_the_end(api: ApiClient) -> None:
    alice, bob = await api.register(), await api.register()
    group = await make_group(alice, bob)
    before = (await alice.send(group, mls.application(group, 1, b"before"))).json()["seq"]
    assert (await bob.ack(group, 1_000_000)).status_code == 204  # far past the log's end
    assert await bob.inbox() == []  # what existed is acknowledged ...
    later = [
        (await alice.send(group, mls.application(group, 1, f"later {i}".encode()))).json()["seq"] for i in range(2)
    ]
    # ... but the cursor stopped at the end of the log, so later messages still arrive.
    assert [m["seq"] for m in await bob.inbox()] == later
    assert later[0] == before + 1
    assert (await bob.ack(group, later[1])).status_code == 204
    assert await bob.inbox() == []


async def test_concurrent_sends_to_many_groups_get_consecutive_seqs_per_group(api: ApiClient) -> None:
    alice, bob = await api.register(), await api.register()
    groups = [await make_group(alice, bob) for _ in range(4)]
    # Sent together, so the writer stores them in one or few transactions, groups interleaved;
    # one message carries an epoch the group is past, and one names a group that does not exist.
    plan = [(g, f"{i}".encode()) for i in range(5) for g in groups]
    missing = uuid.uuid4().bytes
    answers = await asyncio.gather(
        *(alice.send(g, mls.application(g, 1, p)) for g, p in plan),
        alice.send(groups[0], mls.application(groups[0], 0, b"stale")),
        alice.send(missing, mls.application(missing, 1, b"nowhere")),
    )
    *stored, stale, nowhere = answers
    assert all(r.status_code == 200 for r in stored), [r.text for r in stored]
    assert stale.status_code == 409 and stale.json()["code"] == "stale_epoch"
    assert nowhere.status_code == 404
    got = await bob.inbox()
    for g in groups:
        seqs = sorted(r.json()["seq"] for r, (gg, _) in zip(stored, plan, strict=True) if gg == g)
        assert seqs == list(range(seqs[0], seqs[0] + 5))
        apps = [m for m in got if m["group_id"] == b64encode(g) and m["kind"] == "application"]
        assert [m["seq"] for m in apps] == seqs
        texts = [mls.MLSMessage.decode(body_of(m)).private_message.ciphertext for m in apps]
        assert sorted(texts) == [f"{i}".encode() for i in range(5)]


async def test_exactly_one_commit_per_epoch_and_the_loser_gets_409_with_the_epoch(api: ApiClient) -> None:
    alice, bob = await api.register(), await api.register()
    group = await make_group(alice, bob)
    first = await alice.send(group, mls.commit(group, 1, 0))
    assert first.status_code == 200 and first.json()["epoch"] == 2
    second = await bob.send(group, mls.commit(group, 1, 1))
    assert second.status_code == 409
    assert second.json() == {
        "code": "epoch_conflict",
        "message": second.json()["message"],
        "current_epoch": 2,
    }
    stale = await bob.send(group, mls.application(group, 1, b"old epoch"))
    assert stale.status_code == 409 and stale.json()["code"] == "stale_epoch"
    assert (await bob.send(group, mls.application(group, 2, b"new epoch"))).status_code == 200


async def test_welcome_goes_only_to_the_added_device(api: ApiClient) -> None:
    alice, bob, carol = await api.register(), await api.register(), await api.register()
    group = await make_group(alice, bob)
    await carol.upload_key_packages(1)
    kp = carol.key_packages.pop()
    r = await alice.send(group, mls.commit(group, 1, 0, adds=(kp,)), welcome=mls.welcome(kp))
    assert r.status_code == 200, r.text
    carol_got = await carol.inbox()
    assert [m["kind"] for m in carol_got] == ["welcome"]
    bob_kinds = [m["kind"] for m in await bob.inbox()]
    assert bob_kinds.count("welcome") == 1  # his own, from joining; not carol's
    info = (await carol.get(f"/v1/groups/{b64encode(group)}")).json()
    assert [(m["leaf_index"], m["username"]) for m in info["members"]] == [
        (0, alice.username),
        (1, bob.username),
        (2, carol.username),
    ]


async def test_removed_device_gets_the_commit_and_nothing_after(api: ApiClient) -> None:
    alice, bob, carol = await api.register(), await api.register(), await api.register()
    group = await make_group(alice, bob, carol)
    r = await alice.send(group, mls.commit(group, 1, 0, removes=(1,)))
    assert r.status_code == 200, r.text
    remove_seq = r.json()["seq"]
    after = await alice.send(group, mls.application(group, 2, b"after bob left"))
    assert after.status_code == 200
    bob_seqs = [m["seq"] for m in await bob.inbox()]
    assert max(bob_seqs) == remove_seq
    denied = await bob.send(group, mls.application(group, 2, b"let me in"))
    assert denied.status_code == 403 and denied.json()["code"] == "not_a_member"
    # A later Add fills the leftmost blank leaf (RFC 9420 §12.1.1).
    dave = await api.register()
    await dave.upload_key_packages(1)
    kp = dave.key_packages.pop()
    r = await alice.send(group, mls.commit(group, 2, 0, adds=(kp,)), welcome=mls.welcome(kp))
    assert r.status_code == 200, r.text
    info = (await alice.get(f"/v1/groups/{b64encode(group)}")).json()
    assert {m["leaf_index"]: m["username"] for m in info["members"]} == {
        0: alice.username,
        1: dave.username,
        2: carol.username,
    }


async def test_commit_by_reference_resolves_stored_proposals(api: ApiClient) -> None:
    alice, bob, carol = await api.register(), await api.register(), await api.register()
    group = await make_group(alice, bob, carol)
    proposal = mls.remove_proposal(group, 1, 1, 2)  # bob proposes removing carol
    assert (await bob.send(group, proposal)).status_code == 200
    unknown = await alice.send(group, mls.commit(group, 1, 0, refs=(b"\x00" * 32,)))
    assert unknown.status_code == 422 and unknown.json()["code"] == "invalid_handshake"
    r = await alice.send(group, mls.commit(group, 1, 0, refs=(mls.proposal_ref(proposal),)))
    assert r.status_code == 200, r.text
    info = (await alice.get(f"/v1/groups/{b64encode(group)}")).json()
    assert [m["username"] for m in info["members"]] == [alice.username, bob.username]


async def test_adding_requires_a_known_key_package_and_its_welcome(api: ApiClient) -> None:
    alice, bob = await api.register(), await api.register()
    group = await make_group(alice)
    stranger_kp = mls.key_package(mls.DeviceKeys.generate())
    r = await alice.send(group, mls.commit(group, 0, 0, adds=(stranger_kp,)), welcome=mls.welcome(stranger_kp))
    assert r.status_code == 422 and r.json()["code"] == "unknown_key_package"
    await bob.upload_key_packages(1)
    kp = bob.key_packages[0]
    r = await alice.send(group, mls.commit(group, 0, 0, adds=(kp,)))
    assert r.status_code == 422
    # Nothing was applied: the epoch is unchanged and the next try works.
    r = await alice.send(group, mls.commit(group, 0, 0, adds=(kp,)), welcome=mls.welcome(kp))
    assert r.status_code == 200, r.text


async def test_group_ids_are_unique_and_info_is_for_members_only(api: ApiClient) -> None:
    alice, bob = await api.register(), await api.register()
    group = uuid.uuid4().bytes
    await alice.create_group(group)
    again = await alice.post("/v1/groups", json={"group_id": b64encode(group), "cipher_suite": 1})
    assert again.status_code == 409 and again.json()["code"] == "group_exists"
    r = await bob.get(f"/v1/groups/{b64encode(group)}")
    assert r.status_code == 403 and r.json()["code"] == "not_a_member"


async def test_messages_and_other_writes_at_once_all_land_in_order(api: ApiClient) -> None:
    """On SQLite the message writer has its own connection: it and the rest of the server take turns, nothing fails."""
    alice, bob = await api.register(), await api.register()
    group = await make_group(alice, bob)
    payloads = [f"burst {i}".encode() for i in range(60)]
    sends = [alice.send(group, mls.application(group, 1, p)) for p in payloads]
    # Writes through the server's other connection, interleaved with the messages.
    others = [make_group(alice, group_id=uuid.uuid4().bytes) for _ in range(6)]
    others += [bob.ack(group, 1) for _ in range(6)]
    results = await asyncio.gather(*sends, *others)
    answers = results[: len(sends)]
    assert all(r.status_code == 200 for r in answers), [r.text for r in answers if r.status_code != 200]
    seqs = sorted(r.json()["seq"] for r in answers)
    assert seqs == list(range(seqs[0], seqs[0] + len(payloads)))  # one seq each, no gap, no reuse
    got = [m for m in await bob.inbox() if m["kind"] == "application"]
    assert sorted(mls.MLSMessage.decode(body_of(m)).private_message.ciphertext for m in got) == sorted(payloads)
