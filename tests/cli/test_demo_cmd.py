"""``calpico demo``: runs on its own (embedded server, three people) and shows both sides."""

from __future__ import annotations

import json

from .conftest import Cli


def test_demo_fast_shows_devices_and_server_and_exits_0(cli: Cli) -> None:
    result = cli("demo", "--fast")
    assert result.code == 0, result.err
    out = result.out
    for name in ("alice", "bob", "carol"):
        assert f"{name}'s device" in out
    assert "server database" in out
    for step in ("Alice writes to Bob", "Alice invites Carol", "Bob blocks Carol", "Carol leaves"):
        assert step in out
    assert "Hi Bob! Lunch tomorrow?" in out  # the plaintext, on the devices' side
    assert "application" in out and "commit" in out and "welcome" in out  # the server's rows, by kind
    assert out.count("none found") == 2  # neither the server's files nor the stores hold any plaintext
    assert "Traceback" not in result.err
    assert not cli.home.exists()  # the demo touches no profile


def test_demo_json(cli: Cli) -> None:
    result = cli("demo", "--fast", "--json")
    assert result.code == 0, result.err
    lines = [json.loads(line) for line in result.out.splitlines()]
    steps, summary = lines[:-1], lines[-1]["summary"]
    assert [s["step"] for s in steps] == list(range(1, len(steps) + 1))
    first_dm = next(s for s in steps if s["title"] == "Alice writes to Bob")
    assert any("Hi Bob! Lunch tomorrow?" in line for line in first_dm["devices"]["bob"])
    rows = [row for s in steps for row in s["server"]]
    assert rows and all(set(row) == {"group", "seq", "kind", "epoch", "sender", "size", "tail"} for row in rows)
    assert summary["plaintexts_found_on_server"] == [] and summary["plaintexts_found_in_device_stores"] == []
    assert summary["messages_stored"] >= len(rows)
