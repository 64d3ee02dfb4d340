"""Encrypted attachments: opaque blobs fetched by a random capability id, expiring with the retention.

The client encrypts the file and puts its key and hash inside the MLS
message; the server stores only ciphertext. The capability id is 32 random
bytes (base64url); the database keeps its SHA-256 only.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from ..config import ServerConfig
from ..db.models import attachments
from ..errors import BadRequest, NotFound, PayloadTooLarge
from .auth import Principal, hash_secret

__all__ = ["AttachmentService"]


class AttachmentService:
    def __init__(self, engine: AsyncEngine, config: ServerConfig, clock: Callable[[], float] = time.time) -> None:
        self._engine = engine
        self._config = config
        self._clock = clock

    async def upload(self, principal: Principal, blob: bytes) -> tuple[str, int, float]:
        """Store ``blob``; return ``(capability id, size, expires_at)``."""
        if not blob:
            raise BadRequest("empty attachment")
        if len(blob) > self._config.max_attachment_size:
            raise PayloadTooLarge(f"attachments are limited to {self._config.max_attachment_size} bytes")
        cap = secrets.token_urlsafe(32)
        now = self._clock()
        expires = now + self._config.retention
        async with self._engine.begin() as conn:
            await conn.execute(
                insert(attachments).values(
                    id_hash=hash_secret(cap),
                    owner_device=principal.device_id,
                    size=len(blob),
                    body=blob,
                    created_at=now,
                    expires_at=expires,
                )
            )
        return cap, len(blob), expires

    async def fetch(self, capability: str) -> bytes:
        """The blob for a capability id; raises `NotFound` if unknown or expired."""
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(
                    select(attachments.c.body, attachments.c.expires_at).where(
                        attachments.c.id_hash == hash_secret(capability)
                    )
                )
            ).first()
        if row is None or row.expires_at <= self._clock():
            raise NotFound("no such attachment")
        return bytes(row.body)
