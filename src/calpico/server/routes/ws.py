"""``GET /v1/ws``: one WebSocket per device for push, resume-from-cursor, sending and acks.

See `calpico.wire.push` for the frames. Authentication is the same bearer
token as HTTP, in the ``Authorization`` header (never in the URL, which
would end up in access logs).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect

from calpico.wire.common import ErrorCode, b64encode
from calpico.wire.push import AckFrame, ErrorFrame, SendFrame

from ..db.models import groups
from ..errors import ServerError
from ..services.auth import Principal
from ..services.delivery import SendOutcome, device_cursors, pending_counts
from ..services.hub import Connection
from ..state import ServerState
from ..websocket import sink_for

MAX_FRAME = 1024 * 1024
_SEND_PREFIX = '{"type":"send"'
PATH = "/ws"


class WebSocketRoute:
    """ASGI middleware that answers ``GET /v1/ws`` itself, ahead of FastAPI's router and middleware.

    A WebSocket lives as long as the device stays connected, and every layer
    of the stack it passes keeps a coroutine frame (and often a closure) alive
    for that long: with 10,000 idle devices that is most of the server's
    memory. Only the error middleware stays outside.
    """

    def __init__(self, app: ASGIApp, path: str, owner: Any) -> None:
        self.app = app
        self.path = path
        self.owner = owner  # the FastAPI app, whose state holds the ServerState

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket" and scope["path"] == self.path:
            scope["app"] = self.owner
            ws = WebSocket(scope, receive, send)
            await websocket(ws, ws.query_params.get("mode", "push"))
            return
        await self.app(scope, receive, send)


async def websocket(ws: WebSocket, mode: str = "push") -> None:
    """One device's WebSocket: authenticate, replay its backlog, then push live and take sends and acks."""
    state: ServerState = ws.app.state.calpico
    header = ws.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    try:
        if scheme.lower() != "bearer":
            raise ServerError("missing bearer token")
        principal = await state.auth.authenticate(token.strip())
    except ServerError:
        await ws.close(code=4401, reason="unauthenticated")
        return
    await ws.accept()

    async def close_cb(code: int, reason: str) -> None:
        conn.close()
        with contextlib.suppress(Exception):
            await ws.close(code=code, reason=reason)

    conn = Connection(principal.device_id, sink_for(ws), close_cb, notify_only=(mode == "notify"))
    hub = state.hub
    try:
        await _start(state, conn)
        await _read_loop(ws, state, principal, conn)
    finally:
        hub.detach(conn)


async def _start(state: ServerState, conn: Connection) -> None:
    """Attach to the hub at the device's cursors and send its backlog (or, in notify mode, its counts).

    A function of its own so that what it reads (the database connection, rows)
    is freed once it returns, not kept for the life of the WebSocket.
    """
    hub = state.hub
    async with state.engine.connect() as db:
        cursors = await device_cursors(db, conn.device_id)
        counts = await pending_counts(db, conn.device_id) if conn.notify_only else {}
        if conn.notify_only and cursors:
            last = dict(
                (r.group_id, int(r.last_seq))
                for r in await db.execute(
                    select(groups.c.group_id, groups.c.last_seq).where(groups.c.group_id.in_(list(cursors)))
                )
            )
            cursors = {g: (last.get(g, a), left) for g, (a, left) in cursors.items()}
    await hub.attach(conn, cursors)
    if conn.notify_only:
        conn.counts = dict(counts)
        hub._flush_counts(conn)
        for group_id in list(cursors):
            hub.release(conn, group_id)
    else:
        for group_id in list(cursors):
            await hub.replay(conn, group_id)


async def _read_loop(ws: WebSocket, state: ServerState, principal: Principal, conn: Connection) -> None:
    while not conn.closed:
        try:
            message = await ws.receive()
        except (WebSocketDisconnect, RuntimeError):
            return
        if message["type"] == "websocket.disconnect":
            return
        text = message.get("text")
        if text is None:
            raw = message.get("bytes") or b""
            text = raw.decode("utf-8", "replace")
        if len(text) > MAX_FRAME:
            conn.push_text(_error(ErrorCode.TOO_LARGE, "frame too large"))
            continue
        try:
            if text.startswith(_SEND_PREFIX):  # the common frame: parsed and validated in one pass
                await _send(state, principal, conn, SendFrame.model_validate_json(text))
                continue
            data: Any = json.loads(text)
            kind = data.get("type") if isinstance(data, dict) else None
            if kind == "send":
                await _send(state, principal, conn, SendFrame.model_validate(data))
            elif kind == "ack":
                frame = AckFrame.model_validate(data)
                for a in frame.acks:
                    state.writer.ack(principal.device_id, a.group_id, a.seq)
            else:
                conn.push_text(_error(ErrorCode.BAD_REQUEST, "unknown frame type"))
        except (ValueError, ValidationError):
            conn.push_text(_error(ErrorCode.BAD_REQUEST, "malformed frame"))


async def _send(state: ServerState, principal: Principal, conn: Connection, frame: SendFrame) -> None:
    try:
        future = await state.groups.submit(principal, frame.group_id, frame.client_id, frame.message, frame.welcome)
    except ServerError as exc:
        conn.push_text(_server_error(exc, frame.client_id))
        return

    def done(f: asyncio.Future[SendOutcome]) -> None:
        exc = f.exception()
        if exc is not None:
            if isinstance(exc, ServerError):
                conn.push_text(_server_error(exc, frame.client_id))
            else:
                conn.push_text(_error(ErrorCode.UNAVAILABLE, "storage unavailable", frame.client_id))
            return
        r = f.result()
        conn.push_text(sent_frame(frame.group_id, frame.client_id, r))

    future.add_done_callback(done)


def sent_frame(group_id: bytes, client_id: str, r: SendOutcome) -> str:
    """`SentFrame` as JSON, written by hand: it answers every send, and pydantic's encoder costs more than the rest."""
    duplicate = "true" if r.duplicate else "false"
    return (
        f'{{"type":"sent","group_id":"{b64encode(group_id)}","client_id":{_json_str(client_id)},'
        f'"seq":{r.seq},"epoch":{r.epoch},"duplicate":{duplicate}}}'
    )


_json_str = json.JSONEncoder(ensure_ascii=False).encode


def _server_error(exc: ServerError, client_id: str | None) -> str:
    body = exc.body()
    return ErrorFrame(
        code=body.code, message=body.message, client_id=client_id, current_epoch=body.current_epoch
    ).model_dump_json()


def _error(code: ErrorCode, message: str, client_id: str | None = None) -> str:
    return ErrorFrame(code=code, message=message, client_id=client_id).model_dump_json()
