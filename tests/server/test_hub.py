"""Push delivery's catch-up (`services/hub.py`) against a real ``calpico server`` process."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import websockets

from calpico.server.config import ServerConfig
from calpico.wire.common import b64encode

from . import mls_messages as mls
from .client import ApiClient, Device, make_group
from .procs import ServerProcess

PAGE = 40


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ServerProcess]:
    monkeypatch.setenv("CALPICO_INBOX_PAGE", str(PAGE))  # a backlog of several pages
    proc = ServerProcess(tmp_path / "srv").start()
    yield proc
    proc.stop()


@pytest.fixture
async def api(server: ServerProcess) -> Any:
    client = ApiClient(None, ServerConfig(), base_url=server.url)
    yield client
    await client.aclose()


async def _connect(server: ServerProcess, device: Device) -> Any:
    return await websockets.connect(server.ws_url, additional_headers=device.headers, max_size=None)


async def _frames(ws: Any, n: int, timeout: float = 30.0) -> list[dict[str, Any]]:
    out = []
    async with asyncio.timeout(timeout):
        while len(out) < n:
            out.append(json.loads(await ws.recv()))
    return out


async def _catch_up_reads(api: ApiClient) -> float:
    text = (await api.http.get("/metrics")).text
    found = re.search(r"^calpico_catch_up_reads_total (\S+)$", text, re.MULTILINE)
    assert found is not None, "the catch-up counter is missing from /metrics"
    return float(found.group(1))


async def test_live_messages_during_a_multi_page_backlog_arrive_once_and_in_order(
    server: ServerProcess, api: ApiClient
) -> None:
    alice, bob = await api.register(), await api.register()
    group = await make_group(alice, bob)
    stored = []
    for i in range(3 * PAGE):
        r = await alice.send(group, mls.application(group, 1, f"backlog {i}".encode()))
        assert r.status_code == 200, r.text
        stored.append(r.json()["seq"])
    alice_ws = await _connect(server, alice)
    live = 100
    message = b64encode(mls.application(group, 1, b"live"))
    for i in range(live):  # pipelined: they are stored while Bob's backlog replays
        frame = {"type": "send", "group_id": b64encode(group), "client_id": f"live-{i}", "message": message}
        await alice_ws.send(json.dumps(frame))
    bob_ws = await _connect(server, bob)
    got = await _frames(bob_ws, 1 + len(stored) + live)
    sent = await _frames(alice_ws, live)
    assert all(f["type"] == "sent" for f in sent)
    assert got[0]["kind"] == "welcome"
    seqs = [f["seq"] for f in got[1:]]
    assert all(f["kind"] == "application" for f in got[1:])
    assert seqs == sorted(stored + [f["seq"] for f in sent])  # every message once, in order
    await alice_ws.close()
    await bob_ws.close()


async def test_seqs_a_device_does_not_get_do_not_make_it_read_the_log_again(
    server: ServerProcess, api: ApiClient
) -> None:
    alice, bob = await api.register(), await api.register()
    group = await make_group(alice, bob)
    first = (await alice.send(group, mls.application(group, 1, b"from alice"))).json()["seq"]
    for i in range(2):  # Bob's own messages come last in the log: he never gets them pushed
        assert (await bob.send(group, mls.application(group, 1, f"from bob {i}".encode()))).status_code == 200
    bob_ws = await _connect(server, bob)
    backlog = await _frames(bob_ws, 2)
    assert [f["kind"] for f in backlog] == ["welcome", "application"] and backlog[1]["seq"] == first
    reads = await _catch_up_reads(api)
    later = [
        (await alice.send(group, mls.application(group, 1, f"later {i}".encode()))).json()["seq"] for i in range(3)
    ]
    assert later[0] == first + 3
    pushed = await _frames(bob_ws, 3)
    assert [f["seq"] for f in pushed] == later
    # The backlog read counted Bob's own messages as served: no gap, no further read.
    assert await _catch_up_reads(api) == reads
    await bob_ws.close()


async def test_a_device_sending_and_receiving_in_one_group_gets_exactly_the_others_messages(
    server: ServerProcess, api: ApiClient
) -> None:
    alice, bob = await api.register(), await api.register()
    group = await make_group(alice, bob)
    alice_ws, bob_ws = await _connect(server, alice), await _connect(server, bob)
    await _frames(bob_ws, 1)  # his Welcome
    reads = await _catch_up_reads(api)
    n = 30
    for i in range(n):
        for who, ws in (("a", alice_ws), ("b", bob_ws)):
            body = b64encode(mls.application(group, 1, f"{who}{i}".encode()))
            await ws.send(
                json.dumps({"type": "send", "group_id": b64encode(group), "client_id": f"{who}{i}", "message": body})
            )
    for me, ws, other in (("a", alice_ws, "b"), ("b", bob_ws, "a")):
        frames = await _frames(ws, 2 * n)  # n "sent" answers and the other's n messages, interleaved
        sent = [f for f in frames if f["type"] == "sent"]
        pushed = [f for f in frames if f["type"] == "message"]
        assert [f["client_id"] for f in sent] == [f"{me}{i}" for i in range(n)]
        assert [f["client_id"] for f in pushed] == [f"{other}{i}" for i in range(n)]
        assert [f["seq"] for f in pushed] == sorted(f["seq"] for f in pushed)
    assert await _catch_up_reads(api) == reads
    await alice_ws.close()
    await bob_ws.close()
