"""Malformed and oversized requests get a 4xx ``{code, message}``, never a 500.

Schemathesis generates requests from the served OpenAPI document (bounded in
examples and time) against a real server process, authenticated as a real
device so that generated bodies reach the handlers behind authentication.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from calpico.server.config import ServerConfig
from calpico.wire.common import b64encode

from . import mls_messages as mls
from .client import ApiClient, make_group
from .procs import ServerProcess


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, dict[str, str]]]:
    proc = ServerProcess(Path(tmp_path_factory.mktemp("fuzz"))).start()

    async def login() -> dict[str, str]:
        api = ApiClient(None, ServerConfig(), base_url=proc.url)
        try:
            device = await api.register()
            other = await api.register()
            await make_group(device, other)
            return device.headers
        finally:
            await api.aclose()

    headers = asyncio.run(login())
    yield proc, headers
    proc.stop()


def _check(response: httpx.Response | object) -> None:
    status = response.status_code  # type: ignore[attr-defined]
    assert status < 500, f"{status}: {response.text}"  # type: ignore[attr-defined]
    if status >= 400:
        body = response.json()  # type: ignore[attr-defined]
        assert set(body) >= {"code", "message"}, body


def test_generated_requests_never_get_500(server: tuple[ServerProcess, dict[str, str]]) -> None:
    proc, headers = server
    schema = schemathesis.openapi.from_url(f"{proc.url}/v1/openapi.json")

    @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    def run(case: schemathesis.Case) -> None:
        response = case.call(base_url=proc.url, headers=headers, timeout=10)
        _check(response)

    checked = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        strategy = operation.as_strategy()
        from hypothesis import given

        given(case=strategy)(run)()
        checked += 1
    assert checked >= 20


async def test_hand_made_malformed_requests(server: tuple[ServerProcess, dict[str, str]]) -> None:
    proc, headers = server
    async with httpx.AsyncClient(base_url=proc.url, headers=headers, timeout=10) as http:
        group = b64encode(b"no-such-group")
        cases = [
            http.post("/v1/accounts", content=b"{not json"),
            http.post("/v1/accounts", json={"username": "x", "device": {"signature_key": "!!!", "cipher_suite": 1}}),
            http.post(f"/v1/groups/{group}/messages", json={"client_id": "a", "message": "AAAA"}),
            http.post("/v1/key-packages", json={"key_packages": [b64encode(b"\x00\x01\x00\x05garbage")]}),
            http.post(
                "/v1/key-packages", json={"key_packages": [b64encode(mls.key_package(mls.DeviceKeys.generate()))]}
            ),
            http.post("/v1/groups", content=b"x" * (2 * 1024 * 1024), headers={"content-type": "application/json"}),
            http.get("/v1/inbox", params={"limit": "-1"}),
            http.put("/v1/contact-policy", json={"policy": "everyone"}),
            http.delete("/v1/inbox/ack"),
            http.get("/v1/nowhere"),
        ]
        responses = [await c for c in cases]
    statuses = [r.status_code for r in responses]
    assert statuses == [400, 400, 404, 400, 400, 413, 400, 400, 405, 404]
    for r in responses:
        _check(r)
    assert responses[3].json()["code"] == "malformed_message"
