"""What one server process holds while it runs, built in `app.create_app`'s lifespan.

Routes reach it as ``request.app.state.calpico``; services get only the
narrow things they need (engine, config, a publish function) at construction.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncEngine

from .config import ServerConfig
from .db.engine import create_engine, create_writer_engine, migrate
from .db.models import attachments, challenges, device_links, key_packages, tokens
from .pubsub import PubSub, create_pubsub
from .services.accounts import AccountService
from .services.attachments import AttachmentService
from .services.auth import AuthService
from .services.delivery import MessageWriter, RangeRead, read_group_range, sweep
from .services.directory import DirectoryService
from .services.events import encode_event
from .services.groups import GroupService
from .services.hub import Hub
from .services.links import LinkService

__all__ = ["ServerState"]

log = logging.getLogger("calpico.server")


@dataclass
class ServerState:
    config: ServerConfig
    engine: AsyncEngine
    pubsub: PubSub
    auth: AuthService
    accounts: AccountService
    directory: DirectoryService
    writer: MessageWriter
    groups: GroupService
    hub: Hub
    attachments: AttachmentService
    links: LinkService
    _sweeper: asyncio.Task[None] | None = field(default=None)

    @classmethod
    async def start(cls, config: ServerConfig) -> ServerState:
        """Open the database, apply migrations, connect pub/sub, start the writer and the sweeper."""
        engine = create_engine(config.effective_database_url)
        await migrate(engine)
        pubsub = create_pubsub(config.redis_url)
        writer = MessageWriter(engine, pubsub.publish, sync_engine=create_writer_engine(config.effective_database_url))

        async def fetch_range(device_id: str, group_id: bytes, after: int, upto: int | None) -> RangeRead:
            async with engine.connect() as conn:
                return await read_group_range(conn, device_id, group_id, after, upto, config.inbox_page)

        hub = Hub(fetch_range, config.push_queue_limit)
        auth = AuthService(engine, config)
        groups = GroupService(engine, config, writer, pubsub.publish)
        hub.on_revoke.append(auth.forget_device)
        hub.on_roster.append(groups.invalidate)
        state = cls(
            config=config,
            engine=engine,
            pubsub=pubsub,
            auth=auth,
            accounts=AccountService(engine, config),
            directory=DirectoryService(engine, config),
            writer=writer,
            groups=groups,
            hub=hub,
            attachments=AttachmentService(engine, config),
            links=LinkService(engine),
        )
        await pubsub.start(hub.on_event)
        writer.start()
        state._sweeper = asyncio.create_task(state._sweep_forever(), name="calpico-sweeper")
        return state

    async def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        await self.writer.stop()
        await self.pubsub.close()
        await self.engine.dispose()

    async def revoke(self, device_id: str) -> None:
        """Tell every process that a device was revoked (after the database says so)."""
        await self.pubsub.publish(encode_event([["x", device_id]]))

    async def sweep_once(self, now: float | None = None) -> int:
        """Delete what the retention and the acks allow; return the number of messages deleted."""
        now = time.time() if now is None else now
        retention = self.config.retention
        async with self.engine.begin() as conn:
            deleted = await sweep(conn, now, retention)
            await conn.execute(delete(tokens).where(tokens.c.expires_at < now))
            await conn.execute(delete(challenges).where(challenges.c.expires_at < now))
            await conn.execute(delete(attachments).where(attachments.c.expires_at < now))
            await conn.execute(delete(device_links).where(device_links.c.expires_at < now))
            await conn.execute(
                delete(key_packages).where(
                    key_packages.c.claimed_at.is_not(None), key_packages.c.claimed_at < now - retention
                )
            )
        return deleted

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(self.config.sweep_interval)
            try:
                await self.sweep_once()
            except Exception:
                log.exception("retention sweep failed")
