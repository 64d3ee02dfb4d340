"""Push over one WebSocket per device, against a real ``calpico server`` process."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import websockets

from calpico.server.config import ServerConfig
from calpico.server.routes.ws import sent_frame
from calpico.server.services.delivery import SendOutcome
from calpico.wire.common import b64encode
from calpico.wire.push import SentFrame

from . import mls_messages as mls
from .client import ApiClient, Device, make_group
from .procs import ServerProcess


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    proc = ServerProcess(tmp_path / "srv").start()
    yield proc
    proc.stop()


async def _connect(server: ServerProcess, device: Device, mode: str = "push") -> Any:
    url = server.ws_url + ("?mode=notify" if mode == "notify" else "")
    return await websockets.connect(url, additional_headers=device.headers, max_size=None)


async def _frames(ws: Any, n: int, timeout: float = 10.0) -> list[dict[str, Any]]:
    out = []
    async with asyncio.timeout(timeout):
        while len(out) < n:
            out.append(json.loads(await ws.recv()))
    return out


async def test_push_resume_send_and_ack_over_websocket(server: ServerProcess) -> None:
    api = ApiClient(None, ServerConfig(), base_url=server.url)
    try:
        alice, bob = await api.register(), await api.register()
        group = await make_group(alice, bob)
        # Bob is offline: two messages wait for him.
        for i in range(2):
            assert (await alice.send(group, mls.application(group, 1, f"offline {i}".encode()))).status_code == 200
        bob_ws = await _connect(server, bob)
        backlog = await _frames(bob_ws, 3)  # his Welcome, then the two messages (never his own)
        assert [f["kind"] for f in backlog] == ["welcome", "application", "application"]
        # Live push, sent by Alice over her own WebSocket.
        alice_ws = await _connect(server, alice)
        send = {
            "type": "send",
            "group_id": b64encode(group),
            "client_id": "live-1",
            "message": b64encode(mls.application(group, 1, b"live")),
        }
        await alice_ws.send(json.dumps(send))
        sent = await _frames(alice_ws, 1)
        assert sent[0]["type"] == "sent" and sent[0]["client_id"] == "live-1"
        live = await _frames(bob_ws, 1)
        assert live[0]["seq"] == sent[0]["seq"] and live[0]["client_id"] == "live-1"
        # Bob acks the first two, reconnects, and resumes after his cursor.
        await bob_ws.send(
            json.dumps({"type": "ack", "acks": [{"group_id": b64encode(group), "seq": backlog[2]["seq"]}]})
        )
        await asyncio.sleep(0.3)
        await bob_ws.close()
        bob_ws = await _connect(server, bob)
        resumed = await _frames(bob_ws, 1)
        assert resumed[0]["seq"] == live[0]["seq"]
        # A content-free notification connection only gets counts.
        carol_dev = await api.add_device(bob)
        assert carol_dev.device_id != bob.device_id
        note_ws = await _connect(server, bob, mode="notify")  # replaces bob's push connection
        first = await _frames(note_ws, 1)
        assert first[0]["type"] == "notify"
        assert (await alice.send(group, mls.application(group, 1, b"secret words"))).status_code == 200
        note = await _frames(note_ws, 1)
        assert note[0] == {"type": "notify", "conversations": [{"group_id": b64encode(group), "count": 1}]}
        await note_ws.close()
        await alice_ws.close()
    finally:
        await api.aclose()


async def test_websocket_refuses_missing_and_revoked_tokens(server: ServerProcess) -> None:
    api = ApiClient(None, ServerConfig(), base_url=server.url)
    try:
        alice = await api.register()
        with pytest.raises(websockets.exceptions.InvalidStatus):
            await websockets.connect(server.ws_url)
        second = await api.add_device(alice)
        ws = await _connect(server, second)
        assert (await alice.delete(f"/v1/devices/{second.device_id}")).status_code == 204
        async with asyncio.timeout(5):
            with pytest.raises(websockets.exceptions.ConnectionClosed):
                while True:
                    await ws.recv()
        assert ws.close_code == 4001
        assert (await second.get("/v1/devices")).status_code == 401
        with pytest.raises(websockets.exceptions.InvalidStatus):
            await _connect(server, second)
    finally:
        await api.aclose()


@pytest.mark.parametrize("duplicate", [False, True])
def test_the_hand_written_sent_frame_is_the_schema_s_json(duplicate: bool) -> None:
    outcome = SendOutcome(seq=12345, epoch=7, duplicate=duplicate)
    group = bytes(range(16))
    for client_id in ("c", "A-z_0.9:x", "x" * 64):
        expected = SentFrame(group_id=group, client_id=client_id, seq=12345, epoch=7, duplicate=duplicate)
        assert sent_frame(group, client_id, outcome) == expected.model_dump_json()


async def test_malformed_send_frames_get_an_error_frame_and_the_socket_stays_usable(server: ServerProcess) -> None:
    api = ApiClient(None, ServerConfig(), base_url=server.url)
    try:
        alice, bob = await api.register(), await api.register()
        group = await make_group(alice, bob)
        ws = await _connect(server, alice)
        for bad in ('{"type":"send"', '{"type":"send","group_id":1}', '{"type":"send","client_id":"x"}', "[1]"):
            await ws.send(bad)
            (reply,) = await _frames(ws, 1)
            assert reply["type"] == "error" and reply["code"] == "bad_request", bad
        good = {
            "type": "send",
            "group_id": b64encode(group),
            "client_id": "after-errors",
            "message": b64encode(mls.application(group, 1, b"fine")),
        }
        await ws.send(json.dumps(good, separators=(",", ":")))  # compact, as the SDK sends
        (sent,) = await _frames(ws, 1)
        assert sent["type"] == "sent" and sent["client_id"] == "after-errors"
        await ws.close()
    finally:
        await api.aclose()
