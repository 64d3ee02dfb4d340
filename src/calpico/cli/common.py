"""What every command shares: the global options, the profile, running async code, opening a session.

A one-shot command runs as::

    env = Env.of(ctx, profile, as_json)
    async def main() -> None:
        async with env.session() as s:      # unlock the store, attach the conversation layer, catch up
            ...                             # s.client, s.chats
    env.run(main)                          # errors propagate to calpico.cli.app.main: one line, exit code

`session` catches up with the server over HTTP before the body and flushes
the outbox after it, so a one-shot command sees what arrived while no
``calpico`` was running and leaves nothing unsent.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from calpico.client import AssistantMember, Client, KeySource
from calpico.client.conversations import Conversations
from calpico.client.errors import CalpicoError, TransportError
from calpico.client.events import AssistantCardChanged, AssistantRemoved, Event, MemberJoined
from calpico.client.store import Conversation, ConversationKind, ConversationStatus

from .errors import UsageProblem, reason
from .output import Output
from .profiles import Profile, ProfileSettings, calpico_home, profile_name

__all__ = ["Env", "GlobalOptions", "JsonOpt", "KnownAssistants", "ProfileOpt", "Session", "resolve_conversation"]

T = TypeVar("T")

ProfileOpt = Annotated[
    str | None,
    typer.Option("--profile", "-p", help="profile (device) to use [env: CALPICO_PROFILE; default: default]"),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON for scripts (see docs/cli.md)")]


@dataclass(slots=True)
class GlobalOptions:
    """The root options (``calpico --profile X --json COMMAND``); a command's own flags win."""

    home: Path | None = None
    profile: str | None = None
    as_json: bool = False
    color: bool | None = None


@dataclass(slots=True)
class Session:
    """An open device: its `Client` and its conversation layer."""

    client: Client
    chats: Conversations
    settings: ProfileSettings
    offline: bool = False


@dataclass(slots=True)
class Env:
    """One command run: where its profile is and how it prints."""

    out: Output
    profile: Profile
    options: GlobalOptions = field(default_factory=GlobalOptions)

    @classmethod
    def of(cls, ctx: typer.Context, profile: str | None = None, as_json: bool = False) -> Env:
        root = ctx.find_root().obj
        options = root if isinstance(root, GlobalOptions) else GlobalOptions()
        out = Output(as_json=as_json or options.as_json, color=options.color)
        name = profile_name(profile or options.profile)
        return cls(out, Profile(calpico_home(options.home), name), options)

    def run(self, main: Callable[[], Coroutine[Any, Any, T]]) -> T:
        """Run ``main`` on a fresh event loop (errors are reported by `calpico.cli.app.main`)."""
        return asyncio.run(main())

    def key(self, settings: ProfileSettings) -> KeySource:
        return self.profile.key_source(settings)

    @asynccontextmanager
    async def session(
        self, *, catch_up: bool = True, offline_ok: bool = False, key: KeySource | None = None
    ) -> AsyncIterator[Session]:
        """Open this profile's device; catch up first (unless told not to); flush the outbox at the end.

        With ``offline_ok`` an unreachable server is only a note: the command
        works with what this device has (sends wait in the outbox).
        """
        settings = self.profile.load()
        client = await Client.open(self.profile.store_path, key or self.key(settings))
        try:
            session = Session(client, Conversations(client), settings)
            if catch_up:
                try:
                    await client.sync()
                except TransportError as exc:
                    if not offline_ok:
                        raise
                    session.offline = True
                    self.out.note(f"[yellow]offline[/] ({reason(exc)}): showing what this device has")
            yield session
            await client.flush_outbox()
        finally:
            await client.close()


async def resolve_conversation(
    chats: Conversations, ref: str, *, me: str, pool: list[Conversation] | None = None
) -> Conversation:
    """The conversation ``ref`` names: its id (or a unique prefix of it), a room's name, or a DM's other person.

    ``@bob`` names only the DM with bob and ``#plans`` only the room called
    plans. Left conversations count only when nothing current matches.
    Raises `UsageProblem` when nothing or more than one thing matches.
    """
    everything = await chats.all(None) if pool is None else pool
    if not ref:
        raise UsageProblem("name a conversation: a room name, a username for a DM, or an id")
    for candidates in (
        [c for c in everything if c.status is not ConversationStatus.LEFT],
        [c for c in everything if c.status is ConversationStatus.LEFT],
    ):
        matches = _matching(candidates, ref, me)
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            names = ", ".join(f"{c.id[:8]} ({label(c, me)})" for c in matches[:5])
            raise UsageProblem(f"{ref!r} matches {len(matches)} conversations: {names}; use an id")
    raise UsageProblem(f"no conversation called {ref!r} (see `calpico rooms`)")


def _matching(pool: list[Conversation], ref: str, me: str) -> list[Conversation]:
    if ref.startswith("@"):
        who = ref[1:]
        return [c for c in pool if c.kind is ConversationKind.DM and c.peer == who]
    if ref.startswith("#"):
        name = ref[1:]
        return [c for c in pool if c.kind is not ConversationKind.DM and c.name == name]
    exact = [c for c in pool if c.id == ref]
    if exact:
        return exact
    named = [c for c in pool if c.kind is not ConversationKind.DM and c.name == ref]
    named += [c for c in pool if c.kind is ConversationKind.DM and c.peer == ref]
    if named:
        return named
    if len(ref) >= 4:
        return [c for c in pool if c.id.startswith(ref)]
    return []


def label(conversation: Conversation, me: str) -> str:
    """How people see a conversation's name: ``#room`` or ``@peer``."""
    if conversation.kind is ConversationKind.DM:
        return f"@{conversation.peer or '?'}"
    return f"#{conversation.name or conversation.id[:8]}"


class KnownAssistants:
    """The assistant members of conversations (``Conversations.assistants``), by device id, for naming their messages.

    Read once per conversation; a card, an assistant joining or leaving reads that conversation again
    (`follow`, before the event is shown, so the notice and what follows use the new name).
    """

    def __init__(self, chats: Conversations) -> None:
        self._chats = chats
        self._known: dict[str, dict[str, AssistantMember]] = {}

    async def of(self, conversation_id: str) -> dict[str, AssistantMember]:
        if conversation_id not in self._known:
            try:
                members = await self._chats.assistants(conversation_id)
            except CalpicoError:
                members = []
            self._known[conversation_id] = {m.device_id: m for m in members}
        return self._known[conversation_id]

    async def follow(self, event: Event) -> None:
        if isinstance(event, AssistantCardChanged | AssistantRemoved) or (
            isinstance(event, MemberJoined) and event.assistant
        ):
            self._known.pop(event.conversation_id, None)
            await self.of(event.conversation_id)
