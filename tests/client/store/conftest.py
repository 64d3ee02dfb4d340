"""Every store test runs once per key source: passphrase, OS keyring, key file."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from calpico.client.store import Argon2Params, KeyFile, KeySource, OSKeyring, Passphrase, Store

from ..keyring_memory import MemoryKeyring

# Cheap Argon2id parameters: the tests check the construction, not the cost.
FAST = Argon2Params(time_cost=1, memory_cost=8 * 1024, parallelism=1)


@pytest.fixture(params=["passphrase", "keyring", "keyfile"])
def key_source(request: pytest.FixtureRequest, tmp_path: Path) -> KeySource:
    if request.param == "passphrase":
        return Passphrase("correct horse battery staple", FAST)
    if request.param == "keyring":
        return OSKeyring(service="calpico-test", backend=MemoryKeyring())
    return KeyFile(tmp_path / "store.key")


@pytest_asyncio.fixture
async def store(tmp_path: Path, key_source: KeySource) -> AsyncIterator[Store]:
    s = await Store.create(tmp_path / "device.db", key_source)
    try:
        yield s
    finally:
        await s.close()
