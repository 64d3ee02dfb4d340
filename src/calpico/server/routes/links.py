"""Device-link mailbox (see `calpico.wire.links`)."""

from __future__ import annotations

from fastapi import APIRouter, Path, Response

from calpico.wire.links import LinkCreated, LinkPayload, NewDeviceSlot

from .deps import Auth, State
from .errors import ERRORS

router = APIRouter(tags=["links"], responses=ERRORS)

LinkId = Path(min_length=16, max_length=64, pattern="^[A-Za-z0-9_-]+$")


@router.post("/links", status_code=201, response_model=LinkCreated)
async def create(principal: Auth, state: State) -> LinkCreated:
    """Open a link mailbox owned by the calling device."""
    link_id, expires = await state.links.create(principal)
    return LinkCreated(id=link_id, expires_at=expires)


@router.put("/links/{link_id}/new/{slot}", status_code=204)
async def put_new(body: LinkPayload, slot: NewDeviceSlot, state: State, link_id: str = LinkId) -> Response:
    """The new device writes its sealed request or ready note (no session: the link id is the capability)."""
    await state.links.put_new(link_id, slot, body.payload)
    return Response(status_code=204)


@router.get("/links/{link_id}/new/{slot}", response_model=LinkPayload)
async def get_new(slot: NewDeviceSlot, principal: Auth, state: State, link_id: str = LinkId) -> LinkPayload:
    """The owner reads what the new device wrote (404 until it did)."""
    return LinkPayload(payload=await state.links.get_new(principal, link_id, slot))


@router.put("/links/{link_id}/answer", status_code=204)
async def put_answer(body: LinkPayload, principal: Auth, state: State, link_id: str = LinkId) -> Response:
    """The owner writes its sealed answer."""
    await state.links.put_answer(principal, link_id, body.payload)
    return Response(status_code=204)


@router.get("/links/{link_id}/answer", response_model=LinkPayload)
async def get_answer(state: State, link_id: str = LinkId) -> LinkPayload:
    """The new device reads the owner's answer (404 until it is there)."""
    return LinkPayload(payload=await state.links.get_answer(link_id))
