"""Accounts and devices: registration (open, by invite, or closed), adding, listing, revoking.

Devices have a kind (`DeviceKind`): a person's own device, or an assistant
member the person owns. An account's first device is a person's; only a
person's device may add devices (of either kind), and an assistant device
may revoke only itself — an assistant running on some host cannot take over
its owner's account.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from calpico.wire.accounts import DeviceInfo, DeviceKind, NewDevice
from calpico.wire.common import ErrorCode

from ..config import Registration, ServerConfig
from ..db.models import devices, invites, tokens, users
from ..errors import BadRequest, Conflict, Forbidden, NotFound, RegistrationRefused
from .auth import Principal, hash_secret

__all__ = ["AccountService"]


def _new_device_id() -> str:
    return secrets.token_urlsafe(12)


class AccountService:
    def __init__(self, engine: AsyncEngine, config: ServerConfig, clock: Callable[[], float] = time.time) -> None:
        self._engine = engine
        self._config = config
        self._clock = clock

    async def register(self, username: str, device: NewDevice, invite: str | None) -> DeviceInfo:
        """Create ``username`` with its first device.

        Raises `RegistrationRefused` (closed, or a missing/used-up invite),
        `Conflict` (username or signature key taken).
        """
        if device.kind is not DeviceKind.PERSON:
            raise BadRequest("an account's first device must be a person's device")
        mode = self._config.registration
        if mode is Registration.CLOSED:
            raise RegistrationRefused("registration is closed on this server")
        now = self._clock()
        async with self._engine.begin() as conn:
            if mode is Registration.INVITE:
                if not invite:
                    raise RegistrationRefused("an invite is required to register here")
                used = await conn.execute(
                    update(invites)
                    .where(invites.c.token_hash == hash_secret(invite), invites.c.uses_left > 0)
                    .values(uses_left=invites.c.uses_left - 1)
                )
                if used.rowcount != 1:
                    raise RegistrationRefused("unknown or used-up invite", code=ErrorCode.BAD_INVITE)
            try:
                result = await conn.execute(
                    insert(users).values(username=username, contact_policy="anyone", created_at=now)
                )
            except IntegrityError:
                raise Conflict("username is taken", code=ErrorCode.USERNAME_TAKEN) from None
            user_id = result.inserted_primary_key[0] if result.inserted_primary_key else None
            assert user_id is not None
            return await self._insert_device(conn, user_id, username, device, now)

    async def add_device(self, principal: Principal, device: NewDevice) -> DeviceInfo:
        """Add a device to the caller's account; raises `Forbidden` if the caller is an assistant device."""
        async with self._engine.begin() as conn:
            if await self.kind_of(conn, principal.device_id) is not DeviceKind.PERSON:
                raise Forbidden("an assistant device cannot add devices")
            return await self._insert_device(conn, principal.user_id, principal.username, device, self._clock())

    async def _insert_device(
        self, conn: AsyncConnection, user_id: int, username: str, device: NewDevice, now: float
    ) -> DeviceInfo:
        if not device.signature_key:
            raise BadRequest("empty signature key")
        device_id = _new_device_id()
        try:
            async with conn.begin_nested():
                await conn.execute(
                    insert(devices).values(
                        id=device_id,
                        user_id=user_id,
                        signature_key=device.signature_key,
                        cipher_suite=device.cipher_suite,
                        name=device.name,
                        created_at=now,
                        kind=device.kind.value,
                    )
                )
        except IntegrityError:
            raise Conflict("this signature key is already registered", code=ErrorCode.KEY_TAKEN) from None
        return DeviceInfo(
            device_id=device_id,
            username=username,
            signature_key=device.signature_key,
            cipher_suite=device.cipher_suite,
            name=device.name,
            created_at=now,
            kind=device.kind,
        )

    @staticmethod
    async def kind_of(conn: AsyncConnection, device_id: str) -> DeviceKind:
        """The kind of a device (an unknown value, written by a newer server, counts as an assistant's)."""
        row = (await conn.execute(select(devices.c.kind).where(devices.c.id == device_id))).first()
        if row is None:
            raise NotFound("no such device")
        return DeviceKind.PERSON if row.kind == DeviceKind.PERSON else DeviceKind.ASSISTANT

    async def list_devices(self, username: str) -> list[DeviceInfo]:
        """Active devices of ``username``; raises `NotFound` for an unknown user."""
        async with self._engine.connect() as conn:
            user = (await conn.execute(select(users.c.id).where(users.c.username == username))).first()
            if user is None:
                raise NotFound("no such user")
            rows = await conn.execute(
                select(devices)
                .where(devices.c.user_id == user.id, devices.c.revoked_at.is_(None))
                .order_by(devices.c.created_at, devices.c.id)
            )
            return [
                DeviceInfo(
                    device_id=r.id,
                    username=username,
                    signature_key=r.signature_key,
                    cipher_suite=r.cipher_suite,
                    name=r.name,
                    created_at=r.created_at,
                    kind=DeviceKind.PERSON if r.kind == DeviceKind.PERSON else DeviceKind.ASSISTANT,
                )
                for r in rows
            ]

    async def revoke_device(self, principal: Principal, device_id: str) -> None:
        """Revoke one of the caller's devices and delete its tokens.

        Raises `NotFound` if it is not the caller's active device, `Forbidden`
        if an assistant device tries to revoke any device but itself.
        """
        async with self._engine.begin() as conn:
            own = device_id == principal.device_id
            if not own and await self.kind_of(conn, principal.device_id) is not DeviceKind.PERSON:
                raise Forbidden("an assistant device may revoke only itself")
            result = await conn.execute(
                update(devices)
                .where(
                    devices.c.id == device_id, devices.c.user_id == principal.user_id, devices.c.revoked_at.is_(None)
                )
                .values(revoked_at=self._clock())
            )
            if result.rowcount != 1:
                raise NotFound("no such device")
            await conn.execute(delete(tokens).where(tokens.c.device_id == device_id))

    async def create_invite(self, uses: int = 1) -> str:
        """A new invite token good for ``uses`` registrations (operator command)."""
        if uses < 1:
            raise Forbidden("an invite needs at least one use")
        token = secrets.token_urlsafe(18)
        async with self._engine.begin() as conn:
            await conn.execute(
                insert(invites).values(token_hash=hash_secret(token), uses_left=uses, created_at=self._clock())
            )
        return token
