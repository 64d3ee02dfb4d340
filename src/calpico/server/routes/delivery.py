"""The device's inbox over HTTP: fetch, acknowledge, count."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Query

from calpico.wire.delivery import AckRequest, ConversationCount, Delivered, Inbox, Notification

from ..services.delivery import pending_counts, read_inbox
from ..services.events import KIND_NAMES
from .deps import Auth, State
from .errors import ERRORS

router = APIRouter(tags=["delivery"], responses=ERRORS)


@router.get("/inbox", response_model=Inbox)
async def inbox(principal: Auth, state: State, limit: int = Query(default=100, ge=1, le=1000)) -> Inbox:
    """Messages after the calling device's cursors, per group in order. Acknowledge to move on."""
    async with state.engine.connect() as conn:
        rows, more = await read_inbox(conn, principal.device_id, min(limit, state.config.inbox_page))
    return Inbox(
        messages=[
            Delivered(
                group_id=r.group_id,
                seq=r.seq,
                epoch=r.epoch,
                kind=KIND_NAMES[r.kind],
                sender=r.sender,
                client_id=r.client_id,
                body=r.body,
                sent_at=r.created_at,
            )
            for r in rows
        ],
        more=more,
    )


@router.post("/inbox/ack", status_code=204)
async def ack(body: AckRequest, principal: Auth, state: State) -> None:
    """Move the calling device's cursors: everything up to each ``seq`` was processed."""
    waits = [state.writer.ack(principal.device_id, a.group_id, a.seq) for a in body.acks]
    if waits:
        await asyncio.gather(*waits)


@router.get("/notifications", response_model=Notification)
async def notifications(principal: Auth, state: State) -> Notification:
    """Content-free: how many messages wait for this device, per conversation."""
    async with state.engine.connect() as conn:
        counts = await pending_counts(conn, principal.device_id)
    convs = [ConversationCount(group_id=g, count=n) for g, n in sorted(counts.items())]
    return Notification(conversations=convs, total=sum(counts.values()))
