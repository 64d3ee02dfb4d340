"""The real Calpico server on loopback, in a background thread, for the SDK's tests.

`ThreadServer` runs ``create_app(config)`` under uvicorn (its own event loop,
in a thread) on a free port of 127.0.0.1 with SQLite in a temporary folder.
`stop` and `start` again restart it on the same port and data: the tests of
reconnecting and resuming rely on that.
"""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

from calpico.server.app import create_app
from calpico.server.config import ServerConfig
from calpico.server.thread import ServerThread, loopback_config

from ..server.procs import free_port


class ThreadServer:
    def __init__(self, data_dir: Path, **settings: object) -> None:
        self.port = free_port()
        base = ServerConfig(server_name="test.calpico", data_dir=data_dir, sweep_interval=3600, port=self.port)
        self.config = dataclasses.replace(base, **settings)  # type: ignore[arg-type]
        self._running: ServerThread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> ThreadServer:
        running = ServerThread(loopback_config(create_app(self.config), self.port), f"the test server on {self.port}")
        running.start(timeout)
        self._running = running
        return self

    def stop(self) -> None:
        if self._running is not None:
            self._running.stop()
        self._running = None

    async def astop(self) -> None:
        await asyncio.to_thread(self.stop)

    async def astart(self) -> ThreadServer:
        return await asyncio.to_thread(self.start)
