"""``calpico assistant ...`` and ``calpico share`` against a real server and a local OpenAI-compatible server."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from ..assistant.fake_llm import FakeLLM
from .conftest import Cli


@pytest.fixture(scope="module")
def llm() -> Iterator[FakeLLM]:
    fake = FakeLLM().start()
    yield fake
    fake.stop()


def _history(cli: Cli, profile: str, conversation: str) -> list[dict[str, object]]:
    messages: list[dict[str, object]] = cli.json("history", conversation, "--profile", profile, "-n", "100")["messages"]
    return messages


def _wait_for(cli: Cli, profile: str, conversation: str, kind: str, timeout: float = 30.0) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [m for m in _history(cli, profile, conversation) if m["type"] == kind]
        if found:
            return found[-1]
        time.sleep(0.3)
    raise AssertionError(f"no {kind} in {conversation} for {profile}")


def test_create_add_serve_rename_policy_share(cli: Cli, llm: FakeLLM) -> None:
    alice, bob = cli.create(), cli.create()
    made = cli.json(
        "assistant",
        "create",
        "Pico",
        "--profile",
        alice,
        "--base-url",
        llm.base_url,
        "--model",
        "fake-7b",
        "--personality",
        "kind",
        "--host",
        "llm.test",
    )
    assert made["card"]["shown_as"] == f"Pico ({alice}'s assistant)" and made["card"]["inference"] == "self_hosted"
    assert "fake-7b" in made["line"] and "llm.test" in made["line"]
    [mine] = cli.json("assistant", "card", "--profile", alice)["assistants"]
    assert mine["name"] == "Pico" and mine["verified"]

    cli.ok("room", "create", "plans", bob, "--profile", alice)
    cli.ok("requests", "accept", "plans", "--profile", bob)
    assert cli.json("assistant", "add", "plans", "--profile", alice)["added"] is True
    [seen] = cli.json("assistant", "card", "plans", "--profile", bob)["assistants"]
    assert seen["shown_as"] == f"Pico ({alice}'s assistant)" and seen["verified"] and seen["owner"] == alice

    serving = cli.spawn("assistant", "serve", "--profile", alice, "--max-seconds", "25")
    try:
        cli.ok("send", "plans", "@Pico what should we pack?", "--profile", bob)
        reply = _wait_for(cli, bob, "plans", "assistant_reply")
        assert str(reply["text"]).startswith("[AI] ")
        cli.ok("send", "Pico", "plan a picnic", "--profile", alice)  # the private chat is called after it
        _wait_for(cli, alice, "Pico", "assistant_reply")
    finally:
        serving.terminate()
        serving.wait(30)
    assert any("what should we pack?" in r.text for r in llm.chats())

    renamed = cli.json("assistant", "rename", "Nova", "--profile", alice)
    assert renamed["card"]["name"] == "Nova" and renamed["card"]["revision"] == 2
    cli.ok("assistant", "personality", "terse and precise", "--profile", alice)
    [seen] = cli.json("assistant", "card", "plans", "--profile", bob)["assistants"]
    assert seen["shown_as"] == f"Nova ({alice}'s assistant)" and seen["personality"] == "terse and precise"

    assert cli.json("assistant", "policy", "plans", "--mode", "auto", "--profile", alice) == {
        "room": "mention",
        "approval": False,
    }
    cli.ok("share", "plans", "--last", "2", "--profile", alice)
    assert _wait_for(cli, bob, "plans", "shared_chat")

    assert cli.json("assistant", "policy", "plans", "--room", "none", "--profile", alice)["room"] == "none"
    assert cli.json("assistant", "card", "plans", "--profile", bob)["assistants"] == []
    refused = cli("assistant", "add", "plans", "--profile", alice)
    assert refused.code != 0 and "does not allow assistants" in refused.error_line
