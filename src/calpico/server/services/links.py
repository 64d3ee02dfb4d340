"""The device-link mailbox (`calpico.wire.links`): one row per link, each slot written once.

The link id is 24 random bytes; only its SHA-256 is stored, like other
capabilities. The owner (the existing device) reads the new device's slots
and writes the answer; the new device, holding only the id, writes its
slots and reads the answer. Expired links are swept with the retention sweep.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from calpico.wire.common import ErrorCode
from calpico.wire.links import LINK_TTL, NewDeviceSlot

from ..db.models import device_links
from ..errors import Conflict, NotFound
from .auth import Principal, hash_secret

__all__ = ["LinkService"]


class LinkService:
    def __init__(self, engine: AsyncEngine, clock: Callable[[], float] = time.time) -> None:
        self._engine = engine
        self._clock = clock

    async def create(self, principal: Principal) -> tuple[str, float]:
        link_id = secrets.token_urlsafe(24)
        now = self._clock()
        async with self._engine.begin() as conn:
            await conn.execute(
                device_links.insert().values(
                    id_hash=hash_secret(link_id),
                    owner_device=principal.device_id,
                    created_at=now,
                    expires_at=now + LINK_TTL,
                )
            )
        return link_id, now + LINK_TTL

    async def _write(self, link_id: str, column: str, payload: bytes, owner: str | None) -> None:
        table = device_links
        where = [table.c.id_hash == hash_secret(link_id), table.c.expires_at > self._clock()]
        if owner is not None:
            where.append(table.c.owner_device == owner)
        async with self._engine.begin() as conn:
            result = await conn.execute(
                update(table).where(*where, table.c[column].is_(None)).values({column: payload})
            )
            if result.rowcount == 1:
                return
            exists = (await conn.execute(select(table.c.id_hash).where(*where))).first()
        if exists is None:
            raise NotFound("no such device link (or it expired)")
        raise Conflict(f"this device link's {column} was written already", code=ErrorCode.LINK_USED)

    async def _read(self, link_id: str, column: str, owner: str | None) -> bytes:
        table = device_links
        where = [table.c.id_hash == hash_secret(link_id), table.c.expires_at > self._clock()]
        if owner is not None:
            where.append(table.c.owner_device == owner)
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(table.c[column]).where(*where))).first()
        if row is None:
            raise NotFound("no such device link (or it expired)")
        if row[0] is None:
            raise NotFound(f"this device link has no {column} yet")
        return bytes(row[0])

    async def put_new(self, link_id: str, slot: NewDeviceSlot, payload: bytes) -> None:
        await self._write(link_id, slot.value, payload, None)

    async def get_new(self, principal: Principal, link_id: str, slot: NewDeviceSlot) -> bytes:
        return await self._read(link_id, slot.value, principal.device_id)

    async def put_answer(self, principal: Principal, link_id: str, payload: bytes) -> None:
        await self._write(link_id, "answer", payload, principal.device_id)

    async def get_answer(self, link_id: str) -> bytes:
        return await self._read(link_id, "answer", None)
