"""Fan-out between server processes: in-process for one node, Redis for several."""

from __future__ import annotations

from .base import PubSub, Subscriber
from .memory import MemoryPubSub

__all__ = ["MemoryPubSub", "PubSub", "Subscriber", "create_pubsub"]


def create_pubsub(redis_url: str | None) -> PubSub:
    """Redis pub/sub when ``redis_url`` is set, else the in-process backend."""
    if redis_url:
        from .redis import RedisPubSub

        return RedisPubSub(redis_url)
    return MemoryPubSub()
