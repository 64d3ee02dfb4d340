"""``calpico devices`` and ``calpico device revoke``."""

from __future__ import annotations

from .conftest import Cli


def test_devices_lists_this_device(cli: Cli) -> None:
    alice = cli.create()
    me = cli.json("account", "show", "--profile", alice)
    data = cli.json("devices", "--profile", alice)
    (device,) = data["devices"]
    assert set(device) == {"device_id", "name", "cipher_suite", "created_at", "this_device"}
    assert device["this_device"] is True and device["cipher_suite"] == 1
    assert device["device_id"] == cli.json("account", "login", "--profile", alice)["device_id"]
    assert me["username"] == alice
    assert "← this one" in cli.ok("devices", "--profile", alice).out


def test_revoking_an_unknown_device(cli: Cli) -> None:
    alice = cli.create()
    result = cli("device", "revoke", "no-such-device", "--profile", alice)
    assert result.code == 2
    assert "no single device matches" in result.error_line
