"""Redis pub/sub: several server processes (on one machine or many) serve the same users."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import redis.asyncio as aioredis

from .base import PubSub, Subscriber

__all__ = ["CHANNEL", "RedisPubSub"]

CHANNEL = "calpico:events"
log = logging.getLogger("calpico.server.pubsub")


class RedisPubSub(PubSub):
    def __init__(self, url: str, channel: str = CHANNEL) -> None:
        self._url = url
        self._channel = channel
        self._client: aioredis.Redis | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self, subscriber: Subscriber) -> None:
        self._client = aioredis.Redis.from_url(self._url)
        pubsub = self._client.pubsub(ignore_subscribe_messages=True)
        await pubsub.subscribe(self._channel)
        self._task = asyncio.create_task(self._listen(pubsub, subscriber), name="calpico-redis-listener")

    async def _listen(self, pubsub: aioredis.client.PubSub, subscriber: Subscriber) -> None:
        try:
            while True:
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                if message is None or message.get("type") != "message":
                    continue
                try:
                    subscriber(message["data"])
                except Exception:  # a bad event must not stop delivery of the next ones
                    log.exception("pub/sub subscriber failed")
        finally:
            with contextlib.suppress(Exception):
                await pubsub.aclose()

    async def publish(self, event: bytes) -> None:
        assert self._client is not None, "start() first"
        await self._client.publish(self._channel, event)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        if self._client is not None:
            await self._client.aclose()
