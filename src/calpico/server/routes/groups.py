"""Conversations and sending."""

from __future__ import annotations

from fastapi import APIRouter, Path

from calpico.wire.common import b64decode
from calpico.wire.groups import CreateGroupRequest, GroupInfoResponse, SendRequest, SendResult

from ..errors import NotFound
from .deps import Auth, State
from .errors import ERRORS

router = APIRouter(tags=["groups"], responses=ERRORS)

GroupIdPath = Path(description="the MLS group id, base64url", min_length=1, max_length=400, pattern="^[A-Za-z0-9_-]+$")


def _group_id(text: str) -> bytes:
    try:
        return b64decode(text)
    except ValueError:
        raise NotFound("no such group") from None


@router.post("/groups", status_code=201, response_model=GroupInfoResponse)
async def create_group(body: CreateGroupRequest, principal: Auth, state: State) -> GroupInfoResponse:
    """Register a new group at epoch 0 with the calling device as leaf 0."""
    await state.groups.create(principal, body.group_id, body.cipher_suite)
    group, members = await state.groups.info(principal, body.group_id)
    return GroupInfoResponse(
        group_id=group.group_id, cipher_suite=group.cipher_suite, epoch=group.epoch, members=members
    )


@router.get("/groups/{group_id}", response_model=GroupInfoResponse)
async def group_info(principal: Auth, state: State, group_id: str = GroupIdPath) -> GroupInfoResponse:
    """The group's current epoch and roster (members only)."""
    group, members = await state.groups.info(principal, _group_id(group_id))
    return GroupInfoResponse(
        group_id=group.group_id, cipher_suite=group.cipher_suite, epoch=group.epoch, members=members
    )


@router.post("/groups/{group_id}/messages", response_model=SendResult)
async def send(body: SendRequest, principal: Auth, state: State, group_id: str = GroupIdPath) -> SendResult:
    """Send an MLSMessage. Idempotent per ``client_id``; a losing commit gets 409 with the current epoch."""
    gid = _group_id(group_id)
    outcome = await state.groups.send(principal, gid, body.client_id, body.message, body.welcome)
    return SendResult(group_id=gid, seq=outcome.seq, epoch=outcome.epoch, duplicate=outcome.duplicate)
