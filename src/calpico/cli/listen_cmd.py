"""``calpico listen``: stay connected and print what happens — new messages, joins, leaves, invites.

People get one line per event; ``--json`` prints one JSON object per event
(JSON Lines, `views.event_json`). Ctrl-C ends it cleanly (exit 0);
``--count`` and ``--timeout`` end it by themselves (for scripts and tests).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Annotated

import typer

from calpico.client.conversations import Conversations
from calpico.client.errors import CalpicoError
from calpico.client.events import (
    ConnectionStateChanged,
    Event,
    KeyPackagesReplenished,
    NotificationsPending,
    TypingChanged,
)
from calpico.client.push import ConnectionState

from .common import Env, JsonOpt, KnownAssistants, ProfileOpt, label
from .views import event_json, event_line

__all__ = ["ConversationNames", "listen"]

# Events that say nothing a person or a script waits for.
_QUIET = (KeyPackagesReplenished, NotificationsPending)


class ConversationNames:
    """``#room`` / ``@peer`` for a conversation id, looked up once and refreshed on renames."""

    def __init__(self, chats: Conversations, me: str) -> None:
        self._chats = chats
        self._me = me
        self._names: dict[str, str] = {}

    async def of(self, conversation_id: str, *, refresh: bool = False) -> str:
        if refresh or conversation_id not in self._names:
            try:
                self._names[conversation_id] = label(await self._chats.get(conversation_id), self._me)
            except CalpicoError:
                return conversation_id[:8]
        return self._names[conversation_id]


def listen(
    ctx: typer.Context,
    typing: Annotated[bool, typer.Option("--typing", help="also show who is typing")] = False,
    count: Annotated[
        int | None, typer.Option("--count", help="stop after this many events (connection changes not counted)", min=1)
    ] = None,
    timeout: Annotated[float | None, typer.Option("--timeout", help="stop after this many seconds")] = None,
    profile: ProfileOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Stay connected and print new messages, joins, leaves and requests as they arrive (Ctrl-C stops).

    Example: calpico listen
    """
    env = Env.of(ctx, profile, as_json)

    async def main() -> None:
        async with env.session(catch_up=False) as s:
            names = ConversationNames(s.chats, s.client.username)
            known = KnownAssistants(s.chats)
            events = s.client.events()
            await s.client.start()
            env.out.note(f"Listening as [bold]{s.client.username}[/] (Ctrl-C to stop)…")
            shown = 0
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    async for event in events:
                        if not _wanted(event, typing):
                            continue
                        await _show(env, names, known, event, s.client.username)
                        if not isinstance(event, ConnectionStateChanged):
                            shown += 1
                        if count is not None and shown >= count:
                            break

    with contextlib.suppress(KeyboardInterrupt):
        env.run(main)


def _wanted(event: Event, typing: bool) -> bool:
    if isinstance(event, _QUIET):
        return False
    if isinstance(event, TypingChanged):
        return typing
    # The first "connected" is noise; a drop and its recovery are worth a line.
    return not (isinstance(event, ConnectionStateChanged) and event.state is ConnectionState.CONNECTING)


async def _show(env: Env, names: ConversationNames, known: KnownAssistants, event: Event, me: str) -> None:
    if env.out.as_json:
        env.out.json(event_json(event))
        return
    conversation_id = getattr(event, "conversation_id", None)
    where = ""
    assistants = None
    if isinstance(conversation_id, str):
        where = await names.of(conversation_id, refresh=type(event).__name__ == "RoomRenamed")
        await known.follow(event)
        assistants = await known.of(conversation_id)
    line = event_line(event, where, me=me, assistants=assistants)
    if line is not None:
        env.out.print(line)
