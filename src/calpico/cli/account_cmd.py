"""``calpico account create|login|show``: make this device's account, sign in again, show who this is."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from calpico.client import Client
from calpico.client.conversations import Conversations
from calpico.client.events import ConversationAdded, InviteReceived, MessageRequestReceived

from .common import Env, JsonOpt, ProfileOpt
from .errors import UsageProblem
from .profiles import DEFAULT_SERVER, KeyMethod, ProfileSettings

__all__ = ["account_app", "link_this_device", "parse_suite"]

# How long a newly linked device waits for the Welcomes its other device sends (seconds).
_FIRST_WELCOME_WAIT = 10.0
_NEXT_WELCOME_WAIT = 3.0

account_app = typer.Typer(help="Create this device's account, sign in again, or show it.", no_args_is_help=True)

ServerOpt = Annotated[
    str, typer.Option("--server", "-s", envvar="CALPICO_SERVER", help="server URL, remembered in the profile")
]
KeyOpt = Annotated[
    KeyMethod,
    typer.Option("--key", envvar="CALPICO_KEY", help="how the store's key is unlocked: passphrase, keyring or file"),
]
KeyFileOpt = Annotated[Path | None, typer.Option("--key-file", help="key file for --key file [default: <profile>.key]")]
DeviceNameOpt = Annotated[str, typer.Option("--device-name", help="a name for this device, shown in `devices`")]


def parse_suite(text: str) -> int:
    """``1``, ``0x004D`` or ``77``: an MLS cipher suite id; raises `UsageProblem`."""
    try:
        return int(text, 0)
    except ValueError:
        raise UsageProblem(f"bad cipher suite {text!r}: give its number, e.g. 1 or 0x004D") from None


def _settings(env: Env, server: str, username: str, key: KeyMethod, key_file: Path | None) -> ProfileSettings:
    path = None
    if key is KeyMethod.FILE:
        path = str((key_file or env.profile.default_key_file).expanduser().absolute())
    elif key_file is not None:
        raise UsageProblem("--key-file goes with --key file")
    return ProfileSettings(server=server.rstrip("/"), username=username, key=key, key_file=path)


def _summary(env: Env, client: Client, settings: ProfileSettings) -> dict[str, Any]:
    return {
        "profile": env.profile.name,
        "username": client.username,
        "device_id": client.device_id,
        "server": settings.server,
        "key": settings.key.value,
        "store": str(env.profile.store_path),
    }


def _show(env: Env, data: dict[str, Any], title: str) -> None:
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column(style="dim")
    table.add_column()
    for name in ("username", "device_id", "server", "profile", "key", "store", "devices", "conversations"):
        if name in data:
            table.add_row(name.replace("_", " "), str(data[name]))
    env.out.print(table)


@account_app.command()
def create(
    ctx: typer.Context,
    username: Annotated[str, typer.Argument(help="the name others will reach you by")],
    server: ServerOpt = DEFAULT_SERVER,
    key: KeyOpt = KeyMethod.PASSPHRASE,
    key_file: KeyFileOpt = None,
    device_name: DeviceNameOpt = "",
    invite: Annotated[str | None, typer.Option(help="invite token, for a server with invite-only registration")] = None,
    suite: Annotated[str, typer.Option(help="MLS cipher suite of this device (0x004D: post-quantum X-Wing)")] = "1",
    profile: ProfileOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Register USERNAME on the server with this device, and keep it in the profile.

    Example: calpico account create alice --server http://127.0.0.1:8470
    """
    env = Env.of(ctx, profile, as_json)
    if env.profile.exists():
        raise UsageProblem(f"profile {env.profile.name!r} already has an account: use --profile NAME for another")
    settings = _settings(env, server, username, key, key_file)
    cipher_suite = parse_suite(suite)
    env.profile.ensure_home()
    source = env.profile.key_source(settings, creating=True)

    async def main() -> dict[str, Any]:
        client = await Client.create(
            settings.server,
            username,
            env.profile.store_path,
            source,
            device_name=device_name,
            invite=invite,
            cipher_suite=cipher_suite,
        )
        try:
            env.profile.save(settings)
            return _summary(env, client, settings)
        finally:
            await client.close()

    data = env.run(main)
    env.out.result(data, lambda: _show(env, data, f"Account created: {username}"))


@account_app.command()
def login(
    ctx: typer.Context,
    code: Annotated[
        str | None, typer.Option(help="one-time code from `calpico device link` on your other device (new device)")
    ] = None,
    server: ServerOpt = DEFAULT_SERVER,
    key: Annotated[
        KeyMethod | None,
        typer.Option(
            "--key", envvar="CALPICO_KEY", help="unlock method (new device), or move an existing profile to it"
        ),
    ] = None,
    key_file: KeyFileOpt = None,
    device_name: DeviceNameOpt = "",
    profile: ProfileOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Sign in: check that this profile's device can unlock its store and log in to its server.

    On a machine with no account yet, ``--code`` links it as a new device of an
    existing account (the same as ``calpico device link --code``). With ``--key``
    an existing profile moves its store key to that method (e.g. from a
    passphrase to the OS keyring).

    Example: calpico account login --key keyring
    """
    env = Env.of(ctx, profile, as_json)
    if not env.profile.exists():
        if code is None:
            raise UsageProblem(
                f"profile {env.profile.name!r} has no account: create one with `calpico account create USERNAME`,"
                " or link this machine with `--code` from `calpico device link` on another device"
            )
        link_this_device(env, code, server, key or KeyMethod.PASSPHRASE, key_file, device_name)
        return
    if code is not None:
        raise UsageProblem(f"profile {env.profile.name!r} already has an account; use --profile NAME to link another")
    settings = env.profile.load()
    moved = (
        None
        if key is None or key is settings.key
        else _settings(env, settings.server, settings.username, key, key_file)
    )
    new_source = None if moved is None else env.profile.key_source(moved, creating=True)

    async def main() -> dict[str, Any]:
        async with env.session() as s:
            answer = await s.client.transport.login()
            await s.client.contacts.sync()
            await s.client.replenish_key_packages(force=True)
            if new_source is not None and moved is not None:
                await s.client.store.rewrap(new_source)
                env.profile.save(moved)
            data = _summary(env, s.client, moved or settings)
            data["username"] = answer.username
            data["devices"] = len(await s.client.devices())
            data["conversations"] = len(await s.chats.all())
            return data

    data = env.run(main)
    env.out.result(data, lambda: _show(env, data, f"Signed in as {data['username']}"))


@account_app.command()
def show(ctx: typer.Context, profile: ProfileOpt = None, as_json: JsonOpt = False) -> None:
    """Show this profile's account without contacting the server.

    Example: calpico account show
    """
    env = Env.of(ctx, profile, as_json)
    settings = env.profile.load()
    data = {
        "profile": env.profile.name,
        "username": settings.username,
        "server": settings.server,
        "key": settings.key.value,
        "store": str(env.profile.store_path),
    }
    env.out.result(data, lambda: _show(env, data, f"Profile {env.profile.name}"))


def link_this_device(env: Env, code: str, server: str, key: KeyMethod, key_file: Path | None, device_name: str) -> None:
    """The NEW device's side of linking: take the code, wait to be added, remember the profile.

    The other device registers this one, then adds it to each conversation;
    the Welcomes arrive one by one, so this waits until none came for a
    few seconds (`_FIRST_WELCOME_WAIT` for the first).
    """
    settings = _settings(env, server, "", key, key_file)
    env.profile.ensure_home()
    source = env.profile.key_source(settings, creating=True)
    env.out.note("Waiting for your other device to add this one…")

    async def main() -> dict[str, Any]:
        client = await Conversations.link_new_device(
            settings.server, env.profile.store_path, source, code.strip(), device_name=device_name
        )
        try:
            final = ProfileSettings(settings.server, client.username, settings.key, settings.key_file)
            env.profile.save(final)
            chats = Conversations(client)
            events = client.events()
            await client.start()
            env.out.note(f"Linked as {client.username}; receiving your conversations…")
            wait = _FIRST_WELCOME_WAIT
            with contextlib.suppress(TimeoutError):
                while True:
                    event = await events.next(timeout=wait)
                    if isinstance(event, ConversationAdded | InviteReceived | MessageRequestReceived):
                        wait = _NEXT_WELCOME_WAIT
            data = _summary(env, client, final)
            data["conversations"] = len(await chats.all(None))
            return data
        finally:
            await client.close()

    data = env.run(main)
    env.out.result(data, lambda: _show(env, data, f"This device is now linked to {data['username']}"))
