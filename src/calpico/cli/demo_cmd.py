"""``calpico demo``: three people chat through a real server, and you see both sides of the encryption.

It starts a Calpico server inside this process (127.0.0.1, a temporary
folder), creates alice, bob and carol (each one device with its own
encrypted store), and plays a short conversation through the SDK's public
API: a DM that arrives as a request, a room, an invite and a join, a block,
a leave. After each step it shows what each device displays next to the
rows the server stored for it — group, seq, kind, size and raw bytes, never
text — and at the end it searches the server's database files (and the
devices' stores) for every message sent: none is there.

Nothing is kept unless ``--keep``; ``--fast`` (or ``--pace 0``) skips the
pauses between steps.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Group
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from calpico.client import Client, KeyFile, KeyPackagePolicy
from calpico.client.conversations import Conversations
from calpico.client.errors import CalpicoError
from calpico.client.events import (
    ConnectionStateChanged,
    Event,
    KeyPackagesReplenished,
    NotificationsPending,
    Subscription,
    TypingChanged,
)
from calpico.client.store import Conversation, ConversationStatus, Message

from .common import Env, JsonOpt
from .embedded import EmbeddedServer, ServerPeek, StoredRow, find_plaintexts
from .errors import CliError, reason
from .listen_cmd import ConversationNames
from .views import describe, event_line

__all__ = ["demo"]

_WAIT = 30.0  # seconds any one expected delivery may take before the demo gives up
_SETTLE = 0.3  # seconds to let stray events (e.g. a second device's echo) arrive before showing a step
_QUIET = (ConnectionStateChanged, KeyPackagesReplenished, NotificationsPending, TypingChanged)


@dataclass
class Person:
    """One demo person: one device, its conversation layer and what its screen showed in this step."""

    name: str
    client: Client
    chats: Conversations
    events: Subscription
    names: ConversationNames
    screen: list[Text] = field(default_factory=list)

    async def drain(self) -> None:
        for event in self.events.pending():
            await self.show(event)

    async def show(self, event: Event) -> None:
        if isinstance(event, _QUIET):
            return
        cid = getattr(event, "conversation_id", None)
        where = await self.names.of(cid, refresh=True) if isinstance(cid, str) else ""
        line = event_line(event, where, me=self.name, pending=False)  # the step waits until it arrived anyway
        if line is not None:
            self.screen.append(line)

    async def did(self, text: str, style: str = "") -> None:
        """A line for something this person did (after what the device showed before it)."""
        await self.drain()
        self.screen.append(Text.from_markup(f"[dim]you:[/] {text}", style=style))

    async def wrote(self, conversation: Conversation, text: str) -> Message:
        """Send ``text``; the device shows it through its own event stream."""
        await self.drain()
        return await self.chats.send_text(conversation.id, text)

    async def stored(self, conversation_id: str, message_id: str) -> bool:
        """Whether this device received and stored the message (shown or not)."""
        return await self.client.store.message(conversation_id, message_id) is not None

    async def has_message(self, conversation_id: str, text: str) -> bool:
        with contextlib.suppress(CalpicoError):
            messages = await self.chats.messages(conversation_id, limit=50)
            return any(describe(Conversations.content(m)) == text for m in messages)
        return False

    async def conversation(self, conversation_id: str) -> Conversation | None:
        with contextlib.suppress(CalpicoError):
            return await self.chats.get(conversation_id)
        return None

    async def members(self, conversation_id: str) -> set[str]:
        with contextlib.suppress(CalpicoError):
            return {p.username for p in await self.chats.members(conversation_id)}
        return set()


class Demo:
    """The script, the waiting, and the screen."""

    def __init__(self, env: Env, server: EmbeddedServer, folder: Path, pace: float) -> None:
        self.env = env
        self.server = server
        self.folder = folder
        self.pace = pace
        self.peek = ServerPeek(server.database)
        self.people: dict[str, Person] = {}
        self.sent: list[str] = []
        self.step_no = 0

    # --- people ---------------------------------------------------------------------------

    async def add_person(self, name: str) -> Person:
        key = KeyFile(self.folder / "demo.key")
        client = await Client.create(
            self.server.url,
            name,
            self.folder / f"{name}.db",
            key,
            device_name=f"{name}'s laptop",
            key_package_policy=KeyPackagePolicy(batch=8, low_water=2),
        )
        chats = Conversations(client)
        events = client.events()
        await client.start()
        person = Person(name, client, chats, events, ConversationNames(chats, name))
        self.people[name] = person
        return person

    async def close(self) -> None:
        for person in self.people.values():
            with contextlib.suppress(Exception):
                await person.client.close()

    # --- steps ----------------------------------------------------------------------------

    async def wait(self, what: str, check: Callable[[], Awaitable[bool]]) -> None:
        deadline = time.monotonic() + _WAIT
        while not await check():
            if time.monotonic() > deadline:
                raise CliError(f"the demo stalled: {what} did not happen within {_WAIT:g}s")
            await asyncio.sleep(0.05)

    async def text(self, who: Person, conversation: Conversation, text: str, readers: list[Person]) -> Message:
        """``who`` writes ``text``; wait until every reader's device has it."""
        self.sent.append(text)
        sent = await who.wrote(conversation, text)
        for reader in readers:
            await self.wait(f"{reader.name} receiving {text!r}", _has(reader, conversation.id, text))
        return sent

    async def show_step(self, title: str, explain: str) -> None:
        await asyncio.sleep(_SETTLE)
        for person in self.people.values():
            await person.drain()
        rows = self.peek.new_rows()
        self.step_no += 1
        if self.env.out.as_json:
            self.env.out.json(
                {
                    "step": self.step_no,
                    "title": title,
                    "devices": {p.name: [line.plain for line in p.screen] for p in self.people.values()},
                    "server": [_row_json(r) for r in rows],
                }
            )
        else:
            self._render(title, explain, rows)
        for person in self.people.values():
            person.screen.clear()
        if self.pace > 0:
            await asyncio.sleep(self.pace)

    def _render(self, title: str, explain: str, rows: list[StoredRow]) -> None:
        console = self.env.out.console
        console.rule(f"[bold]{self.step_no}. {title}[/]", align="left")
        console.print(Text(explain, style="dim"))
        screens = [Group(*p.screen) if p.screen else Text("(nothing new)", style="dim") for p in self.people.values()]
        stored = Group(
            *[_row_text(r) for r in rows[:6]],
            *([Text(f"… and {len(rows) - 6} more", style="dim")] if len(rows) > 6 else []),
        )
        if not rows:
            counts = self.peek.directory()
            stored = Group(
                Text("no messages; the directory:", style="dim"),
                *[Text(f"{table}: {n} rows", style="dim") for table, n in counts.items()],
                Text("(usernames, public keys, KeyPackages)", style="dim"),
            )
        wide = console.width >= 110
        devices = Table(expand=True, show_lines=False, box=None, padding=(0, 1))
        for p in self.people.values():
            devices.add_column(f"[bold]{p.name}'s device[/] (plaintext)", ratio=3, overflow="fold")
        if wide:
            devices.add_column("[bold]server database[/] (ciphertext)", ratio=3, overflow="fold")
            devices.add_row(*screens, stored)
            console.print(Panel(devices, padding=(0, 0)))
        else:
            devices.add_row(*screens)
            console.print(Panel(devices, padding=(0, 0)))
            console.print(Panel(stored, title="server database (ciphertext)", title_align="left"))
        console.print()

    # --- the script -------------------------------------------------------------------------

    async def play(self) -> dict[str, Any]:
        out = self.env.out
        out.print(f"[bold]Calpico demo[/] — a server on {self.server.url} (data in {self.folder})")
        alice, bob, carol = [await self.add_person(n) for n in ("alice", "bob", "carol")]
        for p in (alice, bob, carol):
            await p.did(f"created the account [bold]{p.name}[/] (device {p.client.device_id[:8]})")
        await self.show_step(
            "Three people sign up",
            "Each device makes its own signature key and KeyPackages; the server keeps only the public halves.",
        )

        dm = await alice.chats.start_dm("bob")
        await self.text(alice, dm, "Hi Bob! Lunch tomorrow?", [bob])
        await self.show_step(
            "Alice writes to Bob",
            "A DM is an MLS group of both people's devices. Bob has not accepted Alice yet: it arrives as a request.",
        )

        await bob.did("accepted the request from [bold]alice[/]")
        await bob.chats.accept(dm.id)
        await self.text(bob, dm, "Sure, noon at the usual place?", [alice])
        await self.show_step("Bob accepts and answers", "Only the two devices can read this; the server relays bytes.")

        room = await alice.chats.create_room("weekend", ["bob"])
        await self.wait("bob joining #weekend", _in(bob, room.id))
        await self.accept_if_request(bob, room)
        await self.text(alice, room, "Who is in for a hike on Saturday?", [bob])
        await self.show_step("Alice opens a room", "A room is one MLS group; Alice is its admin.")

        await alice.did("invited [bold]carol[/] to #weekend")
        await alice.chats.invite(room.id, "carol")
        await self.wait("carol receiving the invite", _in(carol, room.id))
        await self.show_step(
            "Alice invites Carol",
            "Carol's devices are added by an MLS commit; she has not accepted Alice, so it waits in her requests.",
        )

        await self.accept_if_request(carol, room)
        await self.text(carol, room, "Count me in! I'll bring snacks.", [alice, bob])
        await self.show_step("Carol joins and writes", "Everyone in the room reads her message; the server cannot.")

        await bob.did("blocked [bold]carol[/]")
        await bob.chats.block("carol")
        owed = await self.text(carol, room, "Bob, you still owe me ten euros.", [alice])
        await self.wait("bob's device receiving carol's message", _stored(bob, room.id, owed.message_id))
        await bob.drain()
        hidden = not await bob.has_message(room.id, "Bob, you still owe me ten euros.")
        bob.screen.append(
            Text(
                "(received carol's message; hidden here)" if hidden else "(carol's message is shown: unexpected)",
                style="dim",
            )
        )
        await carol.drain()
        try:
            await carol.chats.start_dm("bob")
        except CalpicoError as exc:
            await carol.did(f"tried to DM bob: {escape(reason(exc))}", style="red")
        else:
            await carol.did("tried to DM bob, and it worked (unexpected)", style="red")
        await self.show_step(
            "Bob blocks Carol",
            "Bob's device hides her messages in shared rooms, and the server refuses to let her start a DM with him.",
        )

        await carol.did("left [bold]#weekend[/]")
        await carol.chats.leave(room.id)
        for p in (alice, bob):
            await self.wait(f"{p.name} seeing carol leave", _gone(p, room.id, "carol"))
        await self.show_step(
            "Carol leaves",
            "She proposes her own removal and another member's device commits it:"
            " it completes even if she goes offline at once.",
        )
        return await self.summary()

    async def accept_if_request(self, person: Person, room: Conversation) -> None:
        current = await person.conversation(room.id)
        if current is not None and current.status is ConversationStatus.REQUEST:
            await person.did(f"accepted the invite to [bold]#{room.name}[/]")
            await person.chats.accept(room.id)

    async def summary(self) -> dict[str, Any]:
        count, size = self.peek.count()
        server_hits = find_plaintexts([self.server.database], self.sent)
        stores = [self.folder / f"{name}.db" for name in self.people]
        store_hits = find_plaintexts(stores, self.sent)
        data = {
            "summary": {
                "server": self.server.url,
                "messages_stored": count,
                "ciphertext_bytes": size,
                "plaintexts_sent": len(self.sent),
                "plaintexts_found_on_server": server_hits,
                "plaintexts_found_in_device_stores": store_hits,
            }
        }

        def human() -> None:
            lines = [
                f"The server stored [bold]{count}[/] messages ({size:,} bytes):"
                " MLS ciphertext, and handshakes that carry keys, not text.",
                f"Searched its database files for the {len(self.sent)} messages sent: "
                + (f"[bold red]found {len(server_hits)}[/]" if server_hits else "[bold green]none found[/]")
                + ".",
                "Searched the three devices' stores (sealed at rest): "
                + (f"[bold red]found {len(store_hits)}[/]" if store_hits else "[bold green]none found[/]")
                + ".",
                "",
                "Try it yourself: [bold]calpico server[/] in one terminal, then [bold]calpico account create NAME[/] "
                "(see `calpico --help` and docs/cli.md).",
            ]
            self.env.out.print(Panel("\n".join(lines), title="What the server knows", title_align="left"))

        self.env.out.result(data, human)
        return data


def _in(person: Person, conversation_id: str) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return await person.conversation(conversation_id) is not None

    return check


def _has(person: Person, conversation_id: str, text: str) -> Callable[[], Awaitable[bool]]:
    return lambda: person.has_message(conversation_id, text)


def _stored(person: Person, conversation_id: str, message_id: str) -> Callable[[], Awaitable[bool]]:
    return lambda: person.stored(conversation_id, message_id)


def _gone(person: Person, conversation_id: str, username: str) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        members = await person.members(conversation_id)
        return bool(members) and username not in members

    return check


def _row_json(r: StoredRow) -> dict[str, Any]:
    return {
        "group": r.group_id.hex()[:8],
        "seq": r.seq,
        "kind": r.kind,
        "epoch": r.epoch,
        "sender": r.sender,
        "size": len(r.body),
        "tail": r.body[-16:].hex(),
    }


def _row_text(r: StoredRow) -> Text:
    line = Text()
    line.append(f"{r.group_id.hex()[:6]} #{r.seq} ", style="dim")
    line.append(f"{r.kind} ", style="yellow")
    line.append(f"{len(r.body)}B ", style="dim")
    line.append("…" + r.body[-10:].hex(), style="bright_black")
    return line


def demo(
    ctx: typer.Context,
    pace: Annotated[
        float | None, typer.Option(help="seconds to pause between steps [default: 1.5 on a terminal, else 0.2]", min=0)
    ] = None,
    fast: Annotated[bool, typer.Option("--fast", help="no pauses (the same as --pace 0)")] = False,
    keep: Annotated[bool, typer.Option("--keep", help="keep the server's and devices' files, and say where")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Watch alice, bob and carol chat through an embedded server: what each device shows, what the server stored.

    Example: calpico demo --fast
    """
    env = Env.of(ctx, None, as_json)
    if fast:
        pace = 0.0
    elif pace is None:
        pace = 1.5 if sys.stdout.isatty() else 0.2
    folder = Path(tempfile.mkdtemp(prefix="calpico-demo-"))
    try:
        with EmbeddedServer(folder / "server") as server:

            async def main() -> dict[str, Any]:
                show = Demo(env, server, folder, pace)
                try:
                    return await show.play()
                finally:
                    await show.close()

            env.run(main)
    finally:
        if keep:
            env.out.note(f"Kept the demo's files in {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)
