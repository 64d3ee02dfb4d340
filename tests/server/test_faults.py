"""Crash safety (kill -9 while clients send) and two server processes sharing PostgreSQL and Redis."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from calpico.server.config import ServerConfig
from calpico.wire.common import b64decode, b64encode

from . import mls_messages as mls
from .client import ApiClient, make_group
from .conftest import REDIS_URL
from .procs import ServerProcess


@pytest.fixture
def sqlite_server(tmp_path: Path) -> Iterator[ServerProcess]:
    proc = ServerProcess(tmp_path / "srv").start()
    yield proc
    proc.stop()


async def test_kill_9_loses_no_acknowledged_message(sqlite_server: ServerProcess) -> None:
    server = sqlite_server
    api = ApiClient(None, ServerConfig(), base_url=server.url)
    alice, bob = await api.register(), await api.register()
    group = await make_group(alice, bob)
    acknowledged: set[str] = set()
    attempted: list[str] = []

    async def sender(worker: int) -> None:
        async with httpx.AsyncClient(base_url=server.url, timeout=5) as http:
            for i in range(10_000):
                cid = f"w{worker}-{i}"
                attempted.append(cid)
                body = {"client_id": cid, "message": b64encode(mls.application(group, 1, cid.encode()))}
                try:
                    r = await http.post(f"/v1/groups/{b64encode(group)}/messages", json=body, headers=alice.headers)
                except httpx.HTTPError:
                    return  # the server is gone
                if r.status_code == 200:
                    acknowledged.add(cid)

    tasks = [asyncio.create_task(sender(w)) for w in range(8)]
    while len(acknowledged) < 150:
        await asyncio.sleep(0.02)
    server.kill()
    await asyncio.gather(*tasks)
    await api.aclose()
    server.start()  # same data folder: SQLite recovers from its WAL
    api = ApiClient(None, ServerConfig(), base_url=server.url)
    try:
        bob = await api.login(bob.username, bob.device_id, bob.keys)
        alice = await api.login(alice.username, alice.device_id, alice.keys)
        # Alice resends everything she is unsure of with the same ids: idempotent.
        for cid in attempted:
            if cid not in acknowledged:
                assert (
                    await alice.send(group, mls.application(group, 1, cid.encode()), client_id=cid)
                ).status_code == 200
        got = [m["client_id"] for m in await bob.inbox() if m["kind"] == "application"]
        assert acknowledged <= set(got)
        assert set(got) == set(attempted)
        assert len(got) == len(set(got))  # stored once each
    finally:
        await api.aclose()


@pytest.fixture
def two_nodes(tmp_path: Path, pg_database: str) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    channel_db = REDIS_URL
    a = ServerProcess(tmp_path / "a", database_url=pg_database, redis_url=channel_db).start()
    b = ServerProcess(tmp_path / "b", database_url=pg_database, redis_url=channel_db).start()
    yield a, b
    a.stop()
    b.stop()


async def _frames(ws: Any, n: int) -> list[dict[str, Any]]:
    out = []
    async with asyncio.timeout(15):
        while len(out) < n:
            out.append(json.loads(await ws.recv()))
    return out


async def test_two_processes_share_delivery_and_commit_ordering(two_nodes: tuple[ServerProcess, ServerProcess]) -> None:
    node_a, node_b = two_nodes
    api_a = ApiClient(None, ServerConfig(), base_url=node_a.url)
    api_b = ApiClient(None, ServerConfig(), base_url=node_b.url)
    try:
        alice = await api_a.register()
        bob = await api_a.register()
        group = await make_group(alice, bob)
        # Bob listens on node A; Alice sends through node B.
        bob_ws = await websockets.connect(node_a.ws_url, additional_headers=bob.headers)
        welcome = await _frames(bob_ws, 1)
        assert welcome[0]["kind"] == "welcome"
        alice_b = await api_b.login(alice.username, alice.device_id, alice.keys)
        sent = []
        for i in range(30):
            r = await alice_b.send(group, mls.application(group, 1, f"m{i}".encode()), client_id=f"m{i}")
            assert r.status_code == 200
            sent.append(r.json()["seq"])
        got = await _frames(bob_ws, 30)
        assert [f["client_id"] for f in got] == [f"m{i}" for i in range(30)]
        assert [f["seq"] for f in got] == sent
        await bob_ws.close()
        # Concurrent commits for the same epoch, one through each process: exactly one wins.
        bob_b = await api_b.login(bob.username, bob.device_id, bob.keys)
        for epoch in (1, 2, 3):
            results = await asyncio.gather(
                alice.send(group, mls.commit(group, epoch, 0)), bob_b.send(group, mls.commit(group, epoch, 1))
            )
            codes = sorted(r.status_code for r in results)
            assert codes == [200, 409], [r.text for r in results]
            loser = next(r for r in results if r.status_code == 409)
            assert loser.json()["current_epoch"] == epoch + 1
        info = (await alice.get(f"/v1/groups/{b64encode(group)}")).json()
        assert info["epoch"] == 4
        assert b64decode(info["group_id"]) == group
    finally:
        await api_a.aclose()
        await api_b.aclose()
