"""A Calpico server inside this process, on loopback, for ``calpico demo``.

It runs ``calpico.server``'s ASGI app under uvicorn on its own event loop in
a daemon thread, bound to 127.0.0.1 on a free port, with SQLite in a folder
the caller gives (the demo's temporary folder). `ServerPeek` reads that
database read-only, to show what the server stored.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from calpico.server.thread import ServerThread

__all__ = ["EmbeddedServer", "ServerPeek", "StoredRow"]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class EmbeddedServer:
    """``with EmbeddedServer(folder) as server: server.url``; stops (and waits) on exit."""

    def __init__(self, data_dir: Path, *, server_name: str = "demo.calpico") -> None:
        self.data_dir = data_dir
        self.server_name = server_name
        self.port = _free_port()
        self._running: ServerThread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def database(self) -> Path:
        return self.data_dir / "calpico.db"

    def start(self, timeout: float = 30.0) -> EmbeddedServer:
        from calpico.server.app import create_app
        from calpico.server.config import ServerConfig
        from calpico.server.thread import ServerThread, loopback_config

        config = ServerConfig(
            server_name=self.server_name, host="127.0.0.1", port=self.port, data_dir=self.data_dir, log_level="warning"
        )
        # uvicorn logs "Started server process" and friends at info; the demo's screen is for the demo.
        logging.getLogger("uvicorn.error").setLevel(logging.WARNING)
        running = ServerThread(loopback_config(create_app(config), self.port), "the embedded server")
        running.start(timeout)
        self._running = running
        return self

    def stop(self) -> None:
        if self._running is not None:
            self._running.stop()
        self._running = None

    def __enter__(self) -> EmbeddedServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@dataclass(frozen=True, slots=True)
class StoredRow:
    """One row of the server's ``messages`` table, as stored."""

    group_id: bytes
    seq: int
    kind: str
    epoch: int
    sender: str
    body: bytes


_DIRECTORY = ("users", "devices", "key_packages")


class ServerPeek:
    """Read-only look into the embedded server's SQLite database (what an attacker with the disk sees)."""

    def __init__(self, database: Path) -> None:
        self.database = database
        self._seen: set[tuple[bytes, int]] = set()

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(f"file:{self.database}?mode=ro", uri=True, timeout=5)

    def new_rows(self) -> list[StoredRow]:
        """The message rows stored since the last call, in the order they were stored."""
        from calpico.server.services.events import KIND_NAMES

        with contextlib.closing(self._connect()) as db:
            rows = db.execute(
                "SELECT group_id, seq, kind, epoch, sender, body FROM messages ORDER BY created_at, seq"
            ).fetchall()
        out = []
        for group_id, seq, kind, epoch, sender, body in rows:
            if (bytes(group_id), seq) in self._seen:
                continue
            self._seen.add((bytes(group_id), seq))
            name = KIND_NAMES[kind].value if kind in KIND_NAMES else str(kind)
            out.append(StoredRow(bytes(group_id), int(seq), name, int(epoch), str(sender), bytes(body)))
        return out

    def directory(self) -> dict[str, int]:
        """Row counts of the directory's tables (accounts, devices and their public KeyPackages)."""
        with contextlib.closing(self._connect()) as db:
            return {t: int(db.execute(f"SELECT count(*) FROM {t}").fetchone()[0]) for t in _DIRECTORY}  # noqa: S608

    def count(self) -> tuple[int, int]:
        """(messages stored, their total size in bytes)."""
        with contextlib.closing(self._connect()) as db:
            n, size = db.execute("SELECT count(*), coalesce(sum(length(body)), 0) FROM messages").fetchone()
        return int(n), int(size)


def find_plaintexts(files: list[Path], texts: list[str]) -> list[str]:
    """The ``texts`` whose UTF-8 bytes occur anywhere in ``files`` (database, WAL, journal)."""
    blobs = []
    for path in files:
        for candidate in (path, Path(f"{path}-wal"), Path(f"{path}-journal")):
            with contextlib.suppress(OSError):
                blobs.append(candidate.read_bytes())
    return [t for t in texts if any(t.encode("utf-8") in blob for blob in blobs)]
