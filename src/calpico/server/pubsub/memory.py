"""In-process pub/sub: a single server process delivers its own events directly."""

from __future__ import annotations

from .base import PubSub, Subscriber

__all__ = ["MemoryPubSub"]


class MemoryPubSub(PubSub):
    def __init__(self) -> None:
        self._subscriber: Subscriber | None = None

    async def start(self, subscriber: Subscriber) -> None:
        self._subscriber = subscriber

    async def publish(self, event: bytes) -> None:
        if self._subscriber is not None:
            self._subscriber(event)

    async def close(self) -> None:
        self._subscriber = None
