"""The device-link mailbox (POST /v1/links): write-once slots, who may read and write what, expiry."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
import websockets

from calpico.server.config import ServerConfig
from calpico.wire.common import b64decode, b64encode

from . import mls_messages as mls
from .client import ApiClient, make_group
from .procs import ServerProcess


async def test_a_link_carries_sealed_payloads_between_the_two_devices(api: ApiClient) -> None:
    owner = await api.register()
    stranger = await api.register()
    created = await owner.post("/v1/links")
    assert created.status_code == 201
    link = created.json()["id"]
    # nothing yet: the owner waits for the request, the new device for the answer
    assert (await owner.get(f"/v1/links/{link}/new/request")).status_code == 404
    assert (await api.http.get(f"/v1/links/{link}/answer")).status_code == 404
    # the new device has no session: the link id is its capability
    request = {"payload": b64encode(b"sealed request")}
    assert (await api.http.put(f"/v1/links/{link}/new/request", json=request)).status_code == 204
    again = await api.http.put(f"/v1/links/{link}/new/request", json={"payload": b64encode(b"replaced")})
    assert again.status_code == 409 and again.json()["code"] == "link_used"
    got = await owner.get(f"/v1/links/{link}/new/request")
    assert b64decode(got.json()["payload"]) == b"sealed request"
    # only the owner reads the new device's slots and writes the answer
    assert (await stranger.get(f"/v1/links/{link}/new/request")).status_code == 404
    answer = {"payload": b64encode(b"sealed answer")}
    assert (await stranger.put(f"/v1/links/{link}/answer", json=answer)).status_code == 404
    assert (await api.http.put(f"/v1/links/{link}/answer", json=answer)).status_code == 401
    assert (await owner.put(f"/v1/links/{link}/answer", json=answer)).status_code == 204
    assert b64decode((await api.http.get(f"/v1/links/{link}/answer")).json()["payload"]) == b"sealed answer"
    assert (await api.http.get("/v1/links/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA/answer")).status_code == 404


async def test_expired_links_are_gone(api: ApiClient) -> None:
    owner = await api.register()
    link = (await owner.post("/v1/links")).json()["id"]
    state = api.app.state.calpico  # type: ignore[union-attr]
    await state.sweep_once(now=10**12)
    put = await api.http.put(f"/v1/links/{link}/new/request", json={"payload": b64encode(b"late")})
    assert put.status_code == 404


@pytest.fixture
def server(tmp_path: Path) -> ServerProcess:
    proc = ServerProcess(tmp_path / "srv").start()
    yield proc  # type: ignore[misc]
    proc.stop()


async def test_a_groups_creator_gets_its_messages_on_a_connection_opened_before(server: ServerProcess) -> None:
    api = ApiClient(None, ServerConfig(), base_url=server.url)
    try:
        alice, bob = await api.register(), await api.register()
        ws = await websockets.connect(server.ws_url, additional_headers=alice.headers, max_size=None)
        group = await make_group(alice, bob)
        assert (await bob.send(group, mls.application(group, 1, b"to the creator"))).status_code == 200
        async with asyncio.timeout(10):
            frame = json.loads(await ws.recv())
        assert frame["kind"] == "application" and frame["group_id"] == b64encode(group)
        await ws.close()
    finally:
        await api.aclose()
