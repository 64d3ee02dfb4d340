"""One WebSocket per device (``GET /v1/ws``): push frames in, acks and sends out, reconnecting forever.

`PushConnection` connects with the transport's bearer token, yields every
frame from the server as a typed `calpico.wire.push` model, and interleaves
`ConnectionChanged` items when the connection comes up or goes down. When it
drops, it reconnects with exponential backoff and jitter (reset after each
successful connection); the server then replays everything after the
device's acknowledged cursor, so nothing is lost — but frames that were
delivered and not yet acknowledged come again: consumers deduplicate by
``(group_id, seq)`` (the client store's processed cursors do).

A handshake refused with 401/403 means the token is no longer good: the
transport logs in again before the next attempt. The connection stops for
good (state ``CLOSED``) when the device is revoked (close code 4001, or a
login the server refuses), when a newer connection of the same device
replaced it (4000), or on `close`.

``notify_only=True`` asks for content-free `NotifyFrame` counts only. A text
frame holding a JSON array is taken as a batch of frames, should the server
start batching.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Any, cast

import websockets
from pydantic import Field, TypeAdapter, ValidationError
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException

from calpico.wire.delivery import Ack
from calpico.wire.push import AckFrame, ErrorFrame, MessageFrame, NotifyFrame, SendFrame, SentFrame

from .errors import CalpicoError, NotFound, Unauthorized
from .transport import RetryPolicy, Transport

__all__ = ["CLOSE_REPLACED", "CLOSE_REVOKED", "ConnectionChanged", "ConnectionState", "PushConnection", "PushItem"]

log = logging.getLogger("calpico.client.push")

CLOSE_REPLACED = 4000
CLOSE_REVOKED = 4001
_FRAMES: dict[str, Any] = {"message": MessageFrame, "notify": NotifyFrame, "sent": SentFrame, "error": ErrorFrame}
_FRAME: TypeAdapter[MessageFrame | NotifyFrame | SentFrame | ErrorFrame] = TypeAdapter(
    Annotated[MessageFrame | NotifyFrame | SentFrame | ErrorFrame, Field(discriminator="type")]
)


class ConnectionState(enum.StrEnum):
    CONNECTING = "connecting"
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"  # will retry
    CLOSED = "closed"  # for good


@dataclass(frozen=True, slots=True)
class ConnectionChanged:
    """The push connection changed state; ``retry_in`` is set while waiting to reconnect."""

    state: ConnectionState
    reason: str = ""
    retry_in: float | None = None


PushItem = MessageFrame | NotifyFrame | SentFrame | ErrorFrame | ConnectionChanged

_END = object()


class PushConnection:
    """The device's WebSocket. `start` it, iterate it (``async for item in conn``), `close` it."""

    def __init__(
        self,
        transport: Transport,
        *,
        notify_only: bool = False,
        backoff: RetryPolicy | None = None,
        queue_size: int = 10_000,
        open_timeout: float = 10.0,
        ping_interval: float | None = 20.0,
    ) -> None:
        self._transport = transport
        self.notify_only = notify_only
        self._backoff = backoff or RetryPolicy(attempts=0, base_delay=0.5, max_delay=30.0)
        self._queue: asyncio.Queue[object] = asyncio.Queue()
        self._queue_limit = queue_size
        self._drained = asyncio.Event()
        self._open_timeout = open_timeout
        self._ping_interval = ping_interval
        self._ws: ClientConnection | None = None
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()
        self._connected = asyncio.Event()
        self._ws_was_up = False
        self._generation = 0
        self._closing: set[asyncio.Task[None]] = set()
        self.state = ConnectionState.CLOSED
        self.connects = 0
        """How many times the socket came up (a reconnect counts again)."""

    # --- life cycle -------------------------------------------------------------------

    def start(self) -> None:
        """Start connecting in the background (idempotent)."""
        if self._task is None:
            self._stop.clear()
            self._task = asyncio.create_task(self._run(), name="calpico-push")

    async def close(self) -> None:
        """Close the connection for good; iteration ends after the items already queued."""
        self._stop.set()
        ws = self._ws
        if ws is not None:
            with contextlib.suppress(Exception):
                await ws.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def __aenter__(self) -> PushConnection:
        self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def wait_connected(self, timeout: float | None = None) -> None:
        """Wait until the connection is up; raises `TimeoutError`."""
        async with asyncio.timeout(timeout):
            await self._connected.wait()

    def __aiter__(self) -> AsyncIterator[PushItem]:
        return self._items()

    async def _items(self) -> AsyncIterator[PushItem]:
        while True:
            item = await self._queue.get()
            if self._queue.qsize() < self._queue_limit:
                self._drained.set()
            if item is _END:
                return
            yield cast(PushItem, item)

    async def next_batch(self, limit: int = 500) -> list[PushItem]:
        """Wait for the next item, then take whatever else is already queued (up to ``limit``).

        Returns ``[]`` once the connection is closed for good and drained.
        """
        items: list[PushItem] = []
        item = await self._queue.get()
        while item is not _END:
            items.append(cast(PushItem, item))
            if len(items) >= limit or self._queue.empty():
                break
            item = self._queue.get_nowait()
        else:
            self._queue.put_nowait(_END)  # keep the end marker for the next caller
        if self._queue.qsize() < self._queue_limit:
            self._drained.set()
        return items

    def restart(self) -> None:
        """Drop every frame not yet taken and reconnect: the server then replays from the acknowledged cursor.

        For a consumer that failed to process a batch: processing later frames
        first would leave a gap, so it starts over from what it acknowledged.
        """
        self._generation += 1
        kept = []
        while not self._queue.empty():
            item = self._queue.get_nowait()
            if item is _END or isinstance(item, ConnectionChanged):
                kept.append(item)
        for item in kept:
            self._queue.put_nowait(item)
        self._drained.set()
        ws = self._ws
        if ws is not None:
            task = asyncio.get_running_loop().create_task(ws.close(code=1000, reason="client restart"))
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)

    # --- sending ------------------------------------------------------------------------

    async def ack(self, acks: list[Ack]) -> bool:
        """Acknowledge over the socket; ``False`` if it is down (acknowledge over HTTP instead)."""
        return await self._send_text(AckFrame(acks=acks).model_dump_json())

    async def send(self, frame: SendFrame) -> bool:
        """Send a message over the socket; the answer comes as a `SentFrame` or `ErrorFrame`."""
        return await self._send_text(frame.model_dump_json(exclude_none=True))

    async def _send_text(self, text: str) -> bool:
        ws = self._ws
        if ws is None:
            return False
        try:
            await ws.send(text)
        except WebSocketException:
            return False
        return True

    # --- the connect loop ---------------------------------------------------------------

    def _emit_state(self, state: ConnectionState, reason: str = "", retry_in: float | None = None) -> None:
        self.state = state
        if state is ConnectionState.CONNECTED:
            self._connected.set()
        else:
            self._connected.clear()
        self._queue.put_nowait(ConnectionChanged(state, reason, retry_in))

    async def _run(self) -> None:
        attempt = 0
        try:
            while not self._stop.is_set():
                self._emit_state(ConnectionState.CONNECTING)
                final, reason = await self._connect_once()
                if self._ws_was_up:
                    attempt = 0
                if final or self._stop.is_set():
                    self._emit_state(ConnectionState.CLOSED, reason)
                    return
                delay = self._backoff.delay(attempt)
                attempt += 1
                self._emit_state(ConnectionState.DISCONNECTED, reason, delay)
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(delay):
                        await self._stop.wait()
            self._emit_state(ConnectionState.CLOSED, "closed")
        finally:
            self._connected.clear()
            self.state = ConnectionState.CLOSED
            self._queue.put_nowait(_END)

    async def _connect_once(self) -> tuple[bool, str]:
        """One connection, read until it ends. Returns ``(stop for good, reason)``."""
        self._ws_was_up = False
        try:
            token = await self._transport.token()
        except (Unauthorized, NotFound) as exc:
            return True, f"the server refused this device: {exc}"
        except CalpicoError as exc:
            return False, str(exc)
        url = self._transport.websocket_url(self.notify_only)
        try:
            async with websockets.connect(
                url,
                additional_headers={"Authorization": f"Bearer {token}"},
                open_timeout=self._open_timeout,
                ping_interval=self._ping_interval,
                max_size=None,
                compression=None,
                proxy=None,
            ) as ws:
                self._ws = ws
                self._ws_was_up = True
                self.connects += 1
                self._emit_state(ConnectionState.CONNECTED)
                generation = self._generation
                with contextlib.suppress(ConnectionClosed):
                    async for raw in ws:
                        if self._generation != generation:
                            break  # restart() asked for a fresh connection: nothing more from this one
                        for item in _parse(raw):
                            self._queue.put_nowait(item)
                        # Backpressure: a consumer that falls far behind slows the reads (and so the server).
                        while self._queue.qsize() >= self._queue_limit:
                            self._drained.clear()
                            await self._drained.wait()
                code, why = ws.close_code, ws.close_reason
        except InvalidStatus as exc:
            status = exc.response.status_code
            if status in (401, 403):
                self._transport.invalidate_token()
            return False, f"the server refused the connection (HTTP {status})"
        except (OSError, TimeoutError, WebSocketException) as exc:
            return False, f"connection lost: {exc or type(exc).__name__}"
        finally:
            self._ws = None
        if self._generation != generation:
            return False, "reconnecting to resume from the acknowledged cursor"
        if code == CLOSE_REVOKED:
            return True, "this device was revoked"
        if code == CLOSE_REPLACED:
            return True, "another connection of this device replaced this one"
        return False, f"the server closed the connection ({code} {why})".strip()


def _parse(raw: str | bytes) -> list[PushItem]:
    """The frames in one WebSocket message: one JSON object, or a JSON array of them (a batch)."""
    head = raw[:1]
    if head in ("{", b"{"):
        # The usual case, parsed and validated in one pass; anything odd takes the path below,
        # which says what was wrong.
        with contextlib.suppress(ValidationError):
            return [_FRAME.validate_json(raw)]
    try:
        data = json.loads(raw)
    except ValueError:
        log.warning("ignoring a push frame that is not JSON")
        return []
    items: list[PushItem] = []
    for obj in data if isinstance(data, list) else [data]:
        kind = obj.get("type") if isinstance(obj, dict) else None
        model = _FRAMES.get(kind) if isinstance(kind, str) else None
        if model is None:
            log.warning("ignoring a push frame of unknown type %r", kind)
            continue
        try:
            items.append(model.model_validate(obj))
        except ValidationError:
            log.warning("ignoring a malformed %s frame", kind)
    return items
