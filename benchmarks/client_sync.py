"""The conversation layer end to end: catch-up throughput against raw MLS, and send→display latency.

    .venv/bin/python benchmarks/client_sync.py [--messages 10000] [--members 50] [--latency-members 100]

Runs the real server in a thread (uvicorn on 127.0.0.1, SQLite in a
temporary folder) and real SDK clients (`Client` + `Conversations`, each
with its own encrypted store) in this process.

1. **Catch-up**: a room of ``--members`` people; one member's device goes
   offline while ``--senders`` others send ``--messages`` text messages.
   Before it comes back, its saved group state is loaded into a bare
   `calpico.mls.Group` and the same ciphertexts (read from the inbox) are
   processed raw: that is the MLS unprotect cost. Then the device opens its
   store and catches up through the SDK (`Client.sync`: fetch, decrypt,
   apply, store, acknowledge). Printed: messages/s of both and their ratio
   (the SDK's overhead over MLS; the issue's target is ≤ 2×).
2. **Latency**: a room of ``--latency-members`` people, all of them live
   clients with a push connection in this one process; one sends
   ``--latency-messages`` messages one after another and the time from
   ``send_text`` to each receiver's `MessageReceived` is recorded. Printed:
   median and 95th percentile over all receivers, and the median time until
   the last receiver has it. Everything shares two cores, so this is the
   cost of 100 clients at once, not of one phone.

Figures only; nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import socket
import statistics
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import uvicorn

from calpico.client import Account, Client, Conversations
from calpico.client.events import ConversationAdded, Event, MessageReceived
from calpico.client.keypackages import KeyPackagePolicy
from calpico.client.store import Argon2Params, Passphrase, Transaction
from calpico.client.transport import RetryPolicy
from calpico.mls.group import Group
from calpico.server.app import create_app
from calpico.server.config import ServerConfig
from calpico.wire.delivery import Delivered

FAST_KDF = Argon2Params(time_cost=1, memory_cost=8 * 1024, parallelism=1)
KEY = Passphrase("bench", FAST_KDF)
POLICY = KeyPackagePolicy(batch=4, low_water=2)
RETRY = RetryPolicy(attempts=6, base_delay=0.05, max_delay=1.0)


def start_server(data: Path) -> tuple[str, uvicorn.Server, threading.Thread]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = ServerConfig(
        server_name="bench.calpico",
        data_dir=data,
        port=port,
        sweep_interval=3600,
        claim_burst=10_000,
        log_level="warning",
    )
    server = uvicorn.Server(
        uvicorn.Config(create_app(config), host="127.0.0.1", port=port, log_level="warning", access_log=False)
    )
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    return f"http://127.0.0.1:{port}", server, thread


@dataclasses.dataclass(eq=False)
class Person:
    client: Client
    chats: Conversations
    path: Path
    received: dict[str, float] = dataclasses.field(default_factory=dict)
    added: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)
    watcher: asyncio.Task[None] | None = None

    def watch(self) -> None:
        subscription = self.client.events()

        async def run() -> None:
            async for event in subscription:
                self.seen(event)

        self.watcher = asyncio.get_running_loop().create_task(run())

    def seen(self, event: Event) -> None:
        if isinstance(event, MessageReceived):
            self.received[event.message.message_id] = time.perf_counter()
        elif isinstance(event, ConversationAdded):
            self.added.set()

    async def close(self) -> None:
        await self.client.close()
        if self.watcher is not None:
            self.watcher.cancel()


async def people(url: str, tmp: Path, n: int, prefix: str, *, push: bool = True) -> list[Person]:
    out = []
    for i in range(n):
        name = f"{prefix}{i:03d}"
        path = tmp / f"{name}.db"
        account = await Account.create(url, name, path, KEY, retry=RETRY, key_package_policy=POLICY)
        client = Client(account, expiry_interval=0)
        person = Person(client, Conversations(client), path)
        person.watch()
        await client.start(push=push)
        out.append(person)
    return out


async def room_of(everyone: list[Person], name: str) -> str:
    owner = everyone[0]
    for other in everyone[1:]:
        await other.client.contacts.accept(owner.client.username)
    room = await owner.chats.create_room(name, [p.client.username for p in everyone[1:]])
    for other in everyone[1:]:
        if other.client.connection_state.value != "connected":
            await other.client.sync()
        async with asyncio.timeout(120):
            await other.added.wait()
    return room.id


async def catch_up(url: str, tmp: Path, members: int, senders: int, messages: int, profile: bool = False) -> None:
    print(f"catch-up: {members} members, {senders} senders, {messages} messages")
    everyone = await people(url, tmp, members, "cu")
    room = await room_of(everyone, "catch-up")
    target = everyone[-1]
    group_id = (await target.chats.get(room)).group_id
    for person in everyone[senders:]:  # only the senders stay live; the others would only compete for the CPU
        await person.close()
    t0 = time.perf_counter()
    per = messages // senders

    async def send(person: Person, k: int) -> None:
        for i in range(per):
            await person.chats.send_text(room, f"message {i} of sender {k}, some ordinary length of text here")

    await asyncio.gather(*(send(p, k) for k, p in enumerate(everyone[:senders])))
    sent = per * senders
    print(f"  sent {sent} messages in {time.perf_counter() - t0:.1f} s (setup, not measured)")

    # The SDK: open the store, fetch, decrypt, apply, store, acknowledge — recording the ciphertexts it gets.
    account = await Account.open(target.path, KEY, retry=RETRY, key_package_policy=POLICY)
    epoch = await account.store.group_state(group_id)
    message_state = await account.store.group_message_state(group_id)
    assert epoch is not None and message_state is not None
    client = Client(account, expiry_interval=0)
    engine = Conversations(client)._engine
    bodies: list[bytes] = []
    deliver = engine.on_delivered

    async def recording(tx: Transaction, message: Delivered) -> Sequence[Event]:
        bodies.append(message.body)
        return await deliver(tx, message)

    engine.on_delivered = recording  # type: ignore[method-assign]
    t0 = time.perf_counter()
    if profile:
        import cProfile
        import pstats

        prof = cProfile.Profile()
        prof.enable()
    applied = await client.sync()
    sdk = time.perf_counter() - t0
    if profile:
        prof.disable()
        pstats.Stats(prof).sort_stats("tottime").print_stats(25)
    await client.close()

    # Raw MLS: the same saved group state and the very same ciphertexts, through a bare Group.
    group = Group.from_parts(bytes(epoch.state), bytes(message_state.state))
    t0 = time.perf_counter()
    for body in bodies:
        group.process(body)
    raw = time.perf_counter() - t0
    print(f"  raw calpico.mls process(): {len(bodies) / raw:9,.0f} messages/s ({raw / len(bodies) * 1e6:6.0f} µs each)")
    print(f"  SDK catch-up (Client.sync): {applied / sdk:8,.0f} messages/s ({sdk / applied * 1e6:6.0f} µs each)")
    print(f"  SDK / raw MLS: {sdk / applied / (raw / len(bodies)):.2f}x  (target: <= 2x)")
    for person in everyone[:senders]:
        await person.close()


async def latency(url: str, tmp: Path, members: int, count: int) -> None:
    print(f"latency: {members} members, all live in this process, {count} messages")
    t0 = time.perf_counter()
    everyone = await people(url, tmp, members, "lt")
    room = await room_of(everyone, "latency")
    print(f"  setup (accounts, room, joins) {time.perf_counter() - t0:.1f} s (not measured)")
    sender, receivers = everyone[1], [p for i, p in enumerate(everyone) if i != 1]
    delays: list[float] = []
    lasts: list[float] = []
    for i in range(count):
        start = time.perf_counter()
        message = await sender.chats.send_text(room, f"latency probe {i}")
        async with asyncio.timeout(60):
            while not all(message.message_id in p.received for p in receivers):
                await asyncio.sleep(0.005)
        times = [p.received[message.message_id] - start for p in receivers]
        delays += times
        lasts.append(max(times))
    delays.sort()
    p95 = delays[int(len(delays) * 0.95)]
    print(f"  send→display: median {statistics.median(delays) * 1e3:.1f} ms, p95 {p95 * 1e3:.1f} ms")
    print(f"  until all {len(receivers)} receivers have it: median {statistics.median(lasts) * 1e3:.1f} ms")
    for person in everyone:
        await person.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--members", type=int, default=50)
    parser.add_argument("--senders", type=int, default=10)
    parser.add_argument("--latency-members", type=int, default=100)
    parser.add_argument("--latency-messages", type=int, default=20)
    parser.add_argument("--skip", choices=["catch-up", "latency"], default=None)
    parser.add_argument("--profile", action="store_true", help="print a profile of the SDK catch-up")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        url, server, thread = start_server(tmp / "server")
        try:
            if args.skip != "catch-up":
                await catch_up(url, tmp, args.members, args.senders, args.messages, args.profile)
            if args.skip != "latency":
                await latency(url, tmp, args.latency_members, args.latency_messages)
        finally:
            server.should_exit = True
            thread.join(10)


if __name__ == "__main__":
    asyncio.run(main())
