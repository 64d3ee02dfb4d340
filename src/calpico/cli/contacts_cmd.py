"""``calpico requests``, ``block|unblock USER``, ``verify USER``: who may reach you, and who they are."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer
from rich.panel import Panel
from rich.table import Table

from calpico.client.store import ConversationKind

from .common import Env, JsonOpt, ProfileOpt, resolve_conversation
from .errors import UsageProblem
from .views import contact_json, conversation_json, person, safety_number_text, when

__all__ = ["block", "requests_app", "unblock", "verify"]

requests_app = typer.Typer(
    help="Conversations from people you have not accepted: list, accept, decline.", no_args_is_help=False
)
RequestArg = Annotated[str, typer.Argument(help="the request: the person's username, the room's name, or an id")]


@requests_app.callback(invoke_without_command=True)
def requests(ctx: typer.Context, profile: ProfileOpt = None, as_json: JsonOpt = False) -> None:
    """List waiting requests (DMs and room invites from people you have not accepted).

    Example: calpico requests
    """
    if ctx.invoked_subcommand is not None:
        return
    env = Env.of(ctx, profile, as_json)

    async def main() -> list[dict[str, Any]]:
        async with env.session() as s:
            out = []
            for c in await s.chats.requests():
                row = conversation_json(c)
                row["members"] = [p.username for p in await s.chats.members(c.id)]
                out.append(row)
            return out

    rows = env.run(main)

    def human() -> None:
        if not rows:
            env.out.print("No requests.")
            return
        table = Table(title="Requests", title_justify="left")
        for column in ("id", "what", "members", "since"):
            table.add_column(column)
        for r in rows:
            what = f"DM from {person(r['peer'] or '?')}" if r["kind"] == "dm" else f"invite to [bold]#{r['name']}[/]"
            table.add_row(r["id"][:8], what, ", ".join(r["members"]), when(r["updated_at"]))
        env.out.print(table)
        env.out.note(
            "Accept with `calpico requests accept NAME`, decline with `calpico requests decline NAME [--block]`."
        )

    env.out.result({"requests": rows}, human)


@requests_app.command()
def accept(ctx: typer.Context, request: RequestArg, profile: ProfileOpt = None, as_json: JsonOpt = False) -> None:
    """Accept a request: the conversation joins your list and its sender becomes a contact.

    Example: calpico requests accept bob
    """
    env = Env.of(ctx, profile, as_json)

    async def main() -> dict[str, Any]:
        async with env.session() as s:
            pending = await s.chats.requests()
            c = await resolve_conversation(s.chats, request, me=s.client.username, pool=pending)
            return conversation_json(await s.chats.accept(c.id))

    data = env.run(main)
    env.out.result(data, lambda: env.out.print(f"Accepted {_name(data)}."))


@requests_app.command()
def decline(
    ctx: typer.Context,
    request: RequestArg,
    block: Annotated[bool, typer.Option("--block", help="also block the person who sent it")] = False,
    profile: ProfileOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Decline a request: leave that conversation (and with --block, block its sender).

    Example: calpico requests decline mallory --block
    """
    env = Env.of(ctx, profile, as_json)

    async def main() -> dict[str, Any]:
        async with env.session() as s:
            pending = await s.chats.requests()
            c = await resolve_conversation(s.chats, request, me=s.client.username, pool=pending)
            await s.chats.decline(c.id, block=block)
            data = conversation_json(c)
            data["status"] = "declined"
            data["blocked"] = block
            return data

    data = env.run(main)
    env.out.result(data, lambda: env.out.print(f"Declined {_name(data)}{' and blocked the sender' if block else ''}."))


def _name(data: dict[str, Any]) -> str:
    return f"the DM from @{data['peer']}" if data["kind"] == ConversationKind.DM.value else f"#{data['name']}"


UserArg = Annotated[str, typer.Argument(help="username")]


def block(ctx: typer.Context, user: UserArg, profile: ProfileOpt = None, as_json: JsonOpt = False) -> None:
    """Block a person: they cannot start conversations with you or add you; their messages are hidden.

    Example: calpico block mallory
    """
    env = Env.of(ctx, profile, as_json)

    async def main() -> dict[str, Any]:
        async with env.session() as s:
            return contact_json(await s.chats.block(user))

    data = env.run(main)
    env.out.result(data, lambda: env.out.print(f"Blocked {person(user)}."))


def unblock(ctx: typer.Context, user: UserArg, profile: ProfileOpt = None, as_json: JsonOpt = False) -> None:
    """Unblock a person.

    Example: calpico unblock mallory
    """
    env = Env.of(ctx, profile, as_json)

    async def main() -> dict[str, Any]:
        async with env.session() as s:
            return contact_json(await s.chats.unblock(user))

    data = env.run(main)
    env.out.result(data, lambda: env.out.print(f"Unblocked {person(user)}."))


def verify(
    ctx: typer.Context,
    user: UserArg,
    mark: Annotated[bool, typer.Option("--mark", help="mark the number shown as verified (asks first)")] = False,
    number: Annotated[
        str | None, typer.Option("--number", help="mark verified if this is the safety number (no question asked)")
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="with --mark: do not ask")] = False,
    profile: ProfileOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show the safety number you share with USER; compare it with theirs, then mark it verified.

    The number covers both people's device keys: it changes when either adds,
    removes or replaces a device, and a verified person then needs comparing again.

    Example: calpico verify bob            (show it)
             calpico verify bob --mark     (you compared it: record that)
    """
    env = Env.of(ctx, profile, as_json)
    if mark and number is not None:
        raise UsageProblem("give either --mark or --number, not both")

    def confirm(shown: str) -> bool:
        if yes:
            return True
        if not sys.stdin.isatty():
            raise UsageProblem("--mark asks for confirmation: add --yes, or give the number with --number")
        env.out.print(Panel.fit(safety_number_text(shown), title=f"Safety number with {user}"))
        return typer.confirm(f"Does {user}'s device show exactly this number?", default=False)

    async def main() -> dict[str, Any]:
        async with env.session(catch_up=False) as s:
            check = await s.client.check_contact_keys(user)
            current = check.contact.safety_number or await s.chats.safety_number(user)
            contact = check.contact
            marked = False
            if number is not None:
                contact = await s.chats.verify(user, number)
                marked = True
            elif mark and confirm(current):
                contact = await s.chats.verify(user, current)
                marked = True
            data = contact_json(contact)
            data["safety_number"] = current
            data["keys_changed"] = check.their_keys_changed
            data["marked"] = marked
            return data

    data = env.run(main)

    def human() -> None:
        if data["keys_changed"]:
            env.out.print(f"[bold red]{user}'s keys changed since you last looked: compare the number again.[/]")
        status = "[green]verified[/]" if data["verified"] else "[yellow]not verified[/]"
        env.out.print(
            Panel.fit(safety_number_text(data["safety_number"]), title=f"Safety number with {user}", subtitle=status)
        )
        if data["marked"]:
            env.out.print(f"Marked {person(user)} as verified.")
        elif not data["verified"]:
            env.out.note(f"Compare it with {user} (in person or by call), then: calpico verify {user} --mark")

    env.out.result(data, human)
