"""``calpico verify``: safety numbers, the same on both sides; marking verified; a wrong number refused."""

from __future__ import annotations

from .conftest import Cli


def test_both_people_see_the_same_safety_number(cli: Cli) -> None:
    alice, bob = cli.create(), cli.create()
    mine = cli.json("verify", bob, "--profile", alice)
    theirs = cli.json("verify", alice, "--profile", bob)
    assert mine["safety_number"] == theirs["safety_number"]
    assert len(mine["safety_number"]) == 60 and mine["safety_number"].isdigit()
    assert mine["verified"] is False and mine["marked"] is False and mine["keys_changed"] is False
    assert set(mine) >= {"username", "state", "verified", "safety_number", "keys_changed_at"}

    human = cli.ok("verify", bob, "--profile", alice).out
    groups = [mine["safety_number"][i : i + 5] for i in range(0, 60, 5)]
    assert " ".join(groups[:4]) in human
    assert "not verified" in human


def test_marking_verified_with_the_number_they_read_out(cli: Cli) -> None:
    alice, bob = cli.create(), cli.create()
    number = cli.json("verify", alice, "--profile", bob)["safety_number"]
    spaced = " ".join(number[i : i + 5] for i in range(0, 60, 5))
    data = cli.json("verify", bob, "--profile", alice, "--number", spaced)
    assert data["verified"] is True and data["marked"] is True
    assert cli.json("verify", bob, "--profile", alice)["verified"] is True


def test_a_wrong_number_is_refused_with_exit_6(cli: Cli) -> None:
    alice, bob = cli.create(), cli.create()
    result = cli("verify", bob, "--profile", alice, "--number", "1" * 60)
    assert result.code == 6
    assert result.error_line == f"calpico: that is not the safety number with {bob}"
    assert cli.json("verify", bob, "--profile", alice)["verified"] is False


def test_mark_needs_a_confirmation_or_yes(cli: Cli) -> None:
    alice, bob = cli.create(), cli.create()
    result = cli("verify", bob, "--profile", alice, "--mark")
    assert result.code == 2
    assert "--yes" in result.error_line
    assert cli.json("verify", bob, "--profile", alice, "--mark", "--yes")["verified"] is True


def test_verify_an_unknown_user(cli: Cli) -> None:
    alice = cli.create()
    result = cli("verify", "nobody-here", "--profile", alice)
    assert result.code == 3
    assert result.error_line.startswith("calpico: server refused")
