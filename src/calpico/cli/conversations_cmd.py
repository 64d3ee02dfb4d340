"""``calpico dm``, ``rooms``, ``room ...``, ``send``, ``history``: conversations and their messages.

A CONVERSATION argument is a room's name, the other person of a DM, or a
conversation id (a unique prefix of at least four characters will do);
``#name`` and ``@user`` say which kind is meant.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import typer
from rich.table import Table

from calpico.client import AssistantMember
from calpico.client.store import Conversation, ConversationKind, ConversationStatus, Message
from calpico.wire.app import AssistantPolicy

from .common import Env, JsonOpt, KnownAssistants, ProfileOpt, Session, label, resolve_conversation
from .errors import Refused, UsageProblem
from .views import conversation_json, message_json, message_line, person, when

__all__ = ["dm", "history", "room_app", "rooms", "send"]

room_app = typer.Typer(help="Create a room, invite or remove people, leave, rename.", no_args_is_help=True)
ConversationArg = Annotated[str, typer.Argument(help="room name, username (for a DM) or conversation id")]
RoomArg = Annotated[str, typer.Argument(help="room name or id")]
LimitOpt = Annotated[int, typer.Option("--limit", "-n", help="how many messages", min=1, max=1000)]


async def _conversation_data(s: Session, c: Conversation) -> dict[str, Any]:
    data = conversation_json(c)
    if c.status is not ConversationStatus.LEFT:
        members = await s.chats.members(c.id)
        data["members"] = [p.username for p in members]
        data["admins"] = [p.username for p in members if p.admin]
    else:
        data["members"], data["admins"] = [], []
    return data


async def _send(s: Session, c: Conversation, text: str, reply_to: str | None = None) -> dict[str, Any]:
    """Send ``text`` and push it out now; raises `Refused` if it cannot reach anyone or the server refused it."""
    if (
        c.kind is ConversationKind.DM
        and c.peer is not None
        and c.peer not in {p.username for p in await s.chats.members(c.id)}
    ):
        raise Refused(f"{c.peer} is no longer in this DM (they left or declined it)")
    sent = await s.chats.send_text(c.id, text, reply_to=reply_to)
    await s.client.flush_outbox()
    stored = await s.chats.message(c.id, sent.message_id)
    if stored.seq is None and not await s.client.store.outbox():
        # It left the outbox without a place in the server's log: the server refused it for good.
        raise Refused("the server did not accept the message (the conversation changed meanwhile); send it again")
    return message_json(stored)


def _print_sent(env: Env, where: str, message: dict[str, Any]) -> None:
    if message["seq"] is None:
        env.out.print(f"Queued for {where}: the server did not take it yet; it is sent by the next calpico command.")
    else:
        env.out.print(f"Sent to [bold]{where}[/].")


def _print_history(
    env: Env, title: str, messages: list[Message], me: str, assistants: dict[str, AssistantMember]
) -> None:
    env.out.print(f"[bold]{title}[/]")
    if not messages:
        env.out.print("[dim]no messages yet[/]")
    for m in messages:
        env.out.print(message_line(m, me=me, assistants=assistants))


def dm(
    ctx: typer.Context,
    user: Annotated[str, typer.Argument(help="the person to write to")],
    text: Annotated[str | None, typer.Argument(help="a message to send (leave out to see the DM)")] = None,
    limit: LimitOpt = 20,
    profile: ProfileOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Start (or open) the DM with USER; send TEXT if given, else show its latest messages.

    Example: calpico dm bob "lunch at noon?"
    """
    env = Env.of(ctx, profile, as_json)

    async def main() -> tuple[dict[str, Any], list[Message], str, dict[str, AssistantMember]]:
        async with env.session(offline_ok=True) as s:
            c = await s.chats.start_dm(user)
            data: dict[str, Any] = {"conversation": conversation_json(c), "message": None}
            if text is not None:
                data["message"] = await _send(s, c, text)
                return data, [], s.client.username, {}
            history = await s.chats.messages(c.id, limit=limit)
            assistants = await KnownAssistants(s.chats).of(c.id)
            data["messages"] = [message_json(m, assistants) for m in history]
            return data, history, s.client.username, assistants

    data, history, me, assistants = env.run(main)

    def human() -> None:
        if data["message"] is not None:
            _print_sent(env, f"@{user}", data["message"])
        else:
            _print_history(env, f"DM with {user}", history, me, assistants)

    env.out.result(data, human)


def rooms(
    ctx: typer.Context,
    all_: Annotated[bool, typer.Option("--all", help="include conversations you left")] = False,
    profile: ProfileOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List your conversations (rooms and DMs), most recent first.

    Example: calpico rooms
    """
    env = Env.of(ctx, profile, as_json)

    async def main() -> tuple[list[dict[str, Any]], int]:
        async with env.session(offline_ok=True) as s:
            found = await s.chats.all(None if all_ else ConversationStatus.ACCEPTED)
            rows = [await _conversation_data(s, c) for c in found]
            return rows, len(await s.chats.requests())

    rows, waiting = env.run(main)

    def human() -> None:
        if not rows:
            env.out.print("No conversations yet: `calpico dm USER TEXT` or `calpico room create NAME USER...`.")
        else:
            table = Table(title="Conversations", title_justify="left")
            for column in ("id", "name", "members", "last activity"):
                table.add_column(column)
            for r in rows:
                name = f"@{r['peer']}" if r["kind"] == ConversationKind.DM.value else f"#{r['name']}"
                if r["status"] == ConversationStatus.LEFT.value:
                    name += " [dim](left)[/]"
                table.add_row(r["id"][:8], name, ", ".join(r["members"]), when(r["updated_at"]))
            env.out.print(table)
        if waiting:
            env.out.note(f"{waiting} request(s) waiting: `calpico requests`")

    env.out.result({"conversations": rows, "requests": waiting}, human)


@room_app.command()
def create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="the room's name")],
    members: Annotated[list[str] | None, typer.Argument(help="people to add")] = None,
    topic: Annotated[str, typer.Option(help="what the room is about")] = "",
    approval: Annotated[
        bool, typer.Option("--approval", help="assistants join only when an admin approves them")
    ] = False,
    no_assistants: Annotated[bool, typer.Option("--no-assistants", help="no AI assistants in this room")] = False,
    profile: ProfileOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a room with people in it (you are its admin).

    Example: calpico room create plans bob carol --approval
    """
    env = Env.of(ctx, profile, as_json)
    if approval and no_assistants:
        raise UsageProblem("--approval and --no-assistants do not go together: a room without assistants approves none")
    policy = AssistantPolicy.NONE if no_assistants else AssistantPolicy.MENTION

    async def main() -> dict[str, Any]:
        async with env.session() as s:
            c = await s.chats.create_room(
                name, list(members or ()), topic=topic, assistant_policy=policy, assistant_approval=approval
            )
            data = await _conversation_data(s, c)
            data.update(await _assistant_data(s, c))
            return data

    data = env.run(main)

    def human() -> None:
        env.out.print(f"Created [bold]#{name}[/] with {', '.join(map(person, data['members']))}.")
        if no_assistants or approval:
            env.out.print(f"Assistants: {_policy_text(data)}.")

    env.out.result(data, human)


async def _assistant_data(s: Session, c: Conversation) -> dict[str, Any]:
    """The room's assistant policy and the assistant members present, as every member's device sees them."""
    settings = await s.chats.settings(c.id)
    present = await s.chats.assistants(c.id)
    return {
        "assistant_policy": settings.assistant_policy.value,
        "assistant_approval": settings.assistant_approval,
        "assistants": [
            {"device_id": a.device_id, "owner": a.owner, "shown_as": a.display_name, "verified": a.verified}
            for a in present
        ],
    }


def _change_room(env: Env, room: str, change: Callable[[Session, str], Awaitable[object]]) -> dict[str, Any]:
    """Find ``room``, apply ``change(session, conversation_id)``, return the room as it is afterwards."""

    async def main() -> dict[str, Any]:
        async with env.session() as s:
            c = await resolve_conversation(s.chats, room, me=s.client.username)
            await change(s, c.id)
            return await _conversation_data(s, await s.chats.get(c.id))

    return env.run(main)


async def _invite_all(s: Session, conversation_id: str, users: list[str]) -> None:
    for user in users:
        await s.chats.invite(conversation_id, user)


def _policy_text(data: dict[str, Any]) -> str:
    if data["assistant_policy"] == AssistantPolicy.NONE.value:
        return "not allowed here"
    when = "also on their own" if data["assistant_policy"] == AssistantPolicy.AUTO.value else "only when mentioned"
    approval = ", and only once an admin approves them" if data["assistant_approval"] else ""
    return f"they answer {when}{approval}"


@room_app.command()
def invite(
    ctx: typer.Context,
    room: RoomArg,
    users: Annotated[list[str], typer.Argument(help="people to add")],
    profile: ProfileOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Add people (all their devices) to a room; admins only.

    Example: calpico room invite plans dave
    """
    env = Env.of(ctx, profile, as_json)
    data = _change_room(env, room, lambda s, cid: _invite_all(s, cid, users))
    env.out.result(data, lambda: env.out.print(f"Invited {', '.join(map(person, users))} to [bold]#{data['name']}[/]."))


@room_app.command()
def remove(
    ctx: typer.Context,
    room: RoomArg,
    user: Annotated[str, typer.Argument(help="the person to remove")],
    profile: ProfileOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Remove a person (all their devices) from a room; admins only.

    Example: calpico room remove plans dave
    """
    env = Env.of(ctx, profile, as_json)
    data = _change_room(env, room, lambda s, cid: s.chats.remove(cid, user))
    env.out.result(data, lambda: env.out.print(f"Removed {person(user)} from [bold]#{data['name']}[/]."))


@room_app.command()
def leave(ctx: typer.Context, room: ConversationArg, profile: ProfileOpt = None, as_json: JsonOpt = False) -> None:
    """Leave a room (or DM); another member's device completes it even if you go offline at once.

    Example: calpico room leave plans
    """
    env = Env.of(ctx, profile, as_json)

    async def main() -> dict[str, Any]:
        async with env.session() as s:
            c = await resolve_conversation(s.chats, room, me=s.client.username)
            await s.chats.leave(c.id)
            return conversation_json(await s.chats.get(c.id))

    data = env.run(main)
    env.out.result(data, lambda: env.out.print(f"Left {label_of(data)}."))


@room_app.command()
def rename(
    ctx: typer.Context,
    room: RoomArg,
    new_name: Annotated[str, typer.Argument(help="the new name")],
    profile: ProfileOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Rename a room; admins only.

    Example: calpico room rename plans "summer plans"
    """
    env = Env.of(ctx, profile, as_json)
    data = _change_room(env, room, lambda s, cid: s.chats.rename(cid, new_name))
    env.out.result(data, lambda: env.out.print(f"Renamed the room to [bold]#{data['name']}[/]."))


@room_app.command()
def show(ctx: typer.Context, room: ConversationArg, profile: ProfileOpt = None, as_json: JsonOpt = False) -> None:
    """Show a conversation: its members, admins and settings.

    Example: calpico room show plans
    """
    env = Env.of(ctx, profile, as_json)

    async def main() -> dict[str, Any]:
        async with env.session() as s:
            c = await resolve_conversation(s.chats, room, me=s.client.username)
            data = await _conversation_data(s, c)
            if c.status is not ConversationStatus.LEFT:
                settings = await s.chats.settings(c.id)
                data["topic"] = settings.topic
                data.update(await _assistant_data(s, c))
            return data

    data = env.run(main)

    def human() -> None:
        table = Table(title=label_of(data), show_header=False, title_justify="left")
        table.add_column(style="dim")
        table.add_column()
        table.add_row("id", data["id"])
        table.add_row("kind", data["kind"])
        table.add_row("status", data["status"])
        if data.get("topic"):
            table.add_row("topic", data["topic"])
        admins = set(data["admins"])
        table.add_row("members", ", ".join(person(m) + (" (admin)" if m in admins else "") for m in data["members"]))
        if data["disappearing_seconds"]:
            table.add_row("disappearing", f"{data['disappearing_seconds']}s")
        if "assistant_policy" in data:
            table.add_row("assistants", _policy_text(data))
            for a in data["assistants"]:
                table.add_row("", a["shown_as"] + ("" if a["verified"] else " — no verified card yet"))
        env.out.print(table)

    env.out.result(data, human)


@room_app.command()
def timer(
    ctx: typer.Context,
    room: ConversationArg,
    seconds: Annotated[int, typer.Argument(help="messages disappear this long after sending; 0 turns it off", min=0)],
    profile: ProfileOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Set the disappearing-messages timer of a conversation (every device enforces it).

    Example: calpico room timer plans 3600
    """
    env = Env.of(ctx, profile, as_json)

    async def main() -> dict[str, Any]:
        async with env.session() as s:
            c = await resolve_conversation(s.chats, room, me=s.client.username)
            await s.chats.set_disappearing_timer(c.id, seconds)
            return conversation_json(await s.chats.get(c.id))

    data = env.run(main)
    env.out.result(data, lambda: env.out.print(f"Disappearing messages in {label_of(data)}: {seconds or 'off'}"))


def label_of(data: dict[str, Any]) -> str:
    return f"@{data['peer']}" if data["kind"] == ConversationKind.DM.value else f"#{data['name']}"


def send(
    ctx: typer.Context,
    conversation: ConversationArg,
    text: Annotated[str, typer.Argument(help="the message")],
    reply_to: Annotated[str | None, typer.Option("--reply-to", help="id of the message this answers")] = None,
    profile: ProfileOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Send a message to a conversation (a room, or the DM with a person).

    Example: calpico send plans "see you at 8"
    """
    env = Env.of(ctx, profile, as_json)

    async def main() -> tuple[dict[str, Any], str]:
        async with env.session(offline_ok=True) as s:
            c = await resolve_conversation(s.chats, conversation, me=s.client.username)
            return await _send(s, c, text, reply_to), label(c, s.client.username)

    data, where = env.run(main)
    env.out.result(data, lambda: _print_sent(env, where, data))


def history(
    ctx: typer.Context,
    conversation: ConversationArg,
    limit: LimitOpt = 20,
    profile: ProfileOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show the latest messages of a conversation (after fetching what arrived).

    Example: calpico history plans -n 50
    """
    env = Env.of(ctx, profile, as_json)

    async def main() -> tuple[list[Message], str, str, dict[str, AssistantMember]]:
        async with env.session(offline_ok=True) as s:
            c = await resolve_conversation(s.chats, conversation, me=s.client.username)
            messages = await s.chats.messages(c.id, limit=limit)
            assistants = await KnownAssistants(s.chats).of(c.id)
            return messages, label(c, s.client.username), s.client.username, assistants

    messages, where, me, assistants = env.run(main)
    env.out.result(
        {"messages": [message_json(m, assistants) for m in messages]},
        lambda: _print_history(env, where, messages, me, assistants),
    )
