"""``calpico listen`` and ``calpico chat``: live updates, typed messages, clean exits."""

from __future__ import annotations

from .conftest import Cli
from .live import OnTerminal, Piped
from .test_conversations_cmd import eventually, texts


def _connected(line: dict[str, object]) -> bool:
    return line.get("event") == "connection_state_changed" and line.get("state") == "connected"


def test_listen_prints_messages_joins_and_leaves_then_stops_cleanly(cli: Cli) -> None:
    alice, bob, carol = cli.create(), cli.create(), cli.create()
    cli.ok("dm", bob, "first contact", "--profile", alice)
    cli.ok("requests", "accept", alice, "--profile", bob)
    cli.ok("room", "create", "club", bob, "--profile", alice)

    listen = Piped(cli, "listen", "--json", "--profile", bob)
    try:
        listen.out.expect_json(_connected)
        cli.ok("dm", bob, "are you there?", "--profile", alice)
        got = listen.out.expect_json(lambda e: e.get("event") == "message_received")
        assert got["message"]["text"] == "are you there?" and got["message"]["sender"] == alice

        cli.ok("room", "invite", "club", carol, "--profile", alice)
        joined = listen.out.expect_json(lambda e: e.get("event") == "member_joined" and e.get("username") == carol)
        assert joined["by"] == alice
        cli.ok("requests", "accept", "club", "--profile", carol)
        cli.ok("room", "leave", "club", "--profile", carol)
        listen.out.expect_json(
            lambda e: e.get("event") in ("member_left", "member_removed") and e.get("username") == carol
        )
        listen.interrupt()
        assert listen.wait() == 0
        assert "Traceback" not in listen.err.seen
    finally:
        listen.kill()


def test_listen_for_people(cli: Cli) -> None:
    alice, bob = cli.create(), cli.create()
    cli.ok("dm", bob, "hello", "--profile", alice)
    cli.ok("requests", "accept", alice, "--profile", bob)
    listen = Piped(cli, "listen", "--profile", bob, "--count", "1")
    try:
        listen.err.expect("Listening as")
        cli.ok("dm", bob, "knock knock", "--profile", alice)
        out = listen.out.expect("knock knock")
        assert f"{alice}: knock knock" in out
        assert listen.wait() == 0
    finally:
        listen.kill()


def test_chat_on_a_terminal_sends_what_is_typed_and_shows_what_arrives(cli: Cli) -> None:
    alice, bob = cli.create(), cli.create()
    cli.ok("dm", bob, "hello bob", "--profile", alice)
    cli.ok("requests", "accept", alice, "--profile", bob)

    chat = OnTerminal(cli, "chat", bob, "--profile", alice)
    try:
        chat.out.expect(f"{alice}>")
        assert "hello bob" in chat.out.seen  # the history comes first
        chat.type("typed on a terminal\r")
        assert eventually(lambda: "typed on a terminal" in texts(cli, bob, alice), "bob receiving the typed line")

        cli.ok("send", alice, "an answer from bob", "--profile", bob)
        screen = chat.out.expect("an answer from bob")
        assert f"{bob}: an answer from bob" in screen

        chat.type("/quit\r")
        assert chat.wait() == 0
    finally:
        chat.kill()


def test_chat_without_a_terminal_reads_lines_and_prints_events(cli: Cli) -> None:
    alice, bob = cli.create(), cli.create()
    cli.ok("dm", bob, "hi", "--profile", alice)
    cli.ok("requests", "accept", alice, "--profile", bob)

    chat = Piped(cli, "chat", alice, "--profile", bob, "--json")
    try:
        chat.out.expect_json(lambda e: e.get("event") == "history" and e.get("text") == "hi")
        chat.send("from a pipe")
        sent = chat.out.expect_json(lambda e: e.get("event") == "message_sent")
        assert sent["text"] == "from a pipe" and sent["seq"] is not None
        assert eventually(lambda: "from a pipe" in texts(cli, alice, bob), "alice receiving the piped line")

        cli.ok("send", bob, "back at you", "--profile", alice)
        got = chat.out.expect_json(lambda e: e.get("event") == "message" and e.get("text") == "back at you")
        assert got["sender"] == alice

        chat.close_input()  # end of input ends the chat, after sending everything
        assert chat.wait() == 0
        assert "Traceback" not in chat.err.seen
    finally:
        chat.kill()


def test_a_profile_in_use_by_a_chat_is_one_line(cli: Cli) -> None:
    alice, bob = cli.create(), cli.create()
    cli.ok("dm", bob, "hi", "--profile", alice)
    chat = Piped(cli, "chat", bob, "--profile", alice, "--plain")
    try:
        chat.out.expect("hi")
        result = cli("rooms", "--profile", alice)
        assert result.code == 5
        assert result.error_line.startswith("calpico: ")
        chat.close_input()
        assert chat.wait() == 0
    finally:
        chat.kill()


def test_two_live_chats_see_typing_and_each_others_messages(cli: Cli) -> None:
    alice, bob = cli.create(), cli.create()
    cli.ok("dm", bob, "hi", "--profile", alice)
    cli.ok("requests", "accept", alice, "--profile", bob)

    bobs = Piped(cli, "chat", alice, "--profile", bob, "--json")
    alices = OnTerminal(cli, "chat", bob, "--profile", alice)
    try:
        bobs.out.expect_json(lambda e: e.get("event") == "history")
        alices.out.expect(f"{alice}>")
        alices.type("wri")  # typing, not sent yet
        typing = bobs.out.expect_json(lambda e: e.get("event") == "typing_changed")
        assert typing["username"] == alice and typing["active"] is True
        alices.type("tten live\r")
        got = bobs.out.expect_json(lambda e: e.get("event") == "message" and e.get("text") == "written live")
        assert got["sender"] == alice

        bobs.send("answered live")
        assert f"{bob}: answered live" in alices.out.expect("answered live")
        alices.type("\x04")  # Ctrl-D ends the terminal chat
        assert alices.wait() == 0
        bobs.close_input()
        assert bobs.wait() == 0
    finally:
        alices.kill()
        bobs.kill()
