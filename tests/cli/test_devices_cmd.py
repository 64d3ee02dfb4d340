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


def test_linking_a_second_device_with_a_one_time_code(cli: Cli) -> None:
    from .live import Piped
    from .test_conversations_cmd import eventually, texts

    alice, bob = cli.create(), cli.create()
    cli.ok("dm", bob, "before the laptop", "--profile", alice)
    cli.ok("requests", "accept", alice, "--profile", bob)

    existing = Piped(cli, "device", "link", "--json", "--profile", alice)
    try:
        offer = existing.out.expect_json(lambda e: e.get("event") == "link_offered")
        assert offer["code"] and offer["expires_at"] > 0
        linked = cli.json(
            "device", "link", "--code", offer["code"], "--server", cli.server_url, "--key", "file",
            "--device-name", "laptop", "--profile", "laptop",
        )  # fmt: skip
        assert linked["username"] == alice
        done = existing.out.expect_json(lambda e: e.get("event") == "device_linked")
        assert done["device_id"] == linked["device_id"]
        assert existing.wait() == 0
    finally:
        existing.kill()

    # It waited for its conversations (a few quiet seconds); under heavy load one may still be on its way.
    assert linked["conversations"] == 1 or eventually(
        lambda: len(cli.json("rooms", "--profile", "laptop")["conversations"]) == 1, "the laptop joining the DM"
    )
    devices = cli.json("devices", "--profile", "laptop")["devices"]
    assert len(devices) == 2
    assert [d["name"] for d in devices if d["this_device"]] == ["laptop"]
    # The new device is in the DM, and bob's message reaches both of alice's devices.
    cli.ok("dm", alice, "to both of your devices", "--profile", bob)
    for profile in (alice, "laptop"):
        assert eventually(lambda p=profile: "to both of your devices" in texts(cli, p, bob), f"{profile} reading it")
    # Others see alice as one person.
    (dm,) = cli.json("rooms", "--profile", bob)["conversations"]
    assert sorted(dm["members"]) == sorted([alice, bob])


def test_a_wrong_code_is_one_line(cli: Cli) -> None:
    result = cli("device", "link", "--code", "not-a-code", "--server", cli.server_url, "--key", "file")
    assert result.code == 2
    *progress, error = result.err.strip().splitlines()
    assert progress == ["Waiting for your other device to add this one…"]
    assert error == "calpico: not a device-link code (expected username:link:secret)"
    assert not (cli.home / "default.json").exists()
    assert not (cli.home / "default.db").exists()
