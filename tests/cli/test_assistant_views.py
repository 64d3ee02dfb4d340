"""How the CLI shows assistants, against a real server, a local OpenAI-compatible server and ``assistant serve``.

Assistant messages are labelled with the assistant's name and its owner and
marked AI-generated (history, JSON, ``listen``); a card change is a visible
notice; ``assistant card`` shows every field of the card; ``room create
--approval`` / ``--no-assistants`` set the room's assistant policy.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ..assistant.fake_llm import FakeLLM
from .conftest import Cli
from .live import Piped
from .test_assistant_cmd import _wait_for


@pytest.fixture(scope="module")
def llm() -> Iterator[FakeLLM]:
    fake = FakeLLM().start()
    yield fake
    fake.stop()


def _create_pico(cli: Cli, llm: FakeLLM, owner: str) -> None:
    cli.ok(
        "assistant",
        "create",
        "Pico",
        "--profile",
        owner,
        "--base-url",
        llm.base_url,
        "--model",
        "fake-7b",
        "--personality",
        "cheerful",
        "--host",
        "llm.test",
        "--retention",
        "nothing beyond this chat",
    )


def test_assistant_messages_are_labelled_and_card_changes_are_notices(cli: Cli, llm: FakeLLM) -> None:
    alice, bob, carol = cli.create(), cli.create(), cli.create()
    _create_pico(cli, llm, alice)
    cli.ok("room", "create", "trip", bob, carol, "--profile", alice)
    cli.ok("requests", "accept", "trip", "--profile", bob)
    cli.ok("requests", "accept", "trip", "--profile", carol)
    assert cli.json("assistant", "add", "trip", "--profile", alice)["added"] is True

    card = cli.ok("assistant", "card", "trip", "--profile", bob).out
    assert f"Pico ({alice}'s assistant)" in card and "verified" in card
    for field, value in (
        ("personality", "cheerful"),
        ("model", "fake-7b"),
        ("provider", "openai-compatible"),
        ("inference", "runs on a self-hosted server (llm.test)"),
        ("retention", "nothing beyond this chat"),
    ):
        assert any(line.split()[:1] == [field] and value in line for line in card.splitlines()), (field, card)
    shown = cli.ok("room", "show", "trip", "--profile", bob).out
    assert "only when mentioned" in shown and f"Pico ({alice}'s assistant)" in shown

    serving = cli.spawn("assistant", "serve", "--profile", alice, "--max-seconds", "40")
    listen = Piped(cli, "listen", "--profile", carol)  # while bob writes and reads the history
    try:
        listen.err.expect("Listening as")
        cli.ok("send", "trip", "@Pico what should we pack?", "--profile", bob)
        reply = _wait_for(cli, bob, "trip", "assistant_reply")
        assert reply["shown_as"] == f"Pico ({alice}'s assistant)" and reply["ai_generated"] is True
        assert reply["assistant"] == {
            "device_id": reply["device"],
            "owner": alice,
            "name": "Pico",
            "verified": True,
        }
        history = cli.ok("history", "trip", "--profile", bob).out
        [line] = [x for x in history.splitlines() if "Here is my answer" in x]
        assert f"Pico ({alice}'s assistant) [AI-generated]: Here is my answer" in line
        live = listen.out.expect("Here is my answer")
        assert f"Pico ({alice}'s assistant) [AI-generated]: Here is my answer" in live

        cli.ok("assistant", "rename", "Nova", "--profile", alice)
        notice = listen.out.expect("changed its card")
        assert f"notice: {alice}'s assistant changed its card: name → Nova" in notice
        cli.ok("assistant", "personality", "terse", "--profile", alice)
        assert "personality → terse" in listen.out.expect("personality →")
    finally:
        listen.kill()
        serving.terminate()
        serving.wait(30)
    replies = [m for m in cli.json("history", "trip", "--profile", bob)["messages"] if m["ai_generated"]]
    assert replies and replies[-1]["shown_as"] == f"Nova ({alice}'s assistant)"  # named after its current card
    [seen] = cli.json("assistant", "card", "trip", "--profile", bob)["assistants"]
    assert seen["shown_as"] == f"Nova ({alice}'s assistant)" and seen["personality"] == "terse"


def test_room_create_can_forbid_assistants_or_require_approval(cli: Cli, llm: FakeLLM) -> None:
    alice, bob = cli.create(), cli.create()
    _create_pico(cli, llm, alice)
    cli.ok("dm", bob, "hi", "--profile", alice)  # alice wrote first: bob's rooms reach her without a request
    cli.ok("requests", "accept", alice, "--profile", bob)

    quiet = cli.json("room", "create", "quiet", alice, "--no-assistants", "--profile", bob)
    assert quiet["assistant_policy"] == "none" and quiet["assistants"] == []
    refused = cli("assistant", "add", "quiet", "--profile", alice)
    assert refused.code == 3 and "does not allow assistants" in refused.error_line
    assert "not allowed here" in cli.ok("room", "show", "quiet", "--profile", alice).out

    guarded = cli.json("room", "create", "guarded", alice, "--approval", "--profile", bob)
    assert guarded["assistant_policy"] == "mention" and guarded["assistant_approval"] is True
    asked = cli.json("assistant", "add", "guarded", "--profile", alice)
    assert asked == {"added": False, "approval_requested": True}
    assert cli.json("room", "show", "guarded", "--profile", bob)["assistants"] == []
    cli.ok("assistant", "approve", "guarded", alice, "--profile", bob)
    [member] = cli.json("room", "show", "guarded", "--profile", bob)["assistants"]
    assert member["owner"] == alice

    both = cli("room", "create", "odd", alice, "--approval", "--no-assistants", "--profile", bob)
    assert both.code == 2 and "--approval" in both.error_line
