"""``calpico assistant ...`` and ``calpico share``: your AI assistant as a member of your conversations.

An assistant is a device of your account with its own keys and store,
shown to everyone as "Pico (alice's assistant)" with a card this device
signs. Its store lives beside your profile (``<profile>.assistant-<name>.db``,
unlocked by the key file next to it), so ``calpico assistant serve`` can run
it unattended here or, with those two files copied, on a host you run.
See docs/assistant.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import re
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from calpico.assistant import (
    AssistantRuntime,
    Assistants,
    AssistantState,
    OpenAICompatibleProvider,
    ProviderSettings,
    RuntimeOptions,
    WebSearch,
    describe_card,
    where_it_runs,
)
from calpico.client import Client, KeyFile
from calpico.wire.app import AssistantCard, AssistantMode, AssistantPolicy, InferenceLocation

from .common import Env, JsonOpt, ProfileOpt, resolve_conversation
from .errors import UsageProblem

__all__ = ["assistant_app", "share"]

assistant_app = typer.Typer(
    help="Your AI assistant: create it, change its card, add it to conversations, run it.", no_args_is_help=True
)
ConversationArg = Annotated[str, typer.Argument(help="room name, username (for a DM) or conversation id")]
AssistantOpt = Annotated[str | None, typer.Option("--assistant", "-a", help="which of your assistants (by name)")]
KEY_ENV = "CALPICO_ASSISTANT_API_KEY"


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9_-]+", "-", name.lower()).strip("-")[:32] or "assistant"


def _paths(env: Env, name: str) -> tuple[Path, Path]:
    base = f"{env.profile.name}.assistant-{_slug(name)}"
    return env.profile.home / f"{base}.db", env.profile.home / f"{base}.key"


def _card_json(card: AssistantCard) -> dict[str, Any]:
    data = card.model_dump(mode="json", exclude={"signature", "assistant_key"})
    data["shown_as"] = f"{card.name} ({card.owner}'s assistant)"
    data["runs"] = where_it_runs(card)
    return data


def _print_card(env: Env, entry: dict[str, Any]) -> None:
    """One assistant's card, field by field (what every member of its conversations is shown)."""
    mark = "[green]verified[/]" if entry["verified"] else "[red]unverified: no card accepted yet[/]"
    env.out.print(f"[bold]{entry['shown_as']}[/]  {mark}")
    if "model" not in entry:
        return
    rows = (
        ("personality", entry["personality"] or "(none given)"),
        ("model", entry["model"]),
        ("provider", entry["provider"]),
        ("inference", f"runs {entry['runs']}"),
        ("retention", entry["retention"] or "(not stated)"),
        ("card", f"revision {entry['revision']}, signed by {entry['owner']}'s device {entry['signer_device'][:8]}"),
    )
    for name, value in rows:
        env.out.print(f"  [dim]{name:<12}[/]{escape(str(value))}")


def _provider(
    base_url: str | None, model: str | None, api_key_env: str, image_model: str, inference: str, host: str
) -> ProviderSettings | None:
    if base_url is None and model is None:
        return None
    if not base_url or not model:
        raise UsageProblem("give both --base-url and --model (or neither, for no provider yet)")
    try:
        where = InferenceLocation(inference)
    except ValueError:
        raise UsageProblem(f"--inference must be one of {', '.join(i.value for i in InferenceLocation)}") from None
    return ProviderSettings(
        base_url=base_url,
        model=model,
        api_key=os.environ.get(api_key_env, ""),
        image_model=image_model,
        inference=where,
        host=host,
    )


BaseUrlOpt = Annotated[
    str | None, typer.Option("--base-url", help="an OpenAI-compatible endpoint, e.g. http://gpu.lan:8000/v1")
]
ModelOpt = Annotated[str | None, typer.Option("--model", help="the model name at that endpoint")]
KeyEnvOpt = Annotated[str, typer.Option("--api-key-env", help="environment variable holding the API key")]
InferenceOpt = Annotated[
    str, typer.Option("--inference", help="where inference runs: on_device, self_hosted or third_party")
]


@assistant_app.command()
def create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="its name, e.g. Pico")],
    personality: Annotated[str, typer.Option("--personality", help="how it should come across")] = "",
    base_url: BaseUrlOpt = None,
    model: ModelOpt = None,
    api_key_env: KeyEnvOpt = KEY_ENV,
    image_model: Annotated[str, typer.Option("--image-model", help="model for images (if the endpoint has one)")] = "",
    inference: InferenceOpt = "self_hosted",
    host: Annotated[str, typer.Option("--host", help="the name to show for where it runs")] = "",
    retention: Annotated[str, typer.Option("--retention", help="what it keeps, as its card says")] = "",
    profile: ProfileOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Create your assistant: a device of its own, its signed card, and your private chat with it.

    Example: calpico assistant create Pico --base-url http://127.0.0.1:11434/v1 --model llama3.1
    """
    env = Env.of(ctx, profile, as_json)
    settings = _provider(base_url, model, api_key_env, image_model, inference, host)
    path, key_path = _paths(env, name)
    if path.exists():
        raise UsageProblem(f"you already have an assistant called {name} ({path})")

    async def main() -> dict[str, Any]:
        async with env.session() as s:
            options: dict[str, Any] = {"retention": retention} if retention else {}
            made = await Assistants(s.chats).create(
                name, path=path, key=KeyFile(key_path), personality=personality, provider=settings, **options
            )
            await made.client.close()
            card = made.owned.signed_card
            return {
                "card": _card_json(card),
                "line": describe_card(card),
                "store": str(path),
                "chat": made.owned.chat_id,
            }

    data = env.run(main)

    def human() -> None:
        env.out.print(f"Created [bold]{data['card']['shown_as']}[/]: {data['line']}")
        env.out.print(
            f"Run it: [bold]calpico assistant serve --assistant {name}[/]; talk to it: calpico send {name} ..."
        )

    env.out.result(data, human)


async def _update(env: Env, assistant: str | None, **changes: Any) -> AssistantCard:
    async with env.session() as s:
        return await Assistants(s.chats).update_card(assistant, **changes)


def _show_card(env: Env, card: AssistantCard, what: str) -> None:
    env.out.result(
        {"card": _card_json(card)},
        lambda: env.out.print(f"{what}: every conversation it is in shows the new card. {describe_card(card)}"),
    )


@assistant_app.command()
def rename(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="its new name")],
    assistant: AssistantOpt = None,
    profile: ProfileOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Rename your assistant (a new signed card, with a notice in every conversation it is in)."""
    env = Env.of(ctx, profile, as_json)
    _show_card(env, env.run(lambda: _update(env, assistant, name=name)), "Renamed")


@assistant_app.command()
def personality(
    ctx: typer.Context,
    text: Annotated[str, typer.Argument(help="its new personality")],
    assistant: AssistantOpt = None,
    profile: ProfileOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Change your assistant's personality (shown on its card to everyone)."""
    env = Env.of(ctx, profile, as_json)
    _show_card(env, env.run(lambda: _update(env, assistant, personality=text)), "Personality changed")


@assistant_app.command()
def card(
    ctx: typer.Context,
    conversation: Annotated[str | None, typer.Argument(help="show the assistants of this conversation")] = None,
    profile: ProfileOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show your assistants' cards, or the assistants in CONVERSATION with their verified cards."""
    env = Env.of(ctx, profile, as_json)

    async def main() -> list[dict[str, Any]]:
        async with env.session() as s:
            if conversation is None:
                return [
                    {
                        "device_id": a.device_id,
                        "verified": True,
                        **_card_json(a.signed_card),
                        "line": describe_card(a.signed_card),
                    }
                    for a in await Assistants(s.chats).all()
                ]
            c = await resolve_conversation(s.chats, conversation, me=s.client.username)
            out = []
            for member in await s.chats.assistants(c.id):
                entry: dict[str, Any] = {
                    "device_id": member.device_id,
                    "owner": member.owner,
                    "verified": member.verified,
                }
                entry["shown_as"] = member.display_name
                if member.card is not None:
                    entry.update(_card_json(member.card), line=describe_card(member.card))
                out.append(entry)
            return out

    cards = env.run(main)

    def human() -> None:
        if not cards:
            env.out.print("[dim]no assistants[/]")
        for entry in cards:
            _print_card(env, entry)

    env.out.result({"assistants": cards}, human)


@assistant_app.command()
def add(
    ctx: typer.Context,
    conversation: ConversationArg,
    assistant: AssistantOpt = None,
    mode: Annotated[str, typer.Option("--mode", help="when it speaks here: mention, auto or off")] = "mention",
    instructions: Annotated[str | None, typer.Option("--instructions", help="custom instructions for here")] = None,
    profile: ProfileOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Add your assistant to a conversation (in rooms that require it, this asks the admins instead)."""
    env = Env.of(ctx, profile, as_json)
    when = _mode(mode)

    async def main() -> bool:
        async with env.session() as s:
            c = await resolve_conversation(s.chats, conversation, me=s.client.username)
            return await Assistants(s.chats).add(c.id, assistant, mode=when, instructions=instructions)

    added = env.run(main)
    env.out.result(
        {"added": added, "approval_requested": not added},
        lambda: env.out.print("Added." if added else "This room wants an admin to approve assistants: asked them."),
    )


@assistant_app.command()
def remove(
    ctx: typer.Context, conversation: ConversationArg, assistant: AssistantOpt = None, profile: ProfileOpt = None
) -> None:
    """Remove your assistant from a conversation."""
    env = Env.of(ctx, profile)

    async def main() -> bool:
        async with env.session() as s:
            c = await resolve_conversation(s.chats, conversation, me=s.client.username)
            return await Assistants(s.chats).remove(c.id, assistant)

    env.out.print("Removed." if env.run(main) else "It was not in that conversation.")


@assistant_app.command()
def approve(
    ctx: typer.Context,
    conversation: ConversationArg,
    owner: Annotated[str, typer.Argument(help="whose assistant")],
    profile: ProfileOpt = None,
) -> None:
    """Admins: add OWNER's assistant, which they asked to bring into this room."""
    env = Env.of(ctx, profile)

    async def main() -> bool:
        async with env.session() as s:
            c = await resolve_conversation(s.chats, conversation, me=s.client.username)
            for message in reversed(await s.chats.messages(c.id, limit=500)):
                content = s.chats.content(message)
                if isinstance(content, AssistantCard) and content.owner == owner and message.sender_user == owner:
                    return await s.chats.approve_assistant(c.id, owner, content.assistant_device)
            raise UsageProblem(f"{owner} has not asked to add an assistant here")

    env.run(main)
    env.out.print(f"Approved: {owner}'s assistant is in.")


def _mode(value: str) -> AssistantMode:
    try:
        return AssistantMode(value)
    except ValueError:
        raise UsageProblem("--mode must be mention, auto or off") from None


@assistant_app.command()
def policy(
    ctx: typer.Context,
    conversation: ConversationArg,
    assistant: AssistantOpt = None,
    mode: Annotated[str | None, typer.Option("--mode", help="your assistant here: mention, auto or off")] = None,
    instructions: Annotated[str | None, typer.Option("--instructions", help="custom instructions for here")] = None,
    away: Annotated[bool | None, typer.Option("--away/--back", help="DMs: answer on your behalf while away")] = None,
    away_note: Annotated[str | None, typer.Option("--away-note", help="what to say about your absence")] = None,
    room: Annotated[str | None, typer.Option("--room", help="admins: assistants here: none, mention or auto")] = None,
    approval: Annotated[
        bool | None, typer.Option("--approval/--no-approval", help="admins: must approve assistants")
    ] = None,
    profile: ProfileOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """When your assistant speaks here, its instructions, away replies; or (admins) the room's assistant policy.

    Example: calpico assistant policy plans --mode auto --instructions "keep the packing list"
    """
    env = Env.of(ctx, profile, as_json)
    when = _mode(mode) if mode is not None else None
    try:
        room_policy = AssistantPolicy(room) if room is not None else None
    except ValueError:
        raise UsageProblem("--room must be none, mention or auto") from None

    async def main() -> dict[str, Any]:
        async with env.session() as s:
            c = await resolve_conversation(s.chats, conversation, me=s.client.username)
            if room_policy is not None:
                await s.chats.set_assistant_policy(c.id, room_policy)
            if approval is not None:
                await s.chats.set_assistant_approval(c.id, approval)
            if (when, instructions, away, away_note) != (None, None, None, None):
                await Assistants(s.chats).configure(
                    c.id, assistant, mode=when, instructions=instructions, away=away, away_note=away_note
                )
            settings = await s.chats.settings(c.id)
            return {"room": settings.assistant_policy.value, "approval": settings.assistant_approval}

    data = env.run(main)
    env.out.result(
        data,
        lambda: env.out.print(f"Done. Room policy: {data['room']}, approval {'on' if data['approval'] else 'off'}."),
    )


@assistant_app.command()
def serve(
    ctx: typer.Context,
    assistant: AssistantOpt = None,
    base_url: BaseUrlOpt = None,
    model: ModelOpt = None,
    api_key_env: KeyEnvOpt = KEY_ENV,
    inference: InferenceOpt = "self_hosted",
    web_search: Annotated[str | None, typer.Option("--web-search", help="operator's search endpoint (GET ?q=)")] = None,
    confirm_provider: Annotated[
        bool, typer.Option("--confirm-provider", help="ask before sending chat text to a third-party API")
    ] = False,
    max_seconds: Annotated[float | None, typer.Option("--max-seconds", hidden=True)] = None,
    profile: ProfileOpt = None,
) -> None:
    """Run your assistant: it answers in the conversations it is in until you stop it (Ctrl-C).

    The provider given here (or at create) is kept in its store; the API key comes from $CALPICO_ASSISTANT_API_KEY.
    """
    env = Env.of(ctx, profile)
    override = _provider(base_url, model, api_key_env, "", inference, "")

    async def main() -> None:
        async with env.session(catch_up=False) as s:
            owned = await Assistants(s.chats).get(assistant)
        path, key_path = Path(owned.store_path), _paths(env, owned.name)[1]
        if not path.exists():
            path, key_path = _paths(env, owned.name)
        client = await Client.open(path, KeyFile(key_path))
        state = AssistantState(client.store)
        settings = override or await state.provider()
        if override is not None:
            await state.set_provider(override)
        if settings is not None and not settings.api_key:
            settings = dataclasses.replace(settings, api_key=os.environ.get(api_key_env, ""))
        runtime = AssistantRuntime(
            client,
            provider=OpenAICompatibleProvider(settings) if settings is not None else None,
            options=RuntimeOptions(confirm_provider=confirm_provider),
            web=WebSearch(web_search) if web_search else None,
        )
        await runtime.start()
        where = f"{settings.model} at {settings.shown_host}" if settings is not None else "no provider (it will say so)"
        env.out.print(f"{owned.name} is running ({where}). Ctrl-C stops it.")
        try:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max_seconds):
                    await asyncio.Event().wait()
        finally:
            await runtime.settled(timeout=30)
            await runtime.close()

    env.run(main)


def share(
    ctx: typer.Context,
    conversation: ConversationArg,
    assistant: AssistantOpt = None,
    last: Annotated[int, typer.Option("--last", "-n", help="how many of the latest messages", min=1, max=1000)] = 20,
    title: Annotated[str, typer.Option("--title", help="a title for the shared chat")] = "",
    profile: ProfileOpt = None,
) -> None:
    """Share your private chat with your assistant (its latest messages) into a DM or room, end-to-end encrypted.

    Recipients read it there and can continue it with their own assistant. Example: calpico share plans --last 6
    """
    env = Env.of(ctx, profile)

    async def main() -> int:
        async with env.session() as s:
            c = await resolve_conversation(s.chats, conversation, me=s.client.username)
            shared = await Assistants(s.chats).share(c.id, assistant, last=last, title=title)
            return len(shared.entries)

    env.out.print(f"Shared {env.run(main)} messages (end-to-end encrypted; no public link).")
