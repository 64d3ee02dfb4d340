"""The real Calpico server on loopback, in a background thread, for the SDK's tests.

`ThreadServer` runs ``create_app(config)`` under uvicorn (its own event loop,
in a thread) on a free port of 127.0.0.1 with SQLite in a temporary folder.
`stop` and `start` again restart it on the same port and data: the tests of
reconnecting and resuming rely on that.
"""

from __future__ import annotations

import asyncio
import dataclasses
import threading
import time
from pathlib import Path

import uvicorn

from calpico.server.app import create_app
from calpico.server.config import ServerConfig

from ..server.procs import free_port


class ThreadServer:
    def __init__(self, data_dir: Path, **settings: object) -> None:
        self.port = free_port()
        base = ServerConfig(server_name="test.calpico", data_dir=data_dir, sweep_interval=3600, port=self.port)
        self.config = dataclasses.replace(base, **settings)  # type: ignore[arg-type]
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> ThreadServer:
        config = uvicorn.Config(
            create_app(self.config),
            host="127.0.0.1",
            port=self.port,
            loop="asyncio",
            ws="websockets-sansio",
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=1,
            ws_per_message_deflate=False,
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(target=lambda: asyncio.run(server.serve()), name=f"server-{self.port}", daemon=True)
        thread.start()
        deadline = time.monotonic() + timeout
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)
        self._server, self._thread = server, thread
        return self

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(15)
        self._server = self._thread = None

    async def astop(self) -> None:
        await asyncio.to_thread(self.stop)

    async def astart(self) -> ThreadServer:
        return await asyncio.to_thread(self.start)
