"""Assistant latency: a mention sent → the first streamed token shown on another member's device, in a 20-member room.

    .venv/bin/python benchmarks/assistant_latency.py [--members 20] [--mentions 20] [--repeat 3] [--ttft 0.1]

Runs the real Calpico server in its own process (``calpico server``:
uvicorn on 127.0.0.1, SQLite in a temporary folder), a local
OpenAI-compatible server in another (Starlette, server-sent events,
``--ttft`` seconds before its first token), the assistant in a third (its
own device and store, `AssistantRuntime` with the standard
`OpenAICompatibleProvider`, mention-only), and the people's SDK clients in
this one: ``--members`` people in one room, plus Alice's assistant.

For each of ``--mentions`` rounds (times ``--repeat`` runs), Bob mentions
the assistant; Carol's device records when the assistant's first reply part
(the first streamed token) arrives. The provider records when each request
came in and when its first token left. Calpico's overhead = end to end −
the provider's own time to first token; the issue's target is under 50 ms.

Where the time goes: every process notes, on the one monotonic clock
(``perf_counter`` is CLOCK_MONOTONIC on Linux, so the processes' marks
compare), when an HTTP send to the Calpico server starts and ends and when
a pushed frame arrives (by the frame's ``client_id``; the benchmark wraps
``Transport.send`` and the push parser — instrumentation only, the SDK is
unchanged), and the assistant's process notes when it has the mention, when
it asks the provider, and when the first token arrives. That splits each
mention into:

1. Bob's device: send → its HTTP request leaves (encrypt, store);
2. server: Bob's request in → the frame reaches the assistant's device;
3. the assistant's device: frame → the message event (decrypt, store);
4. the assistant decides and builds the prompt → its request to the provider;
5. the provider: request → first token, of which the provider's own TTFT,
   the rest HTTP and the ``openai`` SDK;
6. the assistant's device: first token → its reply's HTTP request leaves (encrypt, store);
7. server: the reply's request in → the frame reaches Carol's device;
8. Carol's device: frame → shown (the message event).

Steps 2 and 7 are the server's share (its HTTP and WebSocket handling,
its database write, loopback); 1, 3, 6 and 8 the SDK's on the devices; 4
and the non-provider part of 5 the assistant's own.

By default only the three devices involved (Bob, the assistant, Carol) are
live; the other members are in the room (the server queues everything for
them, the group has all their leaves) but their devices are offline, as
phones in pockets are. ``--all-live`` runs every member's client in this
process too — then all of them decrypt every message on the same two cores,
which measures this machine's contention more than Calpico.

Figures only; nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from calpico.assistant import AssistantRuntime, Assistants, OpenAICompatibleProvider, ProviderSettings, RuntimeOptions
from calpico.client import Account, Client, Conversations
from calpico.client import push as push_module
from calpico.client.events import AssistantCardChanged, ConversationAdded, Event, MessageReceived
from calpico.client.keypackages import KeyPackagePolicy
from calpico.client.store import Argon2Params, Passphrase
from calpico.client.transport import RetryPolicy, Transport
from calpico.wire.app import AssistantReply, InferenceLocation, Mention, decode_app_message

FAST_KDF = Argon2Params(time_cost=1, memory_cost=8 * 1024, parallelism=1)
KEY = Passphrase("bench", FAST_KDF)
POLICY = KeyPackagePolicy(batch=4, low_water=2)
RETRY = RetryPolicy(attempts=6, base_delay=0.05, max_delay=1.0)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def spawn(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    src = str(Path(__file__).resolve().parents[1] / "src")
    environment = {**os.environ, **(env or {}), "PYTHONPATH": src + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.Popen([sys.executable, *args], env=environment)


def wait_http(url: str, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{url}: the process exited early")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


# --- marks: HTTP sends and pushed frames, per process ---------------------------------------------


@dataclasses.dataclass
class Probe:
    """When this process's sends to the Calpico server start and end, and when pushed frames arrive (by client_id)."""

    posts: dict[str, tuple[float, float]] = dataclasses.field(default_factory=dict)
    frames: dict[str, float] = dataclasses.field(default_factory=dict)
    last_frame: float = 0.0
    on_post: Any = None  # called with (client_id, start, end)

    def install(self) -> None:
        parse, send = push_module._parse, Transport.send
        probe = self

        def parse_noting(raw: str | bytes) -> list[Any]:
            arrived = time.perf_counter()
            items = parse(raw)
            for item in items:
                client_id = getattr(item, "client_id", None)
                if client_id is not None:
                    probe.frames.setdefault(client_id, arrived)
                    probe.last_frame = arrived
            return items

        async def send_noting(self: Transport, group_id: bytes, client_id: str, *args: Any, **kw: Any) -> Any:
            start = time.perf_counter()
            result = await send(self, group_id, client_id, *args, **kw)
            probe.posts.setdefault(client_id, (start, time.perf_counter()))
            if probe.on_post is not None:
                probe.on_post(client_id, start, time.perf_counter())
            return result

        push_module._parse = parse_noting
        Transport.send = send_noting  # type: ignore[method-assign]

    def first_post_after(self, t: float) -> tuple[str, float, float] | None:
        after = [(start, end, cid) for cid, (start, end) in self.posts.items() if start >= t]
        if not after:
            return None
        start, end, cid = min(after)
        return cid, start, end


# --- the provider (its own process) ----------------------------------------------------------------


@dataclasses.dataclass
class Provider:
    """A minimal OpenAI-compatible streaming endpoint that measures its own time to first token."""

    ttft: float
    ttfts: list[float] = dataclasses.field(default_factory=list)

    async def chat(self, request: Request) -> Response:
        arrived = time.perf_counter()
        body = await request.json()
        return StreamingResponse(self.stream(body, arrived), media_type="text/event-stream")

    async def stats(self, request: Request) -> Response:
        return JSONResponse({"ttfts": self.ttfts})

    async def stream(self, body: dict[str, Any], arrived: float) -> AsyncIterator[bytes]:
        await asyncio.sleep(self.ttft)
        words = ["Sure", " —", " here", " is", " a", " plan", " for", " the", " trip."]
        for i, word in enumerate(words):
            delta = {"role": "assistant", "content": word} if i == 0 else {"content": word}
            chunk = {"id": "x", "object": "chat.completion.chunk", "created": 1, "model": body.get("model", "m")}
            chunk["choices"] = [{"index": 0, "delta": delta, "finish_reason": None}]
            if i == 0:
                self.ttfts.append(time.perf_counter() - arrived)
            yield f"data: {json.dumps(chunk)}\n\n".encode()
            await asyncio.sleep(0.01)
        yield b"data: [DONE]\n\n"


async def serve_provider(port: int, ttft: float) -> None:
    provider = Provider(ttft)
    app = Starlette(
        routes=[
            Route("/v1/chat/completions", provider.chat, methods=["POST"]),
            Route("/stats", provider.stats, methods=["GET"]),
        ]
    )
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    await uvicorn.Server(config).serve()


# --- the assistant (its own process) ----------------------------------------------------------------


class Traced(OpenAICompatibleProvider):
    """The standard provider, noting when a request starts and its first token arrives (for the breakdown)."""

    def __init__(self, settings: ProviderSettings, marks: dict[str, float]) -> None:
        super().__init__(settings)
        self.marks = marks

    async def stream(self, messages: Any, tools: Any = ()) -> AsyncIterator[Any]:
        self.marks["request"] = time.perf_counter()
        first = True
        async for item in super().stream(messages, tools):
            if first:
                self.marks["first_token"] = time.perf_counter()
                first = False
            yield item


async def serve_assistant(path: str, llm_url: str, trace: str) -> None:
    probe = Probe()
    probe.install()

    def note_post(client_id: str, start: float, end: float) -> None:
        with open(trace, "a") as out:
            out.write(json.dumps({"post": client_id, "start": start, "end": end}) + "\n")

    probe.on_post = note_post
    client = await Client.open(path, KEY, retry=RETRY, key_package_policy=POLICY)
    settings = ProviderSettings(base_url=llm_url, model="bench", inference=InferenceLocation.SELF_HOSTED)
    marks: dict[str, float] = {}
    runtime = AssistantRuntime(client, provider=Traced(settings, marks), options=RuntimeOptions(update_interval=0.25))
    events = client.events()

    async def watch() -> None:  # perf_counter is CLOCK_MONOTONIC: comparable between processes on Linux
        async for event in events:
            if isinstance(event, MessageReceived):
                content = decode_app_message(event.message.content)
                if isinstance(content, AssistantReply) and content.updates is None and content.reply_to:
                    entry = {"mention": content.reply_to, "stored_first_part": time.perf_counter(), **marks}
                    with open(trace, "a") as out:
                        out.write(json.dumps(entry) + "\n")
                elif not isinstance(content, AssistantReply):
                    marks.clear()
                    marks["received"] = time.perf_counter()
                    marks["frame_in"] = probe.last_frame

    watcher = asyncio.get_running_loop().create_task(watch())
    await runtime.start()
    await client.wait_connected(30)
    print("assistant ready", flush=True)
    await asyncio.Event().wait()
    watcher.cancel()


@dataclasses.dataclass(eq=False)
class Person:
    client: Client
    chats: Conversations
    first_parts: dict[str, float] = dataclasses.field(default_factory=dict)  # reply-to id → first part seen
    texts: dict[str, float] = dataclasses.field(default_factory=dict)  # text id → shown
    added: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)
    carded: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)
    watcher: asyncio.Task[None] | None = None

    def watch(self) -> None:
        subscription = self.client.events()

        async def run() -> None:
            async for event in subscription:
                self.seen(event)

        self.watcher = asyncio.get_running_loop().create_task(run())

    def seen(self, event: Event) -> None:
        if isinstance(event, MessageReceived):
            content = decode_app_message(event.message.content)
            if isinstance(content, AssistantReply) and content.updates is None and content.reply_to:
                self.first_parts.setdefault(content.reply_to, time.perf_counter())
            else:
                self.texts.setdefault(event.message.message_id, time.perf_counter())
        elif isinstance(event, ConversationAdded):
            self.added.set()
        elif isinstance(event, AssistantCardChanged):
            self.carded.set()


async def make_people(url: str, tmp: Path, n: int) -> list[Person]:
    out = []
    for i in range(n):
        name = f"m{i:03d}"
        account = await Account.create(url, name, tmp / f"{name}.db", KEY, retry=RETRY, key_package_policy=POLICY)
        client = Client(account, expiry_interval=0)
        person = Person(client, Conversations(client))
        person.watch()
        out.append(person)
    return out


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--members", type=int, default=20, help="people in the room (the assistant comes on top)")
    parser.add_argument("--mentions", type=int, default=20, help="mentions per run")
    parser.add_argument("--repeat", type=int, default=3, help="runs (each prints its medians; then their median)")
    parser.add_argument("--ttft", type=float, default=0.1, help="the provider's own time to first token (s)")
    parser.add_argument(
        "--all-live", action="store_true", help="run every member's client, not only the three involved"
    )
    parser.add_argument("--serve-provider", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--serve-assistant", nargs=3, metavar=("STORE", "LLM_URL", "TRACE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_provider:
        await serve_provider(args.serve_provider, args.ttft)
        return
    if args.serve_assistant:
        await serve_assistant(*args.serve_assistant)
        return
    procs: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        try:
            port, llm_port = free_port(), free_port()
            server = spawn(
                "-c",
                "from calpico.cli import main; main()",
                "server",
                "--port",
                str(port),
                "--data-dir",
                str(tmp / "server"),
                "--server-name",
                "bench.calpico",
                "--log-level",
                "warning",
            )
            procs.append(server)
            provider = spawn(__file__, "--serve-provider", str(llm_port), "--ttft", str(args.ttft))
            procs.append(provider)
            wait_http(f"http://127.0.0.1:{port}/healthz", server)
            wait_http(f"http://127.0.0.1:{llm_port}/stats", provider)
            await run(f"http://127.0.0.1:{port}", f"http://127.0.0.1:{llm_port}", tmp, procs, args)
        finally:
            for proc in procs:
                proc.terminate()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(10)


STEPS = (
    ("1 Bob's device: send → request out (encrypt, store)", "sdk"),
    ("2 server: Bob's request in → frame at the assistant", "server"),
    ("3 the assistant's device: frame → message event (decrypt, store)", "sdk"),
    ("4 the assistant decides, builds the prompt → provider request", "assistant"),
    ("5a the provider's own time to first token", "provider"),
    ("5b provider request → first token, minus 5a (HTTP, the openai SDK)", "assistant"),
    ("6 the assistant's device: first token → reply request out (encrypt, store)", "sdk"),
    ("7 server: the reply's request in → frame at Carol", "server"),
    ("8 Carol's device: frame → shown", "sdk"),
)
SHARES = (
    ("server (2 + 7)", "server"),
    ("SDK on the three devices (1 + 3 + 6 + 8)", "sdk"),
    ("the assistant's own (4 + 5b)", "assistant"),
)


def ms(value: float) -> str:
    return f"{value * 1e3:.1f}"


def read_trace(trace: Path) -> tuple[dict[str, dict[str, float]], dict[str, tuple[float, float]]]:
    """The assistant process's notes: per mention (its message id), and its HTTP sends (by client_id)."""
    replies: dict[str, dict[str, float]] = {}
    posts: dict[str, tuple[float, float]] = {}
    if trace.exists():
        for line in trace.read_text().splitlines():
            entry = json.loads(line)
            if "post" in entry:
                posts.setdefault(entry["post"], (entry["start"], entry["end"]))
            else:
                replies[entry["mention"]] = entry
    return replies, posts


async def measure(
    url: str, llm: str, probe: Probe, trace: Path, room: str, bob: Person, carol: Person, mention: list[Mention], n: int
) -> dict[str, list[float]]:
    """One run: ``n`` plain messages Bob → Carol, then ``n`` mentions; every step's values (seconds)."""
    values: dict[str, list[float]] = {}
    for i in range(n):  # the same path without an assistant: one ordinary message, Bob → Carol
        start = time.perf_counter()
        sent = await bob.chats.send_text(room, f"plain message {i}")
        async with asyncio.timeout(30):
            while sent.message_id not in carol.texts:
                await asyncio.sleep(0.001)
        values.setdefault("hop", []).append(carol.texts[sent.message_id] - start)
        await asyncio.sleep(0.2)
    rounds = []
    async with httpx.AsyncClient() as http:
        for i in range(n):
            start = time.perf_counter()
            sent = await bob.chats.send_text(room, f"@Pico idea {i} for the trip?", mentions=mention)
            async with asyncio.timeout(30):
                while sent.message_id not in carol.first_parts:
                    await asyncio.sleep(0.001)
            rounds.append((sent.message_id, start, carol.first_parts[sent.message_id]))
            await asyncio.sleep(0.5)  # let the stream finish before the next round
        ttfts = (await http.get(f"{llm}/stats")).json()["ttfts"][-n:]
    replies, assistant_posts = read_trace(trace)
    for (message_id, start, shown), ttft in zip(rounds, ttfts, strict=True):
        values.setdefault("total", []).append(shown - start)
        values.setdefault("overhead", []).append(shown - start - ttft)
        entry = replies.get(message_id)
        bob_post = probe.first_post_after(start)
        if entry is None or "first_token" not in entry or bob_post is None:
            continue
        later = [(s, cid) for cid, (s, _e) in assistant_posts.items() if s >= entry["first_token"]]
        if not later:
            continue
        reply_start, reply_cid = min(later)
        at_carol = probe.frames.get(reply_cid)
        if at_carol is None:
            continue
        _cid, bob_start, bob_end = bob_post
        marks = (
            bob_start - start,
            entry["frame_in"] - bob_start,
            entry["received"] - entry["frame_in"],
            entry["request"] - entry["received"],
            ttft,
            entry["first_token"] - entry["request"] - ttft,
            reply_start - entry["first_token"],
            at_carol - reply_start,
            shown - at_carol,
        )
        for (name, _share), value in zip(STEPS, marks, strict=True):
            values.setdefault(name, []).append(value)
        for name, share in SHARES:
            values.setdefault(name, []).append(sum(v for (_n, s), v in zip(STEPS, marks, strict=True) if s == share))
        values.setdefault("server accepts Bob's message (his HTTP request's round trip)", []).append(
            bob_end - bob_start
        )
    return values


async def run(url: str, llm: str, tmp: Path, procs: list[subprocess.Popen[bytes]], args: argparse.Namespace) -> None:
    probe = Probe()
    probe.install()
    t0 = time.perf_counter()
    everyone = await make_people(url, tmp, args.members)
    alice, bob, carol = everyone[0], everyone[1], everyone[2]
    live = everyone if args.all_live else [alice, bob, carol]
    for person in live:
        await person.client.start()
    for other in everyone[1:]:
        await other.client.contacts.accept(alice.client.username)
    settings = ProviderSettings(base_url=llm + "/v1", model="bench", inference=InferenceLocation.SELF_HOSTED)
    owner = Assistants(alice.chats)
    made = await owner.create(
        "Pico", path=tmp / "pico.db", key=KEY, provider=settings, retry=RETRY, key_package_policy=POLICY
    )
    await made.client.close()  # its own process opens its store
    trace = tmp / "trace.jsonl"
    assistant = spawn(
        __file__, "--serve-assistant", str(tmp / "pico.db"), llm + "/v1", str(trace), env={"PYTHONUNBUFFERED": "1"}
    )
    procs.append(assistant)
    room = await alice.chats.create_room("bench", [p.client.username for p in everyone[1:]])
    for person in (bob, carol):
        async with asyncio.timeout(60):
            await person.added.wait()
    await owner.add(room.id)
    async with asyncio.timeout(60):
        await carol.carded.wait()
    await asyncio.sleep(1.0)  # let the assistant's process take in the room and its settings
    print(
        f"assistant latency: {args.members} people + the assistant in one room "
        f"({'all' if args.all_live else 'three'} devices live; server, provider and assistant in their own processes), "
        f"{args.repeat} runs of {args.mentions} mentions, provider TTFT {args.ttft * 1e3:.0f} ms, "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    print(f"  setup (accounts, room, assistant) {time.perf_counter() - t0:.1f} s (not measured)")
    mention = [Mention(username=alice.client.username, device_id=made.owned.device_id)]
    runs: list[dict[str, float]] = []  # per run, the median of every step
    for r in range(args.repeat):
        values = await measure(url, llm, probe, trace, room.id, bob, carol, mention, args.mentions)
        medians = {name: statistics.median(v) for name, v in values.items() if v}
        runs.append(medians)
        overheads = sorted(values["overhead"])
        p95 = overheads[min(len(overheads) - 1, int(len(overheads) * 0.95))]
        print(
            f"  run {r + 1}: Calpico overhead median {ms(medians['overhead'])} ms (p95 {ms(p95)}, "
            f"min {ms(overheads[0])}); end to end {ms(medians['total'])} ms; one plain hop Bob → Carol "
            f"{ms(medians['hop'])} ms; load average {os.getloadavg()[0]:.1f}"
        )

    def over_runs(name: str) -> str:
        got = [m[name] for m in runs if name in m]
        return ms(statistics.median(got)) if got else "n/a"

    print(f"median over {args.repeat} runs (each run's median):")
    print(f"  end to end (mention sent → first token on Carol's device): {over_runs('total')} ms")
    print(f"  Calpico overhead (end to end − provider TTFT): {over_runs('overhead')} ms (target < 50 ms)")
    print("  where it goes (steps do not add up exactly: each is its own median):")
    for name, _share in STEPS:
        print(f"    {name}: {over_runs(name)} ms")
    for name, _share in SHARES:
        print(f"    = {name}: {over_runs(name)} ms")
    print(f"    (server accepts Bob's message, his HTTP round trip: {over_runs(SERVER_ACCEPT)} ms)")
    print(f"  for scale: one ordinary message Bob → Carol (send → shown): {over_runs('hop')} ms")
    for person in everyone:
        if person.watcher is not None:
            person.watcher.cancel()
        await person.client.close()


SERVER_ACCEPT = "server accepts Bob's message (his HTTP request's round trip)"


if __name__ == "__main__":
    asyncio.run(main())
