"""The key directory: devices of a user, KeyPackages, blocking, contacts, contact policy."""

from __future__ import annotations

from fastapi import APIRouter

from calpico.wire.common import DeviceId, Username
from calpico.wire.directory import (
    BlockList,
    ClaimResponse,
    ContactList,
    ContactPolicyBody,
    KeyPackageCount,
    KeyPackageUpload,
    KeyPackageUploadResult,
    UserDevices,
)

from .deps import Auth, State
from .errors import ERRORS

router = APIRouter(tags=["directory"], responses=ERRORS)


@router.get("/users/{username}/devices", response_model=UserDevices)
async def user_devices(principal: Auth, state: State, username: Username) -> UserDevices:
    """A user's active devices and their signature keys."""
    return UserDevices(username=username, devices=await state.accounts.list_devices(username))


@router.post("/key-packages", response_model=KeyPackageUploadResult)
async def upload_key_packages(body: KeyPackageUpload, principal: Auth, state: State) -> KeyPackageUploadResult:
    """Upload a batch of the caller device's KeyPackages and optionally its last-resort one."""
    refs, last, available = await state.directory.upload(principal, list(body.key_packages), body.last_resort)
    return KeyPackageUploadResult(refs=refs, last_resort_ref=last, available=available)


@router.get("/key-packages", response_model=KeyPackageCount)
async def count_key_packages(principal: Auth, state: State) -> KeyPackageCount:
    """How many of the caller device's KeyPackages are left to claim."""
    available, has_last = await state.directory.count(principal)
    return KeyPackageCount(available=available, has_last_resort=has_last)


@router.post("/users/{username}/key-packages/claim", response_model=ClaimResponse)
async def claim_key_packages(
    principal: Auth, state: State, username: Username, device_id: DeviceId | None = None
) -> ClaimResponse:
    """Claim one KeyPackage per person device of ``username``, or of the one device ``device_id`` names.

    Assistant devices are claimed only by name. Blocked, contacts-only and rate limits apply.
    """
    claimed = await state.directory.claim(principal, username, device_id)
    return ClaimResponse(username=username, key_packages=claimed)


@router.get("/blocks", response_model=BlockList)
async def list_blocks(principal: Auth, state: State) -> BlockList:
    return BlockList(blocked=await state.directory.list_blocks(principal))


@router.put("/blocks/{username}", status_code=204)
async def block(principal: Auth, state: State, username: Username) -> None:
    """Block a user: they cannot claim your KeyPackages, start a conversation with you, or add you."""
    await state.directory.set_block(principal, username, True)


@router.delete("/blocks/{username}", status_code=204)
async def unblock(principal: Auth, state: State, username: Username) -> None:
    await state.directory.set_block(principal, username, False)


@router.get("/contacts", response_model=ContactList)
async def list_contacts(principal: Auth, state: State) -> ContactList:
    return ContactList(contacts=await state.directory.list_contacts(principal))


@router.put("/contacts/{username}", status_code=204)
async def add_contact(principal: Auth, state: State, username: Username) -> None:
    await state.directory.set_contact(principal, username, True)


@router.delete("/contacts/{username}", status_code=204)
async def remove_contact(principal: Auth, state: State, username: Username) -> None:
    await state.directory.set_contact(principal, username, False)


@router.get("/contact-policy", response_model=ContactPolicyBody)
async def get_policy(principal: Auth, state: State) -> ContactPolicyBody:
    return ContactPolicyBody(policy=await state.directory.get_policy(principal))


@router.put("/contact-policy", response_model=ContactPolicyBody)
async def set_policy(body: ContactPolicyBody, principal: Auth, state: State) -> ContactPolicyBody:
    """``anyone`` (default) or ``contacts``: only contacts may claim your KeyPackages or add you."""
    await state.directory.set_policy(principal, body.policy)
    return body
