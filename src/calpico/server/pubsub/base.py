"""The pub/sub backend interface.

Every server process publishes one event per stored batch and receives every
event (its own included) through its one subscriber; the subscriber delivers
to the WebSocket connections of that process. Events are opaque bytes.
Delivery through pub/sub is best effort: a lost event only delays delivery,
since a device whose push has a gap fetches the missing range from the
database, and the database is the source of truth.
"""

from __future__ import annotations

import abc
from collections.abc import Callable

__all__ = ["PubSub", "Subscriber"]

Subscriber = Callable[[bytes], None]


class PubSub(abc.ABC):
    """One channel of events shared by every server process."""

    @abc.abstractmethod
    async def start(self, subscriber: Subscriber) -> None:
        """Connect and start calling ``subscriber`` with every event, in publication order."""

    @abc.abstractmethod
    async def publish(self, event: bytes) -> None:
        """Send ``event`` to every process's subscriber (this one's included)."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Stop receiving and release connections."""
