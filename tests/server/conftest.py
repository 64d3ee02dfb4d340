"""Fixtures for the server tests: each storage test runs on SQLite and on PostgreSQL.

PostgreSQL (127.0.0.1:5432, trust auth) and Redis (127.0.0.1:6379) are the
real local services; `.ci/run` starts them. Each PostgreSQL test gets its own
freshly created database.
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from calpico.server.app import create_app
from calpico.server.config import ServerConfig

from .client import ApiClient

PG_ADMIN = os.environ.get("CALPICO_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("CALPICO_TEST_REDIS", "redis://127.0.0.1:6379/0")


def _pg_available() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return True
    except OSError:
        return False


async def _pg_admin(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database; dropped afterwards."""
    if not _pg_available():
        pytest.fail("PostgreSQL is not running on 127.0.0.1:5432 (.ci/run starts it)")
    name = f"calpico_test_{uuid.uuid4().hex[:12]}"
    asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
    yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=["sqlite", "postgresql"])
def config(request: pytest.FixtureRequest, tmp_path: Path) -> ServerConfig:
    """A server configuration on each storage backend."""
    url = None
    if request.param == "postgresql":
        url = request.getfixturevalue("pg_database")
    return ServerConfig(server_name="test.calpico", data_dir=tmp_path / "data", database_url=url, sweep_interval=3600)


@pytest_asyncio.fixture
async def api(config: ServerConfig) -> AsyncIterator[ApiClient]:
    """An in-process app (lifespan run) with an HTTP client bound to it."""
    app = create_app(config)
    async with app.router.lifespan_context(app):
        client = ApiClient(app, config)
        try:
            yield client
        finally:
            await client.aclose()
