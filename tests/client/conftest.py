"""Fixtures for the SDK's tests: a real server on loopback, and accounts on it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from calpico.client.account import Account
from calpico.client.keypackages import KeyPackagePolicy
from calpico.client.store import Argon2Params, Passphrase
from calpico.client.transport import RetryPolicy

from .server import ThreadServer

FAST_KDF = Argon2Params(time_cost=1, memory_cost=8 * 1024, parallelism=1)
QUICK_RETRY = RetryPolicy(attempts=4, base_delay=0.02, max_delay=0.2)
SMALL_BATCH = KeyPackagePolicy(batch=4, low_water=2)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadServer]:
    """One server for the tests of a module (each test uses fresh usernames)."""
    srv = ThreadServer(tmp_path_factory.mktemp("server") / "data").start()
    yield srv
    srv.stop()


def new_username() -> str:
    return f"u{uuid.uuid4().hex[:12]}"


MakeAccount = Callable[..., Awaitable[Account]]


@pytest_asyncio.fixture
async def make_account(server: ThreadServer, tmp_path: Path) -> AsyncIterator[MakeAccount]:
    """``await make_account()``: a new account (own store in tmp_path) on the module's server."""
    made: list[Account] = []

    async def make(username: str | None = None, *, url: str | None = None, **kw: object) -> Account:
        name = username or new_username()
        kw.setdefault("retry", QUICK_RETRY)
        kw.setdefault("key_package_policy", SMALL_BATCH)
        account = await Account.create(
            url or server.url,
            name,
            tmp_path / f"{name}-{len(made)}.db",
            Passphrase("pw", FAST_KDF),
            **kw,  # type: ignore[arg-type]
        )
        made.append(account)
        return account

    yield make
    for account in made:
        await account.close()
