"""The async engine (SQLite in WAL mode or PostgreSQL via asyncpg) and migrations on start."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, event, text
from sqlalchemy import create_engine as sa_create_engine
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

__all__ = ["MIGRATIONS", "create_engine", "create_writer_engine", "is_sqlite", "migrate"]

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# Any fixed number: serialises migrations when several processes start at once.
_PG_MIGRATION_LOCK = 0x43414C50


def is_sqlite(engine: AsyncEngine) -> bool:
    return engine.dialect.name == "sqlite"


_SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=FULL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA busy_timeout=10000",
)


def _set_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    for pragma in _SQLITE_PRAGMAS:
        cur.execute(pragma)
    cur.close()


def _sqlite_file(url: str) -> str | None:
    """The file of a SQLite ``url``; None for another database or an in-memory one."""
    if not url.startswith("sqlite") or ":///" not in url or url.endswith(":memory:"):
        return None
    return url.split(":///", 1)[1]


def create_engine(url: str) -> AsyncEngine:
    """An engine for ``url``.

    SQLite gets one connection (the message writer has its own, see
    `create_writer_engine`; the busy timeout lets the two take turns), WAL
    journaling, ``synchronous=FULL`` (a commit is on disk when it returns) and
    foreign keys on. PostgreSQL gets a small pool.
    """
    if url.startswith("sqlite"):
        path = _sqlite_file(url)
        if path is not None:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, pool_size=1, max_overflow=0, pool_timeout=120)
        event.listen(engine.sync_engine, "connect", _set_pragmas)
        return engine
    return create_async_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=False)


def create_writer_engine(url: str) -> Engine | None:
    """For a SQLite file, a synchronous engine with one connection for the message writer's thread; else None.

    Same pragmas as `create_engine`; every transaction starts with ``BEGIN
    IMMEDIATE``, so it holds the write lock from its first statement and
    never has to upgrade a read snapshot that the other connection changed.
    PostgreSQL and in-memory SQLite get None (the writer uses the async engine).
    """
    path = _sqlite_file(url)
    if path is None:
        return None
    engine = sa_create_engine(
        f"sqlite:///{path}",
        pool_size=1,
        max_overflow=0,
        pool_timeout=120,
        connect_args={"check_same_thread": False},  # opened and used on the writer thread, closed at shutdown
    )

    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, record: Any) -> None:
        dbapi_conn.isolation_level = None  # we say when a transaction begins (below), not the driver
        _set_pragmas(dbapi_conn, record)

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def _upgrade(sync_conn: Connection) -> None:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = sync_conn
    command.upgrade(cfg, "head")


async def migrate(engine: AsyncEngine) -> None:
    """Apply every Alembic migration up to head (a no-op when the schema is current)."""
    async with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            await conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_MIGRATION_LOCK})
        await conn.run_sync(_upgrade)
