"""The conversation layer end to end: catch-up throughput against raw MLS, and send→display latency.

    .venv/bin/python benchmarks/client_sync.py [--messages 10000] [--members 50] [--latency-members 100]
        [--repeat 5] [--skip catch-up|latency] [--setup-cache DIR] [--profile]

Runs ``calpico server`` in its own process (SQLite in a temporary folder, on
127.0.0.1; `tests.server.procs.ServerProcess`) and real SDK clients (`Client`
+ `Conversations`, each with its own encrypted store) in this process, so the
SDK's figures do not share an event loop or a GIL with the server.

1. **Catch-up**: a room of ``--members`` people; one member's device is
   offline while ``--senders`` others send ``--messages`` text messages.
   Then the server is stopped and its data folder and the offline device's
   store are copied (with ``--setup-cache DIR`` the copy is kept there and
   reused by later runs, since sending takes minutes). Each of ``--repeat``
   rounds restores both copies, starts the server, and lets the device catch
   up through the SDK twice — over HTTP (`Client.sync`: fetch a page,
   decrypt, apply, store, acknowledge, next page), and from the push
   connection (`Client.start`: the server streams the backlog while the
   device applies it) — then the device's saved group state is loaded into
   a bare `calpico.mls.Group` and the very same ciphertexts are processed
   raw: the MLS unprotect cost. Printed per round and as medians: the cost
   per message of each and the SDK/raw ratio (the SDK's overhead over MLS;
   the issue's target is ≤ 2×).
2. **Latency**: a room of ``--latency-members`` people, all of them live
   clients with a push connection in this one process; one sends
   ``--latency-messages`` messages one after another and the time from
   ``send_text`` to each receiver's `MessageReceived` is recorded, split
   into: the sender's call (protect, store, the server's answer to the
   POST), the pushed frame reaching each receiver's delivery engine (the
   server's write and fan-out, and the wait for this process's event loop),
   and the engine applying it (decrypt, store, event). Printed: medians and
   95th percentiles, and the median time until the last receiver has it.
   ``--latency-live 1`` keeps only one receiver live (the others stay
   members, offline): the server's share plus one client's, for comparison.
   Everything on the client side shares one process and the machine's two
   cores with the server, so this is the cost of 100 clients at once, not of
   one phone.

Figures only; nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from tests.server.procs import ServerProcess  # noqa: E402

from calpico.client import Account, Client, Conversations  # noqa: E402
from calpico.client.events import ConversationAdded, Event, MessageReceived  # noqa: E402
from calpico.client.keypackages import KeyPackagePolicy  # noqa: E402
from calpico.client.store import Argon2Params, Passphrase, Transaction  # noqa: E402
from calpico.client.transport import RetryPolicy  # noqa: E402
from calpico.mls.group import Group  # noqa: E402
from calpico.wire.delivery import Delivered  # noqa: E402

FAST_KDF = Argon2Params(time_cost=1, memory_cost=8 * 1024, parallelism=1)
KEY = Passphrase("bench", FAST_KDF)
POLICY = KeyPackagePolicy(batch=4, low_water=2)
RETRY = RetryPolicy(attempts=6, base_delay=0.05, max_delay=1.0)
STORE_SUFFIXES = ("", "-wal", "-shm")


def server_settings() -> None:
    """Settings the server process reads from its environment: many claims at once, no sweeps."""
    os.environ["CALPICO_CLAIM_BURST"] = "100000"
    os.environ["CALPICO_SWEEP_INTERVAL"] = "3600"


@dataclasses.dataclass(eq=False)
class Person:
    client: Client
    chats: Conversations
    path: Path
    received: dict[str, float] = dataclasses.field(default_factory=dict)
    arrived: dict[int, float] = dataclasses.field(default_factory=dict)  # push frame seq -> reached the engine
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

    def time_arrivals(self) -> None:
        """Note when each pushed message reaches the delivery engine (before it is decrypted)."""
        sync = self.client._sync
        assert sync is not None
        apply = sync.apply

        async def timed(messages: Sequence[Delivered]) -> list[object]:
            now = time.perf_counter()
            for message in messages:
                self.arrived.setdefault(message.seq, now)
            return await apply(messages)  # type: ignore[return-value]

        sync.apply = timed  # type: ignore[method-assign,assignment]

    async def close(self) -> None:
        await self.client.close()
        if self.watcher is not None:
            self.watcher.cancel()


async def people(
    url: str, tmp: Path, n: int, prefix: str, *, push: bool = True, live: int | None = None
) -> list[Person]:
    """``n`` accounts with clients; the first ``live`` (default: all, if ``push``) with a push connection."""
    out = []
    for i in range(n):
        name = f"{prefix}{i:03d}"
        path = tmp / f"{name}.db"
        account = await Account.create(url, name, path, KEY, retry=RETRY, key_package_policy=POLICY)
        client = Client(account, expiry_interval=0)
        person = Person(client, Conversations(client), path)
        person.watch()
        await client.start(push=push and (live is None or i < live))
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


def copy_store(source: Path, target: Path) -> None:
    for suffix in STORE_SUFFIXES:
        found = Path(str(source) + suffix)
        if found.exists():
            shutil.copyfile(found, str(target) + suffix)
        else:
            Path(str(target) + suffix).unlink(missing_ok=True)


async def prepare_catch_up(snapshot: Path, members: int, senders: int, messages: int) -> dict[str, object]:
    """Build the room and the backlog once; leave the server's data and the offline device's store in ``snapshot``."""
    work = snapshot / "work"
    work.mkdir(parents=True, exist_ok=True)
    server = ServerProcess(work / "server").start()
    try:
        everyone = await people(server.url, work, members, "cu", push=False)
        room = await room_of(everyone, "catch-up")
        target = everyone[-1]
        group_id = (await target.chats.get(room)).group_id
        for person in everyone[senders:]:  # only the senders stay open
            await person.close()
        t0 = time.perf_counter()
        per = messages // senders

        async def send(person: Person, k: int) -> None:
            for i in range(per):
                await person.chats.send_text(room, f"message {i} of sender {k}, some ordinary length of text here")

        await asyncio.gather(*(send(p, k) for k, p in enumerate(everyone[:senders])))
        print(f"  sent {per * senders} messages in {time.perf_counter() - t0:.1f} s (setup, not measured)")
        for person in everyone[:senders]:
            await person.close()
    finally:
        server.stop()
    shutil.copytree(work / "server", snapshot / "server")
    copy_store(target.path, snapshot / "target.db")
    meta: dict[str, object] = {"port": server.port, "group_id": group_id.hex(), "sent": per * senders}
    (snapshot / "meta.json").write_text(json.dumps(meta))
    shutil.rmtree(work)
    return meta


@dataclasses.dataclass
class Cost:
    """Wall-clock and CPU seconds (every thread of this process: the store's worker thread counts)."""

    wall: float = 0.0
    cpu: float = 0.0

    @contextlib.contextmanager
    def measure(self) -> Iterator[None]:
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            self.wall += time.perf_counter() - wall
            self.cpu += time.process_time() - cpu

    def per(self, n: int) -> Cost:
        return Cost(self.wall / n, self.cpu / n)


async def catch_up_round(path: Path, group_id: bytes, bodies: list[bytes], profile: bool) -> tuple[Cost, Cost]:
    """One catch-up through the SDK, then the raw MLS cost of the same ciphertexts: (sdk, raw) per message."""
    account = await Account.open(path, KEY, retry=RETRY, key_package_policy=POLICY)
    epoch = await account.store.group_state(group_id)
    message_state = await account.store.group_message_state(group_id)
    assert epoch is not None and message_state is not None
    client = Client(account, expiry_interval=0)
    engine = Conversations(client)._engine
    record = not bodies
    deliver = engine.on_delivered

    async def recording(tx: Transaction, message: Delivered) -> Sequence[Event]:
        bodies.append(message.body)
        return await deliver(tx, message)

    if record:
        engine.on_delivered = recording  # type: ignore[method-assign]
    await client.transport.login()  # not part of catching up
    if profile:
        import cProfile
        import pstats

        prof = cProfile.Profile()
        prof.enable()
    sdk = Cost()
    with sdk.measure():
        applied = await client.sync()
    if profile:
        prof.disable()
        pstats.Stats(prof).sort_stats("tottime").print_stats(30)
    await client.close()

    # Raw MLS: the same saved group state and the very same ciphertexts, through a bare Group.
    group = Group.from_parts(bytes(epoch.state), bytes(message_state.state))
    raw = Cost()
    with raw.measure():
        for body in bodies:
            group.process(body)
    return sdk.per(applied), raw.per(len(bodies))


async def push_round(path: Path, expected: int) -> Cost:
    """The same catch-up through the push connection (`Client.start`), per message."""
    account = await Account.open(path, KEY, retry=RETRY, key_package_policy=POLICY)
    client = Client(account, expiry_interval=0)
    Conversations(client)
    sync = client._sync
    assert sync is not None
    await client.transport.login()  # not part of catching up
    await client.replenish_key_packages(force=True)  # neither is this, which start() does first
    cost = Cost()
    with cost.measure():
        await client.start()
        async with asyncio.timeout(600):
            while sync.applied < expected:
                await asyncio.sleep(0.002)
    await client.close()
    return cost.per(expected)


async def catch_up(tmp: Path, args: argparse.Namespace) -> None:
    print(f"catch-up: {args.members} members, {args.senders} senders, {args.messages} messages")
    snapshot = args.setup_cache or tmp / "snapshot"
    if (snapshot / "meta.json").exists():
        meta = json.loads((snapshot / "meta.json").read_text())
        print(f"  reusing the room and backlog in {snapshot} ({meta['sent']} messages)")
    else:
        meta = await prepare_catch_up(snapshot, args.members, args.senders, args.messages)
    server = ServerProcess(tmp / "catch-up-server")
    server.port = int(meta["port"])  # the device's store names the server by its URL
    group_id = bytes.fromhex(meta["group_id"])
    path = tmp / "catch-up-device.db"
    bodies: list[bytes] = []
    rounds: list[tuple[Cost, Cost, Cost]] = []

    def restore() -> None:
        shutil.rmtree(server.data_dir, ignore_errors=True)
        shutil.copytree(snapshot / "server", server.data_dir)
        copy_store(snapshot / "target.db", path)
        server.start()

    for r in range(args.repeat):
        restore()
        try:
            sdk, raw = await catch_up_round(path, group_id, bodies, args.profile and r == 0)
        finally:
            server.stop()
        restore()
        try:
            pushed = await push_round(path, len(bodies))
        finally:
            server.stop()
        rounds.append((raw, sdk, pushed))
        print(
            f"  round {r + 1}: raw MLS {raw.wall * 1e6:4.0f} µs; Client.sync {sdk.wall * 1e6:4.0f} µs "
            f"({sdk.wall / raw.wall:.2f}x wall, {sdk.cpu / raw.cpu:.2f}x CPU); push {pushed.wall * 1e6:4.0f} µs "
            f"({pushed.wall / raw.wall:.2f}x wall, {pushed.cpu / raw.cpu:.2f}x CPU)"
        )
    med = statistics.median
    raw_wall = med(r[0].wall for r in rounds)
    print(f"  raw calpico.mls process():  {1 / raw_wall:7,.0f} messages/s ({raw_wall * 1e6:5.0f} µs each), median")
    for i, label in ((1, "Client.sync (HTTP)"), (2, "Client.start (push)")):
        wall = med(r[i].wall for r in rounds)
        walls = [r[i].wall / r[0].wall for r in rounds]
        cpus = [r[i].cpu / r[0].cpu for r in rounds]
        print(
            f"  SDK catch-up, {label}: {1 / wall:7,.0f} messages/s ({wall * 1e6:5.0f} µs each); SDK/raw median "
            f"{med(walls):.2f}x wall-clock (rounds {min(walls):.2f}–{max(walls):.2f}x), "
            f"{med(cpus):.2f}x CPU time (rounds {min(cpus):.2f}–{max(cpus):.2f}x); target: <= 2x"
        )


def summary(label: str, values: list[float]) -> str:
    values = sorted(values)
    p95 = values[min(len(values) - 1, int(len(values) * 0.95))]
    return f"{label}: median {statistics.median(values) * 1e3:6.1f} ms, p95 {p95 * 1e3:6.1f} ms"


async def latency(tmp: Path, members: int, count: int, live: int | None) -> None:
    live = members - 1 if live is None else live
    print(f"latency: {members} members, {live} live receivers (+ the sender) in this process, {count} messages")
    server = ServerProcess(tmp / "latency-server").start()
    try:
        t0 = time.perf_counter()
        everyone = await people(server.url, tmp, members, "lt", live=live + 1)
        room = await room_of(everyone, "latency")
        print(f"  setup (accounts, room, joins) {time.perf_counter() - t0:.1f} s (not measured)")
        # everyone[1] sends; everyone[0] and everyone[2:] up to ``live`` of them receive live.
        sender, receivers = everyone[1], [p for i, p in enumerate(everyone[: live + 1]) if i != 1]
        for person in receivers:
            person.time_arrivals()
        totals: list[float] = []
        sends: list[float] = []
        pushes: list[float] = []
        applies: list[float] = []
        lasts: list[float] = []
        for i in range(count):
            await asyncio.sleep(0.05)  # let the previous round's acknowledgements settle
            start = time.perf_counter()
            message = await sender.chats.send_text(room, f"latency probe {i}")
            sent = time.perf_counter()
            async with asyncio.timeout(60):
                while not all(message.message_id in p.received for p in receivers):
                    await asyncio.sleep(0.002)
            assert message.seq is not None
            times = [p.received[message.message_id] - start for p in receivers]
            totals += times
            lasts.append(max(times))
            sends.append(sent - start)
            for p in receivers:
                arrived = p.arrived.get(message.seq, p.received[message.message_id])
                pushes.append(arrived - start)
                applies.append(p.received[message.message_id] - arrived)
        print("  " + summary("send→display                 ", totals))
        print("  " + summary("  sender's send_text returns  ", sends))
        print("  " + summary("  reaches a receiver's engine ", pushes))
        print("  " + summary("  receiver applies (→ event)  ", applies))
        print(f"  until all {len(receivers)} receivers have it: median {statistics.median(lasts) * 1e3:.1f} ms")
        for person in everyone:
            await person.close()
    finally:
        server.stop()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--members", type=int, default=50)
    parser.add_argument("--senders", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=5, help="catch-up rounds (medians are printed)")
    parser.add_argument("--latency-members", type=int, default=100)
    parser.add_argument("--latency-messages", type=int, default=20)
    parser.add_argument(
        "--latency-live", type=int, default=None, help="receivers with a push connection (default: every member)"
    )
    parser.add_argument("--skip", choices=["catch-up", "latency"], default=None)
    parser.add_argument("--setup-cache", type=Path, default=None, help="keep (and reuse) the catch-up backlog here")
    parser.add_argument("--profile", action="store_true", help="print a profile of the first SDK catch-up")
    args = parser.parse_args()
    server_settings()
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        if args.skip != "catch-up":
            await catch_up(tmp, args)
        if args.skip != "latency":
            await latency(tmp, args.latency_members, args.latency_messages, args.latency_live)


if __name__ == "__main__":
    asyncio.run(main())
