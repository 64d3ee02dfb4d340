"""``calpico account create|login|show`` and profiles, against a real server."""

from __future__ import annotations

import json
import stat

import pytest

from .conftest import Cli


def test_create_remembers_the_profile_and_prints_the_account(cli: Cli) -> None:
    result = cli.ok("account", "create", "alice1", "--server", cli.server_url, "--key", "file")
    assert "Account created: alice1" in result.out
    settings = json.loads((cli.home / "default.json").read_text())
    assert settings == {
        "version": 1,
        "server": cli.server_url,
        "username": "alice1",
        "key": "file",
        "key_file": str(cli.home / "default.key"),
    }
    for name in ("default.json", "default.db", "default.key"):
        assert stat.S_IMODE((cli.home / name).stat().st_mode) == 0o600, name
    assert stat.S_IMODE(cli.home.stat().st_mode) == 0o700

    shown = cli.json("account", "show")
    assert shown["username"] == "alice1" and shown["server"] == cli.server_url and shown["key"] == "file"


def test_create_json_shape(cli: Cli) -> None:
    data = cli.json("account", "create", "bob1", "--server", cli.server_url, "--key", "file", "--profile", "bob")
    assert set(data) == {"profile", "username", "device_id", "server", "key", "store"}
    assert data["profile"] == "bob" and data["username"] == "bob1" and data["device_id"]
    assert data["store"] == str(cli.home / "bob.db")


def test_login_signs_in_and_reports_devices(cli: Cli) -> None:
    name = cli.create()
    data = cli.json("account", "login", "--profile", name)
    assert data["username"] == name
    assert data["devices"] == 1
    assert data["conversations"] == 0


def test_a_second_account_in_the_same_profile_is_refused(cli: Cli) -> None:
    name = cli.create(profile="p")
    result = cli("account", "create", "someone-else", "--server", cli.server_url, "--key", "file", "--profile", "p")
    assert result.code == 2
    assert "already has an account" in result.error_line
    assert cli.json("account", "show", "--profile", "p")["username"] == name


def test_a_taken_username_is_one_line_and_leaves_no_profile(cli: Cli) -> None:
    name = cli.create(profile="first")
    result = cli("account", "create", name, "--server", cli.server_url, "--key", "file", "--profile", "second")
    assert result.code == 3
    assert result.error_line.startswith("calpico: server refused (username_taken)")
    assert not (cli.home / "second.json").exists()
    assert not (cli.home / "second.db").exists()


def test_an_unreachable_server_is_exit_4(cli: Cli) -> None:
    result = cli("account", "create", "carol1", "--server", "http://127.0.0.1:9", "--key", "file")
    assert result.code == 4
    assert result.error_line.startswith("calpico: ")
    assert not (cli.home / "default.json").exists()


def test_commands_need_an_account(cli: Cli) -> None:
    for args in (["rooms"], ["account", "login"], ["devices"], ["dm", "bob", "hi"]):
        result = cli(*args, "--profile", "nobody")
        assert result.code == 2, args
        assert "'nobody'" in result.error_line
        assert "no account" in result.error_line or "has no account" in result.error_line
        assert "calpico account create" in result.error_line


def test_bad_profile_name(cli: Cli) -> None:
    result = cli("rooms", "--profile", "../etc")
    assert result.code == 2
    assert "bad profile name" in result.error_line


def test_passphrase_from_the_environment_and_a_wrong_one(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CALPICO_PASSPHRASE", "correct horse")
    cli.ok("account", "create", "dora1", "--server", cli.server_url, "--profile", "dora")
    assert json.loads((cli.home / "dora.json").read_text())["key"] == "passphrase"
    assert cli.json("account", "login", "--profile", "dora")["username"] == "dora1"

    monkeypatch.setenv("CALPICO_PASSPHRASE", "wrong horse")
    result = cli("rooms", "--profile", "dora")
    assert result.code == 5
    assert result.error_line.startswith("calpico: ")

    monkeypatch.delenv("CALPICO_PASSPHRASE")
    result = cli("rooms", "--profile", "dora")  # stdin is not a terminal here: no prompt, a reason
    assert result.code == 2
    assert "CALPICO_PASSPHRASE" in result.error_line


def test_login_moves_the_key_to_another_method(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CALPICO_PASSPHRASE", "to be replaced")
    cli.ok("account", "create", "erin1", "--server", cli.server_url, "--profile", "erin")
    data = cli.json("account", "login", "--profile", "erin", "--key", "file")
    assert data["key"] == "file"
    monkeypatch.delenv("CALPICO_PASSPHRASE")
    assert cli.json("account", "login", "--profile", "erin")["username"] == "erin1"  # the key file opens it now
    assert (cli.home / "erin.key").exists()


def test_profile_from_the_environment_and_home_option(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    name = cli.create(profile="envprofile")
    monkeypatch.setenv("CALPICO_PROFILE", "envprofile")
    assert cli.json("account", "show")["username"] == name
    other = cli.home.parent / "elsewhere"
    result = cli("--home", str(other), "account", "show")
    assert result.code == 2
    assert str(other) in result.error_line


def test_root_options_apply_to_every_command(cli: Cli) -> None:
    name = cli.create(profile="rooted")
    result = cli.ok("--json", "--profile", "rooted", "rooms")
    assert result.json() == {"conversations": [], "requests": 0}
    # a command's own --profile wins over the root's
    assert cli.ok("--profile", "missing", "account", "show", "--profile", "rooted", "--json").json()["username"] == name
