"""``calpico devices`` and ``calpico device link|revoke``: this person's devices, and linking a new one.

Linking takes two devices and one code:

1. on a device that already has the account: ``calpico device link`` prints a
   one-time code and waits;
2. on the new machine: ``calpico device link --code CODE --server URL``
   (or ``calpico account login --code ...``);
3. the existing device registers the new one and adds it to every
   conversation; both commands then finish.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.panel import Panel
from rich.table import Table

from .account_cmd import DeviceNameOpt, KeyFileOpt, ServerOpt, link_this_device
from .common import Env, JsonOpt, ProfileOpt
from .errors import CliError, UsageProblem
from .profiles import DEFAULT_SERVER, KeyMethod
from .views import device_json, when

__all__ = ["device_app", "devices"]

device_app = typer.Typer(help="Link a new device to your account, or revoke one.", no_args_is_help=True)


def devices(ctx: typer.Context, profile: ProfileOpt = None, as_json: JsonOpt = False) -> None:
    """List your devices (each one holds its own keys; others see them as one person).

    Example: calpico devices
    """
    env = Env.of(ctx, profile, as_json)

    async def main() -> tuple[list[dict[str, Any]], str]:
        async with env.session(catch_up=False) as s:
            mine = s.client.device_id
            return [device_json(d, mine) for d in await s.client.devices()], s.client.username

    rows, username = env.run(main)

    def human() -> None:
        table = Table(title=f"Devices of {username}", title_justify="left")
        for column in ("device", "name", "added", ""):
            table.add_column(column)
        for d in rows:
            table.add_row(
                d["device_id"], d["name"] or "-", when(d["created_at"]), "← this one" if d["this_device"] else ""
            )
        env.out.print(table)

    env.out.result({"devices": rows}, human)


@device_app.command()
def link(
    ctx: typer.Context,
    code: Annotated[str | None, typer.Option(help="on the NEW device: the code your other device showed")] = None,
    server: ServerOpt = DEFAULT_SERVER,
    key: Annotated[KeyMethod, typer.Option("--key", envvar="CALPICO_KEY", help="new device: unlock method")] = (
        KeyMethod.PASSPHRASE
    ),
    key_file: KeyFileOpt = None,
    device_name: DeviceNameOpt = "",
    timeout: Annotated[float, typer.Option(help="seconds to wait for the other device")] = 300.0,
    profile: ProfileOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Link a new device with a one-time code: run it on both devices.

    On a device that has the account, it prints a code and waits for the new
    device; on the new device, give that code with --code (and --server).
    With --json the existing side prints two JSON lines: the offer, then the result.

    Example: calpico device link              (existing device: prints a code)
             calpico device link --code alice:Xa9…:Qm3… --server http://host:8470 --profile laptop
    """
    env = Env.of(ctx, profile, as_json)
    if code is not None:
        if env.profile.exists():
            raise UsageProblem(
                f"profile {env.profile.name!r} already has an account; link the new device under another --profile"
            )
        link_this_device(env, code, server, key, key_file, device_name)
        return

    async def main() -> dict[str, Any]:
        async with env.session() as s:
            offer = await s.chats.offer_link(ttl=timeout)
            if env.out.as_json:
                env.out.json({"event": "link_offered", "code": offer.code, "expires_at": offer.expires_at})
            else:
                env.out.print(
                    Panel.fit(
                        f"[bold]{offer.code}[/]\n\n[dim]On the new device run:[/]\n"
                        f"calpico device link --code {offer.code} --server {s.settings.server}",
                        title="One-time code",
                    )
                )
                env.out.note("Waiting for the new device… (Ctrl-C to cancel)")
            try:
                device_id = await s.chats.complete_link(offer, timeout=timeout)
            except TimeoutError:
                raise CliError(f"no new device answered within {timeout:g}s; run `calpico device link` again") from None
            count = len(await s.chats.all())
            return {"event": "device_linked", "device_id": device_id, "conversations": count}

    data = env.run(main)
    env.out.result(
        data,
        lambda: env.out.print(
            f"Linked device [bold]{data['device_id']}[/] and added it to {data['conversations']} conversations."
        ),
    )


@device_app.command()
def revoke(
    ctx: typer.Context,
    device_id: Annotated[str, typer.Argument(help="the device to revoke (see `calpico devices`)")],
    profile: ProfileOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Revoke one of your devices: it can no longer sign in or receive messages.

    Example: calpico device revoke 4c1d9f2e
    """
    env = Env.of(ctx, profile, as_json)

    async def main() -> dict[str, Any]:
        async with env.session(catch_up=False) as s:
            known = [d.device_id for d in await s.client.devices()]
            matches = [d for d in known if d == device_id] or [d for d in known if d.startswith(device_id)]
            if len(matches) != 1:
                raise UsageProblem(f"no single device matches {device_id!r} (see `calpico devices`)")
            await s.client.revoke_device(matches[0])
            return {"revoked": matches[0], "this_device": matches[0] == s.client.device_id}

    data = env.run(main)
    env.out.result(data, lambda: env.out.print(f"Revoked device [bold]{data['revoked']}[/]."))
