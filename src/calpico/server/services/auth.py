"""Device authentication: a signed challenge, then a short-lived bearer token.

1. ``issue_challenge(device_id)``: a random nonce, stored with an expiry.
2. The device signs ``auth_challenge_content(nonce, device_id, server_name)``
   with SignWithLabel (RFC 9420 §5.1.2, label ``"calpico auth challenge"``)
   using its MLS signature key, the one registered for the device.
3. ``redeem(...)`` consumes the nonce (once), verifies the signature, and
   returns a random token. Only SHA-256(token) is stored; lookups hash the
   presented token and compare hashes in constant time.

Tokens of a revoked device stop working at once: revocation deletes them in
the database and publishes an event that drops them from every process's cache.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from calpico.mls.errors import MLSError
from calpico.wire.accounts import AUTH_CHALLENGE_LABEL, auth_challenge_content

from ..config import ServerConfig
from ..db.models import challenges, devices, tokens, users
from ..errors import BadSignature, NotFound, Unauthenticated

__all__ = ["AuthService", "Principal", "hash_secret"]


def hash_secret(value: str | bytes) -> bytes:
    """SHA-256 of a token or capability; what the database stores instead of it."""
    data = value.encode("utf-8") if isinstance(value, str) else value
    return hashlib.sha256(data).digest()


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated device making a request."""

    device_id: str
    user_id: int
    username: str


class AuthService:
    def __init__(self, engine: AsyncEngine, config: ServerConfig, clock: Callable[[], float] = time.time) -> None:
        self._engine = engine
        self._config = config
        self._clock = clock
        self._cache: dict[bytes, tuple[Principal, float]] = {}

    async def issue_challenge(self, device_id: str) -> tuple[bytes, float]:
        """A fresh nonce for ``device_id``; raises `NotFound` for an unknown or revoked device."""
        now = self._clock()
        async with self._engine.begin() as conn:
            row = (
                await conn.execute(
                    select(devices.c.id).where(devices.c.id == device_id, devices.c.revoked_at.is_(None))
                )
            ).first()
            if row is None:
                raise NotFound("no such device")
            nonce = secrets.token_bytes(32)
            expires = now + self._config.challenge_ttl
            await conn.execute(insert(challenges).values(nonce=nonce, device_id=device_id, expires_at=expires))
        return nonce, expires

    async def redeem(self, device_id: str, nonce: bytes, signature: bytes) -> tuple[str, float, Principal]:
        """Check a signed challenge and return ``(token, expires_at, principal)``.

        Raises `BadSignature` if the nonce is unknown, expired, used, or for
        another device, or if the signature does not verify.
        """
        now = self._clock()
        # Consume the nonce in its own transaction, so that a failed attempt still uses it up.
        async with self._engine.begin() as conn:
            deleted = await conn.execute(
                delete(challenges)
                .where(challenges.c.nonce == nonce, challenges.c.device_id == device_id)
                .returning(challenges.c.expires_at)
            )
            row = deleted.first()
        if row is None or row.expires_at < now:
            raise BadSignature("unknown or expired challenge")
        async with self._engine.begin() as conn:
            dev = (
                await conn.execute(
                    select(devices.c.signature_key, devices.c.cipher_suite, devices.c.user_id, users.c.username)
                    .join(users, users.c.id == devices.c.user_id)
                    .where(devices.c.id == device_id, devices.c.revoked_at.is_(None))
                )
            ).first()
            if dev is None:
                raise BadSignature("unknown or revoked device")
            content = auth_challenge_content(nonce, device_id, self._config.server_name)
            verify_signature(dev.cipher_suite, dev.signature_key, content, signature)
            token = secrets.token_urlsafe(32)
            expires = now + self._config.token_ttl
            await conn.execute(
                insert(tokens).values(token_hash=hash_secret(token), device_id=device_id, expires_at=expires)
            )
        return token, expires, Principal(device_id, dev.user_id, dev.username)

    async def authenticate(self, token: str | None) -> Principal:
        """The device a bearer token belongs to; raises `Unauthenticated` otherwise."""
        if not token:
            raise Unauthenticated("missing bearer token")
        digest = hash_secret(token)
        now = self._clock()
        cached = self._cache.get(digest)
        if cached is not None:
            if cached[1] > now:
                return cached[0]
            self._cache.pop(digest, None)
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(
                    select(tokens.c.token_hash, tokens.c.expires_at, devices.c.id, devices.c.user_id, users.c.username)
                    .join(devices, devices.c.id == tokens.c.device_id)
                    .join(users, users.c.id == devices.c.user_id)
                    .where(tokens.c.token_hash == digest, devices.c.revoked_at.is_(None))
                )
            ).first()
        # The index lookup found the row by hash; compare again in constant time anyway.
        if row is None or not hmac.compare_digest(row.token_hash, digest) or row.expires_at <= now:
            raise Unauthenticated("invalid, expired or revoked token")
        principal = Principal(row.id, row.user_id, row.username)
        if len(self._cache) > 100_000:
            self._cache.clear()
        self._cache[digest] = (principal, row.expires_at)
        return principal

    def forget_device(self, device_id: str) -> None:
        """Drop cached tokens of a device (called on every process when it is revoked)."""
        for digest in [d for d, (p, _) in self._cache.items() if p.device_id == device_id]:
            self._cache.pop(digest, None)


def verify_signature(cipher_suite: int, public_key: bytes, content: bytes, signature: bytes) -> None:
    """VerifyWithLabel with the auth-challenge label; raises `BadSignature`."""
    from calpico.mls.crypto import get_suite

    try:
        get_suite(cipher_suite).verify_with_label(public_key, AUTH_CHALLENGE_LABEL, content, signature)
    except MLSError as exc:
        raise BadSignature("the challenge signature does not verify") from exc
