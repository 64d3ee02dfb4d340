"""The HTTP transport: login by signed challenge, re-login, retries, error mapping."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio

from calpico.client.errors import (
    BadResponse,
    EpochConflict,
    Forbidden,
    NotAMember,
    NotFound,
    Offline,
    RateLimited,
    ServerMismatch,
    ServerUnavailable,
    UsageError,
)
from calpico.client.transport import DeviceKey, RetryPolicy, Transport
from calpico.mls.crypto import get_suite
from calpico.wire.accounts import NewDevice
from calpico.wire.common import ErrorCode

from ..server import mls_messages as mls
from .conftest import QUICK_RETRY, MakeAccount
from .server import ThreadServer


class Counter:
    """Counts requests by path, through httpx's event hooks."""

    def __init__(self) -> None:
        self.paths: list[str] = []

    async def __call__(self, request: httpx.Request) -> None:
        self.paths.append(request.url.path)

    def count(self, path: str) -> int:
        return sum(p == path for p in self.paths)


@pytest_asyncio.fixture
async def short_tokens(tmp_path: Path) -> AsyncIterator[ThreadServer]:
    """A server whose tokens live one second."""
    srv = await ThreadServer(tmp_path / "short", token_ttl=1.0).astart()
    yield srv
    await srv.astop()


async def _device_transport(account_transport: Transport, url: str, **kw: object) -> Transport:
    device = account_transport.device
    assert device is not None
    return Transport(url, device=device, server_name="test.calpico", **kw)  # type: ignore[arg-type]


async def test_logs_in_once_and_reuses_the_token(make_account: MakeAccount, server: ThreadServer) -> None:
    alice = await make_account()
    counter = Counter()
    http = httpx.AsyncClient(base_url=server.url, event_hooks={"request": [counter]})
    async with await _device_transport(alice.transport, server.url, http=http) as t:
        for _ in range(3):
            await t.devices()
        assert counter.count("/v1/auth/token") == 1
        assert counter.count("/v1/devices") == 3
    await http.aclose()


async def test_logs_in_again_before_the_token_expires(make_account: MakeAccount, short_tokens: ThreadServer) -> None:
    alice = await make_account(url=short_tokens.url)
    counter = Counter()
    http = httpx.AsyncClient(base_url=short_tokens.url, event_hooks={"request": [counter]})
    async with await _device_transport(alice.transport, short_tokens.url, http=http) as t:
        await t.devices()
        time.sleep(1.1)
        await t.devices()
        # Refreshed ahead of expiry: never a 401 in between.
        assert counter.count("/v1/auth/token") == 2 and counter.count("/v1/devices") == 2
    await http.aclose()


async def test_logs_in_again_when_the_server_says_401(make_account: MakeAccount, short_tokens: ThreadServer) -> None:
    alice = await make_account(url=short_tokens.url)
    counter = Counter()
    http = httpx.AsyncClient(base_url=short_tokens.url, event_hooks={"request": [counter]})
    # A client whose clock runs 100 s late believes its token is still good.
    slow_clock = lambda: time.time() - 100  # noqa: E731
    async with await _device_transport(alice.transport, short_tokens.url, http=http, clock=slow_clock) as t:
        await t.devices()
        time.sleep(1.1)
        devices = await t.devices()
        assert [d.device_id for d in devices] == [alice.device_id]
        # devices (401) -> challenge -> token -> devices again
        assert counter.paths[-4:] == ["/v1/devices", "/v1/auth/challenge", "/v1/auth/token", "/v1/devices"]
    await http.aclose()


async def test_a_server_with_another_name_is_refused(make_account: MakeAccount, server: ThreadServer) -> None:
    alice = await make_account()
    device = alice.transport.device
    assert device is not None
    async with Transport(server.url, device=device, server_name="calpico.example") as t:
        with pytest.raises(ServerMismatch) as info:
            await t.devices()
        assert "calls itself 'test.calpico'" in str(info.value)
    async with Transport(server.url) as t:
        with pytest.raises(UsageError):
            await t.login()


async def test_epoch_conflict_carries_the_current_epoch(make_account: MakeAccount) -> None:
    alice, bob = await make_account(), await make_account()
    group = uuid.uuid4().bytes
    info = await alice.transport.create_group(group, 1)
    assert info.epoch == 0 and [m.device_id for m in info.members] == [alice.device_id]
    first = await alice.transport.send(group, "c-1", mls.commit(group, 0, 0))
    assert (first.seq, first.epoch, first.duplicate) == (1, 1, False)
    again = await alice.transport.send(group, "c-1", mls.commit(group, 0, 0))
    assert again.duplicate and again.seq == 1
    with pytest.raises(EpochConflict) as info_conflict:
        await alice.transport.send(group, "c-2", mls.commit(group, 0, 0))
    assert info_conflict.value.current_epoch == 1 and info_conflict.value.code is ErrorCode.EPOCH_CONFLICT
    with pytest.raises(NotAMember):
        await bob.transport.group_info(group)
    with pytest.raises(NotFound):
        await bob.transport.user_devices("nobody-here")


def _mock(handler: httpx.MockTransport) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=handler, base_url="http://calpico.test")


def _authenticated(responses: list[httpx.Response]) -> tuple[Transport, list[str]]:
    """A transport on a scripted server: logins succeed, other calls get ``responses`` in turn."""
    seen: list[str] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(f"{request.method} {request.url.path}")
        if request.url.path == "/v1/auth/challenge":
            return httpx.Response(200, json={"nonce": "AAAA", "server_name": "mock", "expires_at": 1e12})
        if request.url.path == "/v1/auth/token":
            body = {"token": "t", "expires_at": time.time() + 3600, "device_id": "d1", "username": "alice"}
            return httpx.Response(200, json=body)
        return responses.pop(0)

    key = get_suite(1).generate_signature_key_pair().private_key
    transport = Transport(
        "http://calpico.test",
        device=DeviceKey("d1", 1, key),
        http=_mock(httpx.MockTransport(handle)),
        retry=RetryPolicy(attempts=3, base_delay=0.001, max_delay=0.01, max_retry_after=0.05),
    )
    return transport, seen


def _error(status: int, code: str, **extra: object) -> httpx.Response:
    return httpx.Response(status, json={"code": code, "message": "nope", **extra})


async def test_idempotent_calls_are_retried_on_5xx_and_429() -> None:
    ok = httpx.Response(200, json={"available": 3, "has_last_resort": True})
    transport, seen = _authenticated([_error(503, "unavailable"), _error(429, "rate_limited", retry_after=0.01), ok])
    count = await transport.key_package_count()
    assert count.available == 3
    assert seen.count("GET /v1/key-packages") == 3


async def test_retries_stop_after_the_policy_attempts() -> None:
    transport, seen = _authenticated([_error(503, "unavailable")] * 5)
    with pytest.raises(ServerUnavailable) as info:
        await transport.devices()
    assert seen.count("GET /v1/devices") == 3
    assert "\n" not in str(info.value)


async def test_non_idempotent_calls_are_not_retried() -> None:
    transport, seen = _authenticated([_error(503, "unavailable"), _error(429, "rate_limited", retry_after=1)])
    with pytest.raises(ServerUnavailable):
        await transport.claim_key_packages("bob")
    with pytest.raises(RateLimited) as info:
        await transport.upload_attachment(b"blob")
    assert info.value.retry_after == 1
    assert seen.count("POST /v1/users/bob/key-packages/claim") == 1
    assert seen.count("POST /v1/attachments") == 1


async def test_sends_are_retried_because_client_ids_make_them_idempotent() -> None:
    ok = httpx.Response(200, json={"group_id": "AQ", "seq": 4, "epoch": 1, "duplicate": True})
    transport, seen = _authenticated([_error(502, "internal"), ok])
    result = await transport.send(b"\x01", "client-1", b"mls")
    assert result.duplicate and seen.count("POST /v1/groups/AQ/messages") == 2


async def test_answers_that_do_not_match_the_schema_are_refused() -> None:
    transport, _ = _authenticated([httpx.Response(200, json={"devices": "not a list"})])
    with pytest.raises(BadResponse):
        await transport.devices()
    transport, _ = _authenticated([httpx.Response(403, text="<html>proxy says no</html>")])
    with pytest.raises(Forbidden) as info:
        await transport.devices()
    assert info.value.status == 403


async def test_an_unreachable_server_is_offline_after_retries() -> None:
    attempts = 0

    def refuse(request: httpx.Request) -> httpx.Response:
        nonlocal attempts
        attempts += 1
        raise httpx.ConnectError("connection refused", request=request)

    key = get_suite(1).generate_signature_key_pair().private_key
    transport = Transport(
        "http://calpico.test",
        device=DeviceKey("d1", 1, key),
        http=_mock(httpx.MockTransport(refuse)),
        retry=QUICK_RETRY,
    )
    with pytest.raises(Offline) as info:
        await transport.register("alice", NewDevice(signature_key=b"k" * 32, cipher_suite=1))
    assert attempts == 1  # registration is not idempotent
    assert str(info.value).startswith("cannot reach the server (POST /accounts)")
    with pytest.raises(Offline):
        await transport.devices()  # the login's challenge is idempotent: retried
    assert attempts == 1 + QUICK_RETRY.attempts
