"""DMs, rooms, requests, blocking through the one-shot commands, three people on a real server."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .conftest import Cli


def eventually(check: Callable[[], Any], what: str, timeout: float = 60.0) -> Any:
    """Repeat ``check`` (a command that catches up each time) until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def texts(cli: Cli, profile: str, conversation: str) -> list[str]:
    return [m["text"] for m in cli.json("history", conversation, "--profile", profile)["messages"]]


def test_dm_arrives_as_a_request_then_both_write(cli: Cli) -> None:
    alice, bob = cli.create(), cli.create()
    sent = cli.json("dm", bob, "Lunch tomorrow?", "--profile", alice)
    assert sent["conversation"]["kind"] == "dm" and sent["conversation"]["peer"] == bob
    message = sent["message"]
    assert message["text"] == "Lunch tomorrow?" and message["sender"] == alice and message["type"] == "text"
    assert message["seq"] is not None and message["state"] == "sent"  # ordered before the command returned
    assert set(message) == {
        "conversation_id", "id", "sender", "device", "sent_at", "seq", "state", "type", "text", "edited", "deleted",
        "reactions", "shown_as", "ai_generated", "away", "assistant",
    }  # fmt: skip
    assert (message["shown_as"], message["ai_generated"], message["assistant"]) == (alice, False, None)

    requests = cli.json("requests", "--profile", bob)["requests"]
    assert [(r["kind"], r["peer"]) for r in requests] == [("dm", alice)]
    assert alice in requests[0]["members"]
    assert cli.json("rooms", "--profile", bob)["requests"] == 1
    assert "Lunch tomorrow?" in texts(cli, bob, alice)  # a request can be read before accepting

    accepted = cli.json("requests", "accept", alice, "--profile", bob)
    assert accepted["status"] == "accepted"
    assert cli.json("requests", "--profile", bob)["requests"] == []
    cli.ok("dm", alice, "Sure, noon?", "--profile", bob)
    assert eventually(lambda: "Sure, noon?" in texts(cli, alice, bob), "alice reading bob's answer")

    human = cli.ok("dm", bob, "--profile", alice).out  # no TEXT: the DM's messages
    assert f"DM with {bob}" in human and "Lunch tomorrow?" in human and "Sure, noon?" in human
    (dm,) = cli.json("rooms", "--profile", alice)["conversations"]
    assert dm["kind"] == "dm" and sorted(dm["members"]) == sorted([alice, bob])


def test_room_invite_accept_decline_rename_remove_leave(cli: Cli) -> None:
    alice, bob, carol, dave = (cli.create() for _ in range(4))
    room = cli.json("room", "create", "plans", bob, "--profile", alice)
    assert room["kind"] == "room" and room["name"] == "plans"
    assert sorted(room["members"]) == sorted([alice, bob]) and room["admins"] == [alice]

    (invite,) = cli.json("requests", "--profile", bob)["requests"]
    assert invite["kind"] == "room" and invite["name"] == "plans"
    cli.ok("requests", "accept", "plans", "--profile", bob)

    cli.ok("room", "invite", "plans", carol, dave, "--profile", alice)
    cli.ok("requests", "accept", "plans", "--profile", carol)
    declined = cli.json("requests", "decline", "plans", "--profile", dave)
    assert declined["status"] == "declined" and declined["blocked"] is False

    cli.ok("send", "plans", "hello room", "--profile", carol)
    for reader in (alice, bob):
        assert eventually(lambda r=reader: "hello room" in texts(cli, r, "plans"), f"{reader} reading carol")

    renamed = cli.json("room", "rename", "plans", "summer", "--profile", alice)
    assert renamed["name"] == "summer"
    assert eventually(
        lambda: any(c["name"] == "summer" for c in cli.json("rooms", "--profile", bob)["conversations"]),
        "bob seeing the new name",
    )
    refused = cli("room", "rename", "summer", "mine now", "--profile", bob)  # bob is not an admin
    assert refused.code == 3 and refused.error_line.startswith("calpico: ")

    cli.ok("room", "remove", "summer", carol, "--profile", alice)
    left = cli.json("room", "leave", "summer", "--profile", bob)
    assert left["status"] == "left"
    assert eventually(
        lambda: cli.json("room", "show", "summer", "--profile", alice)["members"] == [alice],
        "alice seeing carol removed and bob's leave committed",
    )
    mine = {c["name"]: c for c in cli.json("rooms", "--all", "--profile", bob)["conversations"]}
    assert mine["summer"]["status"] == "left"


def test_blocking_and_declining_with_a_block(cli: Cli) -> None:
    alice, bob, mallory = cli.create(), cli.create(), cli.create()
    blocked = cli.json("block", mallory, "--profile", bob)
    assert blocked["state"] == "blocked"
    refused = cli("dm", bob, "hi", "--profile", mallory)
    assert refused.code == 3
    assert "blocked" in refused.error_line

    cli.json("unblock", mallory, "--profile", bob)
    cli.ok("dm", bob, "please?", "--profile", mallory)
    cli.json("requests", "decline", mallory, "--block", "--profile", bob)
    assert cli.json("requests", "--profile", bob)["requests"] == []
    assert cli("dm", bob, "again", "--profile", mallory).code == 3

    # someone else is unaffected
    cli.ok("dm", bob, "hi bob", "--profile", alice)


def test_conversation_names_and_errors(cli: Cli) -> None:
    alice, bob = cli.create(), cli.create()
    cli.ok("room", "create", "x1", "--profile", alice)
    cli.ok("room", "create", "x1", "--profile", alice)  # two rooms with one name
    result = cli("send", "x1", "hi", "--profile", alice)
    assert result.code == 2 and "matches 2 conversations" in result.error_line
    missing = cli("send", "nowhere", "hi", "--profile", alice)
    assert missing.code == 2 and "no conversation called 'nowhere'" in missing.error_line
    cli.ok("dm", bob, "hi", "--profile", alice)
    by_id = cli.json("rooms", "--profile", alice)["conversations"]
    dm = next(c for c in by_id if c["kind"] == "dm")
    assert cli.json("send", dm["id"][:8], "by id", "--profile", alice)["text"] == "by id"
    assert cli.json("send", f"@{bob}", "by name", "--profile", alice)["text"] == "by name"


def test_offline_history_and_queued_sends_go_out_later(cli: Cli, tmp_path: Path) -> None:
    from ..client.server import ThreadServer

    own = ThreadServer(tmp_path / "own-server").start()
    try:
        cli.server_url = own.url
        alice, bob = cli.create(), cli.create()
        cli.ok("dm", bob, "while online", "--profile", alice)
        own.stop()

        result = cli.ok("history", bob, "--profile", alice)  # offline: what this device has
        assert "while online" in result.out
        assert "offline" in result.err
        queued = cli.json("send", bob, "written offline", "--profile", alice)
        assert queued["seq"] is None and queued["state"] == "sending"  # waiting in the outbox
        assert "Queued" in cli.ok("send", bob, "and another", "--profile", alice).out
        refused = cli("room", "create", "needs-the-server", "--profile", alice)
        assert refused.code == 4 and refused.error_line.startswith("calpico: ")

        own.start()
        cli.ok("rooms", "--profile", alice)  # any command with the server back sends what waited
        got = eventually(lambda: texts(cli, bob, alice)[-2:] == ["written offline", "and another"], "the queue")
        assert got
    finally:
        own.stop()
