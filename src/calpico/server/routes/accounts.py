"""Accounts, devices, authentication."""

from __future__ import annotations

from fastapi import APIRouter

from calpico.wire.accounts import (
    ChallengeRequest,
    ChallengeResponse,
    DeviceInfo,
    DeviceList,
    NewDevice,
    RegisterRequest,
    RegisterResponse,
    TokenRequest,
    TokenResponse,
)
from calpico.wire.common import DeviceId

from .deps import Auth, State
from .errors import ERRORS

router = APIRouter(tags=["accounts"], responses=ERRORS)


@router.post("/accounts", status_code=201, response_model=RegisterResponse)
async def register(body: RegisterRequest, state: State) -> RegisterResponse:
    """Create an account with its first device (open, invite-only or closed, per the operator)."""
    device = await state.accounts.register(body.username, body.device, body.invite)
    return RegisterResponse(username=body.username, device=device)


@router.post("/auth/challenge", response_model=ChallengeResponse)
async def challenge(body: ChallengeRequest, state: State) -> ChallengeResponse:
    """A nonce for the device to sign with its MLS signature key."""
    nonce, expires = await state.auth.issue_challenge(body.device_id)
    return ChallengeResponse(nonce=nonce, server_name=state.config.server_name, expires_at=expires)


@router.post("/auth/token", response_model=TokenResponse)
async def token(body: TokenRequest, state: State) -> TokenResponse:
    """Exchange a signed challenge for a short-lived bearer token."""
    tok, expires, principal = await state.auth.redeem(body.device_id, body.nonce, body.signature)
    return TokenResponse(token=tok, expires_at=expires, device_id=principal.device_id, username=principal.username)


@router.get("/devices", response_model=DeviceList)
async def my_devices(principal: Auth, state: State) -> DeviceList:
    """The caller's active devices."""
    return DeviceList(devices=await state.accounts.list_devices(principal.username))


@router.post("/devices", status_code=201, response_model=DeviceInfo)
async def add_device(body: NewDevice, principal: Auth, state: State) -> DeviceInfo:
    """Add a device to the caller's account; it then authenticates with its own key."""
    return await state.accounts.add_device(principal, body)


@router.delete("/devices/{device_id}", status_code=204)
async def revoke_device(principal: Auth, state: State, device_id: DeviceId) -> None:
    """Revoke one of the caller's devices; its tokens and connections stop at once."""
    await state.accounts.revoke_device(principal, device_id)
    await state.revoke(device_id)
