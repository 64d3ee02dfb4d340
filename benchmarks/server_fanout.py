"""Fan-out benchmark: Calpico's server against a bare `websockets` broadcast, same machine, same run.

    .venv/bin/python benchmarks/server_fanout.py [--quick] [--idle 10000] [--database-url URL]

What it does
------------
1. Starts ``calpico server`` (SQLite, WAL, synchronous=FULL: every message is
   on disk before it is acknowledged) and, beside it, a bare `websockets`
   broadcast server (no storage, no auth, no parsing) as the ceiling.
2. Registers devices over HTTP (signed-challenge login), builds groups of 2,
   10 and 50 members (several groups each, 100 devices per configuration)
   and one 1,000-member group, with real MLS commits/Welcomes, and connects
   every device by WebSocket.
3. For each group size: one sender per group pushes 200-byte opaque
   messages over its WebSocket with a window of in-flight sends, for a few
   seconds (saturation): accepted messages/s (acknowledged by the server
   after the write) and delivered frames/s (counted at the receivers). Then
   the same at half of that rate, measuring send→deliver latency (p50/p99).
   The bare server gets the identical load from the identical client code.
4. Connects ``--idle`` extra devices that do nothing and reports the
   server's RSS growth.

The load generator runs in this process on the same 2 cores, so both servers
share the machine with it; the ratio is the figure to read. Nothing here is
asserted: it prints figures.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil
import websockets

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from tests.server import mls_messages as mls  # noqa: E402
from tests.server.procs import free_port  # noqa: E402

PAYLOAD = 200


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


# --- clients ------------------------------------------------------------------------


@dataclass
class Member:
    username: str
    device_id: str
    keys: mls.DeviceKeys
    token: str
    ws: Any = None
    received: int = 0
    latencies: list[float] = field(default_factory=list)
    sample: bool = False
    reader: asyncio.Task[None] | None = None
    acks: asyncio.Queue[None] | None = None


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


async def reader(m: Member) -> None:
    """Count frames; for latency, read the send time the sender put in the client id."""
    try:
        async for raw in m.ws:
            frame = raw.decode() if isinstance(raw, bytes) else raw
            if '"sent"' in frame[:20]:
                if m.acks is not None:
                    m.acks.put_nowait(None)
                continue
            m.received += 1
            if m.sample:
                i = frame.find('"client_id":"t')
                if i >= 0:
                    j = frame.index('"', i + 14)
                    m.latencies.append(time.perf_counter() - float(frame[i + 14 : j].split("-")[0]))
    except websockets.ConnectionClosed:
        pass


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


async def run_load(
    target: Target, groups: list[tuple[bytes, int, list[Member]]], seconds: float, rate: float | None, window: int = 64
) -> tuple[float, float, list[float]]:
    """Senders (member 0 of each group) send for ``seconds``; return (accepted/s, delivered/s, latencies)."""
    for _, _, members in groups:
        for m in members:
            m.received = 0
            m.latencies = []
    receivers = [m for _, _, ms in groups for m in ms[1:]]
    stop = time.perf_counter() + seconds
    accepted = 0

    async def sender(gid: bytes, epoch: int, s: Member) -> None:
        nonlocal accepted
        assert s.acks is not None
        inflight = 0
        i = 0
        per_sender = None if rate is None else rate / len(groups)
        next_at = time.perf_counter()
        while time.perf_counter() < stop:
            if per_sender is not None:
                delay = next_at - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                next_at += 1.0 / per_sender
            while inflight >= window:
                await s.acks.get()
                inflight -= 1
                accepted += 1
            await s.ws.send(app_frame(gid, epoch, target.calpico, time.perf_counter(), i))
            inflight += 1
            i += 1
        while inflight:
            try:
                await asyncio.wait_for(s.acks.get(), 10)
            except TimeoutError:
                break
            inflight -= 1
            accepted += 1

    t0 = time.perf_counter()
    await asyncio.gather(*(sender(gid, ep, ms[0]) for gid, ep, ms in groups))
    await asyncio.sleep(0.5)  # let the last frames arrive
    elapsed = time.perf_counter() - t0 - 0.5
    delivered = sum(m.received for m in receivers)
    lat = [x for m in receivers for x in m.latencies]
    return accepted / elapsed, delivered / elapsed, lat


async def connect(target: Target, m: Member, gid: bytes | None) -> None:
    if target.calpico:
        url, headers = target.ws_url, {"Authorization": f"Bearer {m.token}"}
    else:
        url, headers = f"{target.ws_url}/{b64(gid or b'idle')}", {}
    m.ws = await websockets.connect(
        url, additional_headers=headers, max_size=None, compression=None, ping_interval=None
    )
    m.acks = asyncio.Queue()
    m.reader = asyncio.create_task(reader(m))


async def disconnect(members: list[Member]) -> None:
    for m in members:
        if m.ws is not None:
            await m.ws.close()
            m.ws = None
        if m.reader is not None:
            m.reader.cancel()


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] * 1000


def start(args: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)


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


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="short runs, no 1,000-member group, 1,000 idle")
    parser.add_argument("--idle", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--database-url", default=None)
    opts = parser.parse_args()
    if opts.quick:
        opts.idle = min(opts.idle, 1000)
        opts.seconds = 2.0
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    tmp = Path(tempfile.mkdtemp(prefix="calpico-bench-"))
    port, bare_port = free_port(), free_port()
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    cmd = [sys.executable, "-c", "from calpico.cli import main; main()", "server", "--port", str(port)]
    cmd += ["--data-dir", str(tmp), "--log-level", "warning", "--server-name", "bench"]
    if opts.database_url:
        cmd += ["--database-url", opts.database_url]
    server = start(cmd, env)
    bare = start([sys.executable, "-c", BARE_SERVER, str(bare_port)])
    try:
        await wait_http(f"http://127.0.0.1:{port}/healthz")
        await asyncio.sleep(0.5)
        proc = psutil.Process(server.pid)
        calpico = Target("calpico", True, f"ws://127.0.0.1:{port}/v1/ws")
        ceiling = Target("bare websockets", False, f"ws://127.0.0.1:{bare_port}/g")
        sizes = [(2, 50), (10, 10), (50, 2)] + ([] if opts.quick else [(1000, 1)])
        # Fresh devices for every configuration, so no backlog of an earlier one replays into it.
        need = sum(size * count for size, count in sizes)
        http = httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=120)
        t0 = time.perf_counter()
        sem = asyncio.Semaphore(16)
        devices = list(await asyncio.gather(*(register(http, sem) for _ in range(need))))
        print(f"setup: registered {len(devices)} devices in {time.perf_counter() - t0:.1f}s")
        print(f"server RSS after setup: {proc.memory_info().rss / 2**20:.0f} MiB")
        print()
        header = f"{'members':>7} {'server':<16} {'accepted msg/s':>14} {'delivered/s':>12} "
        header += f"{'p50 ms':>7} {'p99 ms':>7}  {'at msg/s':>8}"
        print(header)
        results: dict[tuple[int, str], tuple[float, float, float, float]] = {}
        offset = 0
        for size, count in sizes:
            pool = devices[offset : offset + size * count]
            offset += size * count
            groups_spec = [pool[i * size : (i + 1) * size] for i in range(count)]
            built = [(await build_group(http, ms), 1 + (len(ms) - 2) // 400, ms) for ms in groups_spec]
            for target in (calpico, ceiling):
                for gid, _, ms in built:
                    await asyncio.gather(*(connect(target, m, gid) for m in ms))
                await asyncio.sleep(1.0 if size < 1000 else 3.0)  # backlog (Welcome, commits) drains
                seconds = opts.seconds
                acc, dlv, _ = await run_load(target, built, seconds, None)
                for _, _, ms in built:
                    for m in ms[1:]:
                        m.sample = True
                half = acc / 2
                _hacc, _hdlv, lat = await run_load(target, built, seconds, half)
                for _, _, ms in built:
                    for m in ms:
                        m.sample = False
                results[(size, target.name)] = (acc, dlv, pct(lat, 0.5), pct(lat, 0.99))
                print(
                    f"{size:>7} {target.name:<16} {acc:>14,.0f} {dlv:>12,.0f} "
                    f"{pct(lat, 0.5):>7.2f} {pct(lat, 0.99):>7.2f}  {half:>8,.0f}"
                )
                for _, _, ms in built:
                    await disconnect(ms)
            ours, bare_r = results[(size, "calpico")], results[(size, "bare websockets")]
            print(
                f"{size:>7} {'ratio':<16} {ours[0] / bare_r[0]:>14.0%} {ours[1] / bare_r[1]:>12.0%}   "
                f"(Synapse anchor: ~330 msg/s delivered at 10 members; ours = {ours[1] / 330:,.0f}x)"
            )
        print(f"\nserver RSS after the load: {proc.memory_info().rss / 2**20:.0f} MiB")

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
            await disconnect(idle)
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
