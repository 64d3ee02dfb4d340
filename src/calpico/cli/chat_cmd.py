"""``calpico chat CONVERSATION``: an interactive chat in the terminal, with live updates.

On a terminal it is a prompt (prompt_toolkit) with everything that happens
printed above it: incoming messages, edits, reactions, joins, leaves,
renames; a bottom bar shows who is typing and the connection. Typing at the
prompt tells the others you are typing. Lines starting with ``/`` are
commands (``/help``). Ctrl-C or Ctrl-D (or ``/quit``) ends it.

Without a terminal (stdin piped), or with ``--plain``, it reads one message
per line from stdin and prints one line per event, and ends at end of input
(after sending everything); with ``--json`` events are JSON Lines. So a
script or a bot can drive it.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import threading
import time
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.text import Text

from calpico.client import AssistantMember
from calpico.client.errors import CalpicoError
from calpico.client.events import (
    ConnectionStateChanged,
    Event,
    MessageEdited,
    MessageReceived,
    MessageSendStateChanged,
    RoomRenamed,
    Subscription,
    TypingChanged,
)
from calpico.client.push import ConnectionState
from calpico.client.store import Conversation, Message, SendState

from .common import Env, JsonOpt, KnownAssistants, ProfileOpt, Session, label, resolve_conversation
from .errors import reason
from .views import event_json, event_line, message_json, message_line, person

__all__ = ["chat"]

_TYPING_SHOWN_FOR = 6.0  # seconds a "typing" lasts without a refresh
_TYPING_RESEND = 3.0  # seconds between our own "typing" notices while we type
_HELP = (
    "/who: members · /history [N]: earlier messages · /retry: send again what was not sent"
    " · /quit: leave the chat (Ctrl-C / Ctrl-D also work)"
)


class ChatView:
    """One conversation on screen: prints events, sends what is typed."""

    def __init__(
        self, env: Env, session: Session, conversation: Conversation, console: Console, *, interactive: bool
    ) -> None:
        self.env = env
        self.interactive = interactive
        self.s = session
        self.c = conversation
        self.me = session.client.username
        self.console = console
        self.where = label(conversation, self.me)
        self.typing: dict[str, float] = {}
        self.connection = ConnectionState.CONNECTING
        self._shown: set[str] = set()
        self._failed: set[str] = set()  # our messages the server refused (until /retry)
        self._retried: set[str] = set()
        self._last_typing_sent = 0.0
        self.known = KnownAssistants(session.chats)
        self.assistants: dict[str, AssistantMember] = {}  # this conversation's, by device id

    # --- output -------------------------------------------------------------------------

    def emit(self, line: Text | str, data: dict[str, object] | None = None) -> None:
        if self.env.out.as_json:
            if data is not None:
                self.env.out.json(data)
        else:
            self.console.print(line)

    def show_message(self, m: Message, kind: str = "message") -> None:
        if kind == "message" and m.message_id in self._shown:
            return
        self._shown.add(m.message_id)
        self.emit(
            message_line(m, me=self.me, assistants=self.assistants),
            {"event": kind, **message_json(m, self.assistants)},
        )

    async def show_history(self, limit: int) -> None:
        self.assistants = await self.known.of(self.c.id)
        messages = await self.s.chats.messages(self.c.id, limit=limit)
        if not self.env.out.as_json:
            members = ", ".join(p.username for p in await self.s.chats.members(self.c.id))
            self.console.print(Text.from_markup(f"[bold]{self.where}[/] [dim]— {members}[/]"))
        for m in messages:
            self.show_message(m, "history")

    # --- incoming ---------------------------------------------------------------------------

    async def receive(self, events: Subscription) -> None:
        async for event in events:
            await self.on_event(event)

    async def on_event(self, event: Event) -> None:
        if isinstance(event, ConnectionStateChanged):
            changed = event.state is not self.connection
            self.connection = event.state
            if changed and event.state is ConnectionState.DISCONNECTED:
                self.emit(event_line(event, "") or "", event_json(event))
            return
        if getattr(event, "conversation_id", None) != self.c.id:
            return
        await self.known.follow(event)
        self.assistants = await self.known.of(self.c.id)
        if isinstance(event, TypingChanged):
            if event.username == self.me:
                return
            if event.active:
                fresh = event.username not in self.typing
                self.typing[event.username] = time.monotonic()
                if fresh and not self.interactive:
                    self.emit(event_line(event, "") or "", event_json(event))
            else:
                self.typing.pop(event.username, None)
            return
        if isinstance(event, MessageReceived):
            self.typing.pop(event.message.sender_user, None)
            self.show_message(event.message)
            with contextlib.suppress(CalpicoError):
                await self.s.chats.mark_read(self.c.id, [event.message.message_id])
            return
        if isinstance(event, MessageEdited):
            self.show_message(event.message, "edited")
            return
        if isinstance(event, MessageSendStateChanged):
            await self.on_send_state(event)
            return
        if isinstance(event, RoomRenamed):
            self.c = await self.s.chats.get(self.c.id)
            self.where = label(self.c, self.me)
        line = event_line(event, "", me=self.me, assistants=self.assistants)
        if line is not None or self.env.out.as_json:
            self.emit(line or "", event_json(event))

    async def on_send_state(self, event: MessageSendStateChanged) -> None:
        """Our message's way out: a refusal is shown with how to retry; a retried one, once it got through."""
        data = event_json(event)
        if event.state is SendState.FAILED:
            self._failed.add(event.message_id)
            line = Text.from_markup(f"[red]not sent:[/] {escape(await self._excerpt(event.message_id))}")
            line.append(f" — {event.reason or 'refused'}; /retry sends it again", style="dim")
            self.emit(line, data)
        elif event.state is SendState.SENT and event.message_id in self._retried:
            self._retried.discard(event.message_id)
            self.emit(Text.from_markup(f"[green]sent:[/] {escape(await self._excerpt(event.message_id))}"), data)
        elif self.env.out.as_json:
            self.env.out.json(data)

    async def _excerpt(self, message_id: str) -> str:
        try:
            message = await self.s.chats.message(self.c.id, message_id)
        except CalpicoError:
            return message_id
        text = message_line(message).plain.split(": ", 1)[-1]
        return text if len(text) <= 60 else text[:59] + "…"

    async def retry(self) -> None:
        """``/retry``: send again every message of this device the server refused here (lately)."""
        device = self.s.client.device_id
        for m in await self.s.chats.messages(self.c.id, limit=100):
            if m.sender_device == device and m.send_state is SendState.FAILED:
                self._failed.add(m.message_id)
        failed = sorted(self._failed)
        if not failed:
            self.emit(Text("nothing to retry", style="dim"), {"event": "retry", "messages": []})
            return
        if self.env.out.as_json:
            self.env.out.json({"event": "retry", "messages": failed})
        for message_id in failed:
            self._failed.discard(message_id)
            self._retried.add(message_id)
            try:
                await self.s.chats.retry(self.c.id, message_id)
            except CalpicoError as exc:
                self._retried.discard(message_id)
                self.emit(Text(f"not sent: {reason(exc)}", style="red"), {"event": "error", "message": reason(exc)})

    def toolbar(self) -> str:
        now = time.monotonic()
        typing = [u for u, at in self.typing.items() if now - at < _TYPING_SHOWN_FOR]
        parts = [self.where]
        if typing:
            parts.append(f"{', '.join(typing)} {'is' if len(typing) == 1 else 'are'} typing…")
        if self.connection is not ConnectionState.CONNECTED:
            parts.append(f"({self.connection.value})")
        return "  ".join(parts)

    # --- outgoing ---------------------------------------------------------------------------

    async def handle(self, line: str) -> bool:
        """Act on one typed line; False ends the chat."""
        text = line.rstrip("\n")
        if not text.strip():
            return True
        if text.startswith("/"):
            return await self.command(text)
        try:
            sent = await self.s.chats.send_text(self.c.id, text)  # returns once the server took it (or queued)
            self._shown.add(sent.message_id)
            if not self.interactive:
                self.emit(message_line(sent, me=self.me), {"event": "message_sent", **message_json(sent)})
        except CalpicoError as exc:
            self.emit(Text(f"not sent: {reason(exc)}", style="red"), {"event": "error", "message": reason(exc)})
        return True

    async def command(self, text: str) -> bool:
        name, _, arg = text[1:].partition(" ")
        if name in ("quit", "exit", "q"):
            return False
        if name == "who":
            members = await self.s.chats.members(self.c.id)
            self.emit(
                Text.from_markup(
                    "members: " + ", ".join(person(p.username) + (" (admin)" if p.admin else "") for p in members)
                ),
                {"event": "members", "members": [p.username for p in members]},
            )
        elif name == "retry":
            await self.retry()
        elif name == "history":
            count = int(arg) if arg.strip().isdigit() else 20
            for m in await self.s.chats.messages(self.c.id, limit=count):
                self.emit(
                    message_line(m, me=self.me, assistants=self.assistants),
                    {"event": "history", **message_json(m, self.assistants)},
                )
        else:
            self.emit(Text(_HELP, style="dim"), {"event": "help", "message": _HELP})
        return True

    def typed(self) -> None:
        """The person is typing: tell the others, at most every few seconds."""
        now = time.monotonic()
        if now - self._last_typing_sent < _TYPING_RESEND:
            return
        self._last_typing_sent = now
        task = asyncio.get_running_loop().create_task(self._send_typing())
        task.add_done_callback(lambda t: t.cancelled() or t.exception())

    async def _send_typing(self) -> None:
        with contextlib.suppress(CalpicoError):
            await self.s.chats.typing(self.c.id, True)


async def _read_lines(view: ChatView) -> None:
    """Plain mode: one message per stdin line, until end of input."""
    loop = asyncio.get_running_loop()
    lines: asyncio.Queue[str | None] = asyncio.Queue()

    def pump() -> None:  # a daemon thread: a blocked read never holds up exit
        for line in sys.stdin:
            loop.call_soon_threadsafe(lines.put_nowait, line)
        loop.call_soon_threadsafe(lines.put_nowait, None)

    threading.Thread(target=pump, name="calpico-chat-stdin", daemon=True).start()
    while (line := await lines.get()) is not None:
        if not await view.handle(line):
            return


async def _prompt(view: ChatView) -> None:
    """Terminal mode: a prompt_toolkit prompt; output is printed above it."""
    from prompt_toolkit import PromptSession

    session: PromptSession[str] = PromptSession(bottom_toolbar=view.toolbar, refresh_interval=1.0)
    session.default_buffer.on_text_changed += lambda _: view.typed()
    while True:
        try:
            line = await session.prompt_async(f"{view.me}> ")
        except EOFError:
            return
        if not await view.handle(line):
            return


def chat(
    ctx: typer.Context,
    conversation: Annotated[str, typer.Argument(help="room name, username (for a DM) or conversation id")],
    history: Annotated[int, typer.Option("--history", "-n", help="earlier messages to show first", min=0)] = 20,
    plain: Annotated[bool, typer.Option("--plain", help="line mode even on a terminal (messages from stdin)")] = False,
    profile: ProfileOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Chat in a conversation, live: messages, joins, leaves and typing appear as they happen.

    Example: calpico chat plans
    """
    env = Env.of(ctx, profile, as_json)
    interactive = sys.stdin.isatty() and sys.stdout.isatty() and not plain and not env.out.as_json

    async def main() -> None:
        async with env.session(offline_ok=True) as s:  # the live connection keeps trying by itself
            c = await resolve_conversation(s.chats, conversation, me=s.client.username)
            events = s.client.events()
            await s.client.start()
            if interactive:
                from prompt_toolkit.patch_stdout import patch_stdout

                with patch_stdout(raw=True):
                    console = Console(file=sys.stdout, force_terminal=True, highlight=False)
                    await _run(env, s, c, console, interactive=True, history=history, events=events)
            else:
                await _run(env, s, c, env.out.console, interactive=False, history=history, events=events)

    with contextlib.suppress(KeyboardInterrupt):
        env.run(main)


async def _run(
    env: Env,
    s: Session,
    c: Conversation,
    console: Console,
    *,
    interactive: bool,
    history: int,
    events: Subscription,
) -> None:
    view = ChatView(env, s, c, console, interactive=interactive)
    await view.show_history(history)
    if interactive:
        console.print(Text(_HELP, style="dim"))
    receiver = asyncio.get_running_loop().create_task(view.receive(events))
    try:
        await (_prompt(view) if interactive else _read_lines(view))
        if not interactive:
            await s.client.flush_outbox()
    finally:
        receiver.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await receiver
