"""An ASGI app under uvicorn on its own event loop in a daemon thread, on loopback.

For a server inside another program: ``calpico demo``'s embedded server, and
the tests' servers (the real Calpico app, a fake model provider). `start`
returns once uvicorn is listening; `stop` asks it to finish and waits.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import uvicorn

__all__ = ["ServerThread", "loopback_config"]


def loopback_config(app: Any, port: int) -> uvicorn.Config:
    """The settings of a Calpico server run in a thread: 127.0.0.1, plain asyncio, quiet, quick to stop.

    It uses uvicorn's standard WebSocket protocol (no direct frame writes),
    so the app's portable path is what the in-process servers exercise.
    """
    return uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        loop="asyncio",
        ws="websockets-sansio",
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=1,
        ws_per_message_deflate=False,
    )


class ServerThread:
    """``ServerThread(config, name).start()`` … ``stop()``; it can be started again after a stop."""

    def __init__(self, config: uvicorn.Config, name: str) -> None:
        self.config = config
        self.name = name
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def start(self, timeout: float = 30.0) -> None:
        """Serve; returns once listening. Raises `RuntimeError` (with uvicorn's failure) if it does not start."""
        server = uvicorn.Server(self.config)
        failure: list[BaseException] = []

        def serve() -> None:
            try:
                asyncio.run(server.serve())
            except BaseException as exc:  # reported below
                failure.append(exc)

        thread = threading.Thread(target=serve, name=self.name, daemon=True)
        thread.start()
        deadline = time.monotonic() + timeout
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                why = f": {failure[0]}" if failure else ""
                raise RuntimeError(f"{self.name} did not start{why}")
            time.sleep(0.02)
        self._server, self._thread = server, thread

    def stop(self, timeout: float = 15.0) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout)
        self._server = self._thread = None
