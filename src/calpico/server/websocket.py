"""Writing push frames to WebSockets: encoded once per message, written straight to the socket.

A message pushed to a group of n devices is the same text frame n times.
Through ASGI every copy would go through Starlette, uvicorn and the
`websockets` frame encoder; here the frame's bytes on the wire (RFC 6455 §5.2:
FIN + text opcode, the payload length, the UTF-8 payload — a server never
masks) are built once per message (`OutFrame.wire`) and handed to each
connection's transport as they are.

`CalpicoWebSocketProtocol` is uvicorn's sans-I/O `websockets` protocol that
also puts a `DirectSink` into the ASGI scope (``scope["extensions"]``); the
``/v1/ws`` route uses it when present and falls back to `AsgiSink` (plain
``websocket.send``) under any other server. A sink writes at once when the
transport is not paused (its buffer under the high-water mark); otherwise the
hub queues the frame and awaits `Sink.write`, which honours flow control.
"""

from __future__ import annotations

import asyncio
import struct
from collections import deque
from typing import Any, Protocol

from starlette.websockets import WebSocket
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.protocol import State

__all__ = ["AsgiSink", "CalpicoWebSocketProtocol", "DirectSink", "OutFrame", "Sink", "sink_for", "uvicorn_options"]

EXTENSION = "calpico.direct_send"


class OutFrame:
    """One text frame to push; its wire bytes are built on first use and then shared."""

    __slots__ = ("_wire", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self._wire: bytes | None = None

    @property
    def wire(self) -> bytes:
        wire = self._wire
        if wire is None:
            wire = self._wire = encode_text_frame(self.text.encode())
        return wire


def encode_text_frame(payload: bytes) -> bytes:
    """RFC 6455 §5.2: an unmasked, final text frame carrying ``payload``."""
    n = len(payload)
    if n < 126:
        return bytes((0x81, n)) + payload
    if n < 1 << 16:
        return struct.pack("!BBH", 0x81, 126, n) + payload
    return struct.pack("!BBQ", 0x81, 127, n) + payload


class Sink(Protocol):
    def try_write(self, frame: OutFrame) -> bool:
        """Write now if the socket can take it without waiting; False means: queue it and `write` later."""

    async def write(self, frame: OutFrame) -> None:
        """Write, waiting while the socket is paused. Raises `ConnectionError` once it is gone."""


class DirectSink:
    """Writes pre-encoded frames to the transport of a `CalpicoWebSocketProtocol`."""

    __slots__ = ("_proto",)

    def __init__(self, proto: WebSocketsSansIOProtocol) -> None:
        self._proto = proto

    def _open(self) -> bool:
        p = self._proto
        return not (p.close_sent or p.disconnected) and p.conn.state is State.OPEN and not p.transport.is_closing()

    def try_write(self, frame: OutFrame) -> bool:
        if not self._proto.writable.is_set():
            return False
        if self._open():
            self._proto.transport.write(frame.wire)
        return True  # a closed socket drops the frame: the device resumes from its cursor

    async def write(self, frame: OutFrame) -> None:
        await self._proto.writable.wait()
        if not self._open():
            raise ConnectionError("the WebSocket is closed")
        self._proto.transport.write(frame.wire)


class AsgiSink:
    """Any ASGI server: every frame goes through ``websocket.send``."""

    __slots__ = ("_ws",)

    def __init__(self, ws: WebSocket) -> None:
        self._ws = ws

    def try_write(self, frame: OutFrame) -> bool:
        return False

    async def write(self, frame: OutFrame) -> None:
        await self._ws.send_text(frame.text)


def sink_for(ws: WebSocket) -> Sink:
    direct = ws.scope.get("extensions", {}).get(EXTENSION)
    return direct if isinstance(direct, DirectSink) else AsgiSink(ws)


class _Inbox:
    """What uvicorn's protocol uses of `asyncio.Queue`, without its three deques per connection.

    An idle connection holds no buffer at all; one waiter at most (the app's
    single ``receive`` loop).
    """

    __slots__ = ("_items", "_waiter")

    def __init__(self) -> None:
        self._items: deque[Any] | None = None
        self._waiter: asyncio.Future[None] | None = None

    def put_nowait(self, item: Any) -> None:
        if self._items is None:
            self._items = deque()
        self._items.append(item)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def get(self) -> Any:
        while not self._items:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        items = self._items
        item = items.popleft()
        if not items:
            self._items = None
        return item

    def empty(self) -> bool:
        return not self._items

    def qsize(self) -> int:
        return len(self._items) if self._items else 0


class CalpicoWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's ``websockets-sansio`` protocol, offering the app a `DirectSink`.

    It also stops reading from a socket only once ``READ_AHEAD`` messages wait
    for the app, not after every message as uvicorn does: a device that
    pipelines sends then costs one read per TCP segment, not a pause and a
    resume of the socket per message.
    """

    READ_AHEAD = 64

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.queue = _Inbox()  # type: ignore[assignment]

    async def send(self, message: Any) -> None:
        await super().send(message)
        if message["type"] == "websocket.accept":
            # The handshake's request and response (with all their headers) are not needed
            # again; an idle connection should not keep them for hours.
            self.request = self.response = None  # type: ignore[assignment]

    def send_receive_event_to_app(self) -> None:
        data = self.frames[0] if len(self.frames) == 1 else b"".join(self.frames)
        self.frames = []
        if self.close_sent:
            return
        if self.curr_msg_data_type == "text":
            try:
                self.queue.put_nowait({"type": "websocket.receive", "text": data.decode()})
            except UnicodeDecodeError:
                self.conn.send_close(1007)
                self.handle_parser_exception()
                return
        else:
            self.queue.put_nowait({"type": "websocket.receive", "bytes": data})
        if not self.read_paused and self.queue.qsize() >= self.READ_AHEAD:
            self.read_paused = True
            self.transport.pause_reading()

    def handle_connect(self, event: Any) -> None:
        super().handle_connect(event)
        scope = getattr(self, "scope", None)  # absent when the handshake was refused
        if scope is not None:
            scope["extensions"][EXTENSION] = DirectSink(self)


def uvicorn_options(max_message_size: int) -> dict[str, Any]:
    """How `calpico server` runs uvicorn: uvloop, httptools, the protocol above, no deflate.

    Per-message deflate would compress every copy of every frame (and keep a
    zlib context per connection); the frames are ciphertext, which does not
    compress anyway.
    """
    return {
        "loop": "uvloop",
        "http": "httptools",
        "ws": CalpicoWebSocketProtocol,
        "ws_max_size": 2 * max_message_size + 4096,
        "ws_per_message_deflate": False,
        "access_log": False,
    }
