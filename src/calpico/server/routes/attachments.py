"""Encrypted attachments."""

from __future__ import annotations

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response

from calpico.wire.attachments import AttachmentCreated

from ..errors import PayloadTooLarge
from .deps import Auth, State
from .errors import ERRORS

router = APIRouter(tags=["attachments"], responses=ERRORS)


@router.post(
    "/attachments",
    status_code=201,
    response_model=AttachmentCreated,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
        }
    },
)
async def upload(request: Request, principal: Auth, state: State) -> AttachmentCreated:
    """Upload an encrypted blob (the raw body); the answer's ``id`` is the capability to fetch it."""
    limit = state.config.max_attachment_size
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"attachments are limited to {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"attachments are limited to {limit} bytes")
        chunks.append(chunk)
    cap, n, expires = await state.attachments.upload(principal, b"".join(chunks))
    return AttachmentCreated(id=cap, size=n, expires_at=expires)


@router.get(
    "/attachments/{attachment_id}",
    response_class=Response,
    responses={200: {"content": {"application/octet-stream": {}}}},
)
async def fetch(
    principal: Auth,
    state: State,
    attachment_id: str = Path(min_length=1, max_length=128, pattern="^[A-Za-z0-9_-]+$"),
) -> Response:
    """Fetch an attachment by its capability id."""
    return Response(await state.attachments.fetch(attachment_id), media_type="application/octet-stream")
