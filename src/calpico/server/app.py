"""The ASGI application: ``create_app(config)``.

Routes live in `calpico.server.routes` under the `calpico.wire.API_PREFIX`
(``/v1``); ``/healthz``, ``/metrics`` and the OpenAPI document
(``/v1/openapi.json``) sit beside them. Every error leaves as
``{code, message}`` JSON (`calpico.wire.common.ErrorBody`) with a 4xx
status; an unexpected exception is logged and answered with 500 ``internal``
without details.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import calpico
from calpico.wire.common import API_PREFIX, ErrorBody, ErrorCode

from .config import ServerConfig
from .errors import ServerError
from .routes import accounts, attachments, delivery, directory, groups, links, ws
from .services import metrics
from .state import ServerState

__all__ = ["create_app"]

log = logging.getLogger("calpico.server")

_STATUS_CODES = {
    400: ErrorCode.BAD_REQUEST,
    401: ErrorCode.UNAUTHENTICATED,
    403: ErrorCode.FORBIDDEN,
    404: ErrorCode.NOT_FOUND,
    405: ErrorCode.METHOD_NOT_ALLOWED,
    413: ErrorCode.TOO_LARGE,
    415: ErrorCode.UNSUPPORTED_MEDIA_TYPE,
    429: ErrorCode.RATE_LIMITED,
}


def _error(status: int, body: ErrorBody, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(body.model_dump(mode="json", exclude_none=True), status_code=status, headers=headers)


def _validation_message(exc: RequestValidationError) -> str:
    # Location and kind of the first problem only: never echo the submitted values.
    errors = exc.errors()
    if not errors:
        return "invalid request"
    first = errors[0]
    where = ".".join(str(p) for p in first.get("loc", ()))
    return f"invalid request: {where}: {first.get('type', 'invalid')}"


class BodyLimit:
    """Refuse request bodies larger than the limit (413) before they are read into memory.

    Attachments have their own, larger limit and stream.
    """

    def __init__(self, app: ASGIApp, limit: int, attachment_limit: int) -> None:
        self.app = app
        self.limit = limit
        self.attachment_limit = attachment_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.attachment_limit if scope["path"].startswith(f"{API_PREFIX}/attachments") else self.limit
        for name, value in scope.get("headers", ()):
            if name == b"content-length" and (not value.isdigit() or int(value) > limit):
                await _error(413, ErrorBody(code=ErrorCode.TOO_LARGE, message="request body too large"))(
                    scope, receive, send
                )
                return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise ServerError("request body too large", code=ErrorCode.TOO_LARGE)
            return message

        await self.app(scope, limited, send)


def create_app(config: ServerConfig | None = None) -> FastAPI:
    """The Calpico server as an ASGI app; storage and pub/sub open in its lifespan."""
    config = config or ServerConfig()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state = await ServerState.start(config)
        app.state.calpico = state
        try:
            yield
        finally:
            await state.stop()

    app = FastAPI(
        title="Calpico server",
        version=calpico.__version__,
        description="Delivery and directory service for Calpico (MLS, RFC 9420). It relays ciphertext only.",
        lifespan=lifespan,
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=f"{API_PREFIX}/docs",
        redoc_url=None,
    )

    @app.exception_handler(ServerError)
    async def _server_error(request: Request, exc: ServerError) -> JSONResponse:
        status = exc.status if exc.code != ErrorCode.TOO_LARGE else 413
        headers = {"Retry-After": str(max(1, round(exc.body().retry_after or 0)))} if status == 429 else None
        return _error(status, exc.body(), headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return _error(400, ErrorBody(code=ErrorCode.BAD_REQUEST, message=_validation_message(exc)))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _STATUS_CODES.get(exc.status_code, ErrorCode.BAD_REQUEST)
        status = exc.status_code if exc.status_code < 500 else 400
        return _error(status, ErrorBody(code=code, message=str(exc.detail)))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error("unhandled %s on %s %s", type(exc).__name__, request.method, request.url.path, exc_info=exc)
        return _error(500, ErrorBody(code=ErrorCode.INTERNAL, message="internal error"))

    @app.middleware("http")
    async def _count(request: Request, call_next: Any) -> Response:
        response: Response = await call_next(request)
        route = request.scope.get("route")
        template = getattr(route, "path", "unmatched")
        metrics.HTTP_REQUESTS.labels(template, str(response.status_code)).inc()
        return response

    for module in (accounts, directory, groups, delivery, attachments, links):
        app.include_router(module.router, prefix=API_PREFIX)

    @app.get("/healthz", tags=["operations"])
    async def healthz() -> dict[str, str]:
        """Liveness and database reachability."""
        state: ServerState = app.state.calpico
        from sqlalchemy import text

        async with state.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return {"status": "ok"}

    @app.get("/metrics", tags=["operations"], response_class=Response)
    async def prometheus() -> Response:
        """Prometheus metrics (counts and timings only; no ids, no content)."""
        return Response(generate_latest(metrics.REGISTRY), media_type=CONTENT_TYPE_LATEST)

    app.add_middleware(BodyLimit, limit=config.max_request_size, attachment_limit=config.max_attachment_size)
    app.add_middleware(ws.WebSocketRoute, path=f"{API_PREFIX}{ws.PATH}", owner=app)  # outermost: added last
    return app
