"""Fan-out benchmark: Calpico's server against a bare `websockets` broadcast, same machine, same run.

    .venv/bin/python benchmarks/server_fanout.py [--quick] [--repeat 3] [--sizes 2,10,50,1000]
                                                  [--idle 10000] [--database-url URL] [--no-pin]

What it does
------------
1. Starts ``calpico server`` (SQLite, WAL, synchronous=FULL: every message is
   on disk before it is acknowledged) and, beside it, a bare `websockets`
   broadcast server (no storage, no auth, no parsing) as the ceiling. Both
   servers are pinned to CPU 0 and this process — the load generator, senders
   and receivers — to CPU 1 (``os.sched_setaffinity``), so each server gets
   the same core and the load does not compete with it (``--no-pin`` to skip).
2. Registers devices over HTTP (signed-challenge login), builds groups of 2,
   10 and 50 members (several groups each, 100 devices per configuration)
   and one 1,000-member group, with real MLS commits/Welcomes, and connects
   every device to both servers by WebSocket. The clients are a minimal
   RFC 6455 client on raw asyncio protocols (frames counted, not parsed), so
   the load generator is not what limits either server.
3. For each group size: one sender per group pushes 200-byte opaque messages
   over its WebSocket with a window of in-flight sends, for a few seconds
   (saturation): accepted messages/s (acknowledged by the server after the
   write) and delivered frames/s (counted at the receivers). Then the same at
   half of the (median) saturated rate, measuring send→deliver latency
   (p50/p99). Each run alternates the two servers, ``--repeat`` times; the
   medians are printed. The bare server gets the identical load from the
   identical client code.
4. Connects ``--idle`` extra devices that do nothing and reports the
   server's RSS growth.

A sender that gets no answer for 30 s prints a "no answer" line and ends its
run (a stall is a result, not a hang). ``FANOUT_SERVER_LOG=FILE`` keeps both
servers' output in FILE. Nothing here is asserted: it prints figures.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import os
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from tests.server import mls_messages as mls  # noqa: E402
from tests.server.procs import free_port  # noqa: E402

PAYLOAD = 200
STALL_SECONDS = 30.0
SERVER_CPU, LOAD_CPU = 0, 1


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


# --- the bare broadcast server (the ceiling) ---------------------------------------

BARE_SERVER = r"""
import asyncio, sys, json
import uvloop, websockets
from websockets.asyncio.server import serve, broadcast
groups = {}
async def handler(ws):
    gid = ws.request.path.rsplit("/", 1)[-1]
    members = groups.setdefault(gid, set())
    members.add(ws)
    try:
        async for frame in ws:
            # Relay to every other member, then answer the sender (as Calpico acknowledges a send).
            broadcast([m for m in members if m is not ws], frame)
            await ws.send('{"type":"sent"}')
    finally:
        members.discard(ws)
async def main():
    async with serve(handler, "127.0.0.1", int(sys.argv[1]), max_size=None, compression=None):
        await asyncio.Future()
uvloop.run(main())
"""


# --- a minimal WebSocket client (RFC 6455) ----------------------------------------------


class WsClient(asyncio.Protocol):
    """Counts text frames; answers pings; sends masked text frames (mask key 0: the payload goes as is)."""

    def __init__(self, member: Member) -> None:
        self.m = member
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.handshake: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.upgraded = False
        self.ack_waiter: asyncio.Future[None] | None = None
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if not self.handshake.done():
            self.handshake.set_exception(ConnectionError("closed during the handshake"))
        self._wake()

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        if not self.upgraded:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            status = bytes(buf[: buf.find(b"\r\n")])
            del buf[: end + 4]
            if b" 101 " not in status:
                self.handshake.set_exception(ConnectionError(status.decode()))
                return
            self.upgraded = True
            self.handshake.set_result(None)
        m = self.m
        pos, n = 0, len(buf)
        while n - pos >= 2:
            b0, b1 = buf[pos], buf[pos + 1] & 0x7F
            head = 2
            if b1 == 126:
                if n - pos < 4:
                    break
                b1, head = int.from_bytes(buf[pos + 2 : pos + 4], "big"), 4
            elif b1 == 127:
                if n - pos < 10:
                    break
                b1, head = int.from_bytes(buf[pos + 2 : pos + 10], "big"), 10
            if n - pos < head + b1:
                break
            start, pos = pos + head, pos + head + b1
            op = b0 & 0x0F
            if op == 1:
                if buf[start + 9 : start + 13] == b"sent":
                    m.acked += 1
                    self._wake()
                    continue
                m.received += 1
                if m.sample:
                    i = buf.find(b'"client_id":"t', start, pos)
                    if i >= 0:
                        j = buf.index(b"-", i + 14, pos)
                        m.latencies.append(time.perf_counter() - float(buf[i + 14 : j]))
            elif op == 9 and self.transport is not None:  # ping: pong with the same payload
                self.transport.write(bytes((0x8A, 0x80 | b1)) + b"\0\0\0\0" + bytes(buf[start:pos]))
        del buf[:pos]

    def _wake(self) -> None:
        w = self.ack_waiter
        if w is not None and not w.done():
            w.set_result(None)

    def send(self, text: str) -> None:
        payload = text.encode()
        n = len(payload)
        if n < 126:
            head = bytes((0x81, 0x80 | n))
        elif n < 65536:
            head = bytes((0x81, 0xFE)) + n.to_bytes(2, "big")
        else:
            head = bytes((0x81, 0xFF)) + n.to_bytes(8, "big")
        assert self.transport is not None
        self.transport.write(head + b"\0\0\0\0" + payload)

    async def wait_ack(self) -> None:
        self.ack_waiter = asyncio.get_running_loop().create_future()
        await self.ack_waiter
        self.ack_waiter = None


async def ws_connect(url: str, member: Member, headers: dict[str, str]) -> WsClient:
    rest = url.removeprefix("ws://")
    hostport, _, path = rest.partition("/")
    host, _, port = hostport.partition(":")
    loop = asyncio.get_running_loop()
    transport, proto = await loop.create_connection(lambda: WsClient(member), host, int(port))
    proto.transport = transport
    lines = [f"GET /{path} HTTP/1.1", f"Host: {hostport}", "Upgrade: websocket", "Connection: Upgrade"]
    lines += [f"Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}", "Sec-WebSocket-Version: 13"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    transport.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    await asyncio.wait_for(proto.handshake, 60)
    return proto


# --- clients ------------------------------------------------------------------------


@dataclass
class Member:
    username: str
    device_id: str
    keys: mls.DeviceKeys
    token: str
    conns: dict[str, WsClient] = field(default_factory=dict)
    received: int = 0
    acked: int = 0
    latencies: list[float] = field(default_factory=list)
    sample: bool = False


async def register(http: httpx.AsyncClient, sem: asyncio.Semaphore) -> Member:
    async with sem:
        keys = mls.DeviceKeys.generate()
        name = "b" + uuid.uuid4().hex[:12]
        r = await http.post(
            "/v1/accounts",
            json={"username": name, "device": {"signature_key": b64(keys.public_key), "cipher_suite": mls.SUITE}},
        )
        r.raise_for_status()
        device_id = r.json()["device"]["device_id"]
        ch = (await http.post("/v1/auth/challenge", json={"device_id": device_id})).json()
        nonce = base64.urlsafe_b64decode(ch["nonce"] + "==")
        sig = keys.sign_challenge(nonce, device_id, ch["server_name"])
        r = await http.post(
            "/v1/auth/token", json={"device_id": device_id, "nonce": ch["nonce"], "signature": b64(sig)}
        )
        r.raise_for_status()
        return Member(name, device_id, keys, r.json()["token"])


async def build_group(http: httpx.AsyncClient, members: list[Member]) -> bytes:
    """Create a group of ``members`` with real Add commits and Welcomes (members[0] commits)."""
    gid = uuid.uuid4().bytes
    owner = members[0]
    h = {"Authorization": f"Bearer {owner.token}"}
    (
        await http.post("/v1/groups", json={"group_id": b64(gid), "cipher_suite": mls.SUITE}, headers=h)
    ).raise_for_status()
    rest = members[1:]
    for epoch, start in enumerate(range(0, len(rest), 400)):
        chunk = rest[start : start + 400]
        kps = []
        for m in chunk:
            kp = mls.key_package(m.keys)
            r = await http.post(
                "/v1/key-packages", json={"key_packages": [b64(kp)]}, headers={"Authorization": f"Bearer {m.token}"}
            )
            r.raise_for_status()
            kps.append(kp)
        body = {
            "client_id": uuid.uuid4().hex,
            "message": b64(mls.commit(gid, epoch, 0, adds=tuple(kps))),
            "welcome": b64(mls.welcome(*kps)),
        }
        r = await http.post(f"/v1/groups/{b64(gid)}/messages", json=body, headers=h)
        r.raise_for_status()
    return gid


_FRAME_CACHE: dict[tuple[bytes, int, bool], tuple[str, str]] = {}


def app_frame(gid: bytes, epoch: int, calpico: bool, t: float, i: int) -> str:
    """A send frame; the MLS message is built once per group, the client id carries the send time."""
    key = (gid, epoch, calpico)
    parts = _FRAME_CACHE.get(key)
    if parts is None:
        if calpico:
            msg = b64(mls.application(gid, epoch, os.urandom(PAYLOAD)))
            head = '{"type":"send","group_id":"' + b64(gid) + '","client_id":"'
            parts = (head, '","message":"' + msg + '"}')
        else:
            parts = ('{"type":"message","client_id":"', '","body":"' + "x" * PAYLOAD + '"}')
        _FRAME_CACHE[key] = parts
    return f"{parts[0]}t{t:.6f}-{i}{parts[1]}"


@dataclass
class Target:
    name: str
    calpico: bool
    ws_url: str


Group = tuple[bytes, int, list[Member]]


async def run_load(
    target: Target, groups: list[Group], seconds: float, rate: float | None, window: int = 64
) -> tuple[float, float, list[float]]:
    """Senders (member 0 of each group) send for ``seconds``; return (accepted/s, delivered/s, latencies)."""
    for _, _, members in groups:
        for m in members:
            m.received = 0
            m.acked = 0
            m.latencies = []
    receivers = [m for _, _, ms in groups for m in ms[1:]]
    stop = time.perf_counter() + seconds

    async def sender(gid: bytes, epoch: int, s: Member) -> None:
        ws = s.conns[target.name]
        sent = 0
        per_sender = None if rate is None else rate / len(groups)
        next_at = time.perf_counter()
        while time.perf_counter() < stop and not ws.closed:
            if per_sender is not None:
                delay = next_at - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                next_at += 1.0 / per_sender
            while sent - s.acked >= window and not ws.closed:
                try:
                    await asyncio.wait_for(ws.wait_ack(), STALL_SECONDS)
                except TimeoutError:
                    # A figure, not a hang: say so and end this sender's run.
                    print(f"  ! {target.name}: no answer to {sent - s.acked} sends for {STALL_SECONDS} s", flush=True)
                    return
            ws.send(app_frame(gid, epoch, target.calpico, time.perf_counter(), sent))
            sent += 1
        give_up = time.perf_counter() + 10
        while s.acked < sent and time.perf_counter() < give_up and not ws.closed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(ws.wait_ack(), 1)

    t0 = time.perf_counter()
    await asyncio.gather(*(sender(gid, ep, ms[0]) for gid, ep, ms in groups))
    await asyncio.sleep(0.5)  # let the last frames arrive
    elapsed = time.perf_counter() - t0 - 0.5
    accepted = sum(ms[0].acked for _, _, ms in groups)
    delivered = sum(m.received for m in receivers)
    lat = [x for m in receivers for x in m.latencies]
    return accepted / elapsed, delivered / elapsed, lat


async def connect(target: Target, m: Member, gid: bytes | None) -> None:
    if target.calpico:
        url, headers = target.ws_url, {"Authorization": f"Bearer {m.token}"}
    else:
        url, headers = f"{target.ws_url}/{b64(gid or b'idle')}", {}
    m.conns[target.name] = await ws_connect(url, m, headers)


def disconnect(members: list[Member]) -> None:
    for m in members:
        for ws in m.conns.values():
            if ws.transport is not None:
                ws.transport.close()
        m.conns.clear()


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] * 1000


def start(args: list[str], env: dict[str, str] | None, pin: bool) -> subprocess.Popen[bytes]:
    log = open(os.environ["FANOUT_SERVER_LOG"], "ab") if os.environ.get("FANOUT_SERVER_LOG") else subprocess.DEVNULL  # noqa: SIM115
    p = subprocess.Popen(args, stdout=log, stderr=log, env=env)
    if pin:
        os.sched_setaffinity(p.pid, {SERVER_CPU})
    return p


async def wait_http(url: str) -> None:
    async with httpx.AsyncClient() as c:
        for _ in range(300):
            try:
                if (await c.get(url)).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


_BATCHES = [0.0, 0.0]


async def mean_batch(http: httpx.AsyncClient) -> float:
    """Messages per group-commit transaction since the last call, from the server's /metrics."""
    text = (await http.get("/metrics")).text
    total = count = 0.0
    for line in text.splitlines():
        if line.startswith("calpico_write_batch_size_sum "):
            total = float(line.split()[1])
        elif line.startswith("calpico_write_batch_size_count "):
            count = float(line.split()[1])
    (t0, c0), _BATCHES[:] = _BATCHES, [total, count]
    return (total - t0) / max(1.0, count - c0)


def mib(proc: psutil.Process) -> float:
    return float(proc.memory_info().rss) / 2**20


@dataclass
class Figures:
    accepted: list[float] = field(default_factory=list)
    delivered: list[float] = field(default_factory=list)
    latencies: list[list[float]] = field(default_factory=list)

    def med(self, values: list[float]) -> float:
        return statistics.median(values) if values else float("nan")

    def p(self, q: float) -> float:
        return statistics.median(pct(lat, q) for lat in self.latencies) if self.latencies else float("nan")


async def measure_size(
    http: httpx.AsyncClient,
    targets: tuple[Target, Target],
    pool: list[Member],
    size: int,
    count: int,
    opts: argparse.Namespace,
    proc: psutil.Process,
) -> None:
    groups_spec = [pool[i * size : (i + 1) * size] for i in range(count)]
    built = [(await build_group(http, ms), 1 + (len(ms) - 2) // 400, ms) for ms in groups_spec]
    for target in targets:
        for gid, _, ms in built:
            for start_i in range(0, len(ms), 250):
                await asyncio.gather(*(connect(target, m, gid) for m in ms[start_i : start_i + 250]))
    await asyncio.sleep(1.0 if size < 1000 else 3.0)  # backlog (Welcome, commits) drains
    figures = {t.name: Figures() for t in targets}
    for _ in range(opts.repeat):
        for target in targets:
            acc, dlv, _ = await run_load(target, built, opts.seconds, None)
            figures[target.name].accepted.append(acc)
            figures[target.name].delivered.append(dlv)
    for _, _, ms in built:
        for m in ms[1:]:
            m.sample = True
    for _ in range(opts.repeat):
        for target in targets:
            half = figures[target.name].med(figures[target.name].accepted) / 2
            _a, _d, lat = await run_load(target, built, opts.seconds, half)
            figures[target.name].latencies.append(lat)
    rss = mib(proc)
    batch = await mean_batch(http)
    for target in targets:
        f = figures[target.name]
        acc, dlv = f.med(f.accepted), f.med(f.delivered)
        spread = f"{min(f.delivered):,.0f}-{max(f.delivered):,.0f}"
        print(
            f"{size:>7} {target.name:<16} {acc:>14,.0f} {dlv:>12,.0f} {spread:>15} "
            f"{f.p(0.5):>7.2f} {f.p(0.99):>7.2f}  {acc / 2:>8,.0f}" + (f"  {rss:>5.0f}" if target.calpico else "")
        )
    ours, bare = figures[targets[0].name], figures[targets[1].name]
    print(
        f"{size:>7} {'ratio':<16} {ours.med(ours.accepted) / bare.med(bare.accepted):>14.0%} "
        f"{ours.med(ours.delivered) / bare.med(bare.delivered):>12.0%}   "
        f"(Synapse anchor: ~330 frames/s at 10 members; ours = {ours.med(ours.delivered) / 330:,.0f}x; "
        f"{batch:.1f} messages per commit)",
        flush=True,
    )
    for _, _, ms in built:
        disconnect(ms)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="short runs, no 1,000-member group, 1,000 idle")
    parser.add_argument("--sizes", default="2,10,50,1000", help="group sizes to load ('' for none)")
    parser.add_argument("--idle", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--repeat", type=int, default=3, help="runs per server and load; medians are printed")
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--no-pin", dest="pin", action="store_false", help="do not pin servers and load to CPUs")
    opts = parser.parse_args()
    wanted = [int(x) for x in opts.sizes.split(",") if x.strip()]
    if opts.quick:
        opts.idle = min(opts.idle, 1000)
        opts.seconds = 2.0
        wanted = [x for x in wanted if x < 1000]
    per_size = {2: 50, 10: 10, 50: 2, 1000: 1}
    sizes = [(size, per_size.get(size, max(1, 100 // size))) for size in wanted]
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if opts.pin and len(os.sched_getaffinity(0)) < 2:
        opts.pin = False
    if opts.pin:
        os.sched_setaffinity(0, {LOAD_CPU})

    tmp = Path(tempfile.mkdtemp(prefix="calpico-bench-"))
    port, bare_port = free_port(), free_port()
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    cmd = [sys.executable, "-c", "from calpico.cli import main; main()", "server", "--port", str(port)]
    cmd += ["--data-dir", str(tmp), "--log-level", "warning", "--server-name", "bench"]
    if opts.database_url:
        cmd += ["--database-url", opts.database_url]
    server = start(cmd, env, opts.pin)
    bare = start([sys.executable, "-c", BARE_SERVER, str(bare_port)], None, opts.pin)
    try:
        await wait_http(f"http://127.0.0.1:{port}/healthz")
        await asyncio.sleep(0.5)
        proc = psutil.Process(server.pid)
        calpico = Target("calpico", True, f"ws://127.0.0.1:{port}/v1/ws")
        ceiling = Target("bare websockets", False, f"ws://127.0.0.1:{bare_port}/g")
        pinned = f"servers on CPU {SERVER_CPU}, load on CPU {LOAD_CPU}" if opts.pin else "not pinned"
        print(f"{pinned}; {opts.repeat} runs of {opts.seconds:.0f} s per server and load (medians)")
        # Fresh devices for every configuration, so no backlog of an earlier one replays into it.
        need = sum(size * count for size, count in sizes)
        http = httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=120)
        t0 = time.perf_counter()
        sem = asyncio.Semaphore(16)
        devices = list(await asyncio.gather(*(register(http, sem) for _ in range(need))))
        print(f"setup: registered {len(devices)} devices in {time.perf_counter() - t0:.1f}s")
        print(f"server RSS after setup: {mib(proc):.0f} MiB")
        print()
        header = f"{'members':>7} {'server':<16} {'accepted msg/s':>14} {'delivered/s':>12} {'(min-max)':>15} "
        header += f"{'p50 ms':>7} {'p99 ms':>7}  {'at msg/s':>8}  {'RSS MiB':>5}"
        print(header, flush=True)
        offset = 0
        for size, count in sizes:
            pool = devices[offset : offset + size * count]
            offset += size * count
            await measure_size(http, (calpico, ceiling), pool, size, count, opts, proc)
        if sizes:
            print(f"\nserver RSS after the load: {mib(proc):.0f} MiB")

        # Idle devices: connect opts.idle authenticated devices that never send.
        if opts.idle:
            t0 = time.perf_counter()
            idle = list(await asyncio.gather(*(register(http, sem) for _ in range(opts.idle))))
            print(f"registered {len(idle)} idle devices in {time.perf_counter() - t0:.1f}s")
            await asyncio.sleep(1.0)
            before = proc.memory_info().rss
            for start_i in range(0, len(idle), 500):
                await asyncio.gather(*(connect(calpico, m, None) for m in idle[start_i : start_i + 500]))
            await asyncio.sleep(2.0)
            after = proc.memory_info().rss
            print(
                f"{len(idle)} idle connected devices: server RSS {after / 2**20:.0f} MiB "
                f"(+{(after - before) / 2**20:.0f} MiB, {(after - before) / len(idle) / 1024:.1f} KiB each)"
            )
            disconnect(idle)
        await http.aclose()
    finally:
        for p in (server, bare):
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()


if __name__ == "__main__":
    import uvloop

    uvloop.run(main())
