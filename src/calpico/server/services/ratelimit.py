"""A token bucket per key (in memory, per process)."""

from __future__ import annotations

import time
from collections.abc import Callable

from ..errors import RateLimited

__all__ = ["RateLimiter"]


class RateLimiter:
    """``rate`` tokens per second refill a bucket of ``burst``; each call takes one."""

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._rate = rate
        self._burst = float(burst)
        self._clock = clock
        self._buckets: dict[object, tuple[float, float]] = {}

    def take(self, key: object) -> None:
        """Spend one token for ``key``; raises `RateLimited` with the wait when the bucket is empty."""
        now = self._clock()
        level, last = self._buckets.get(key, (self._burst, now))
        level = min(self._burst, level + (now - last) * self._rate)
        if level < 1.0:
            self._buckets[key] = (level, now)
            raise RateLimited("too many requests; slow down", retry_after=(1.0 - level) / self._rate)
        self._buckets[key] = (level - 1.0, now)
        if len(self._buckets) > 100_000:
            self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < 3600}
