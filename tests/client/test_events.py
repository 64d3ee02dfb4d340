"""The event bus: every subscriber gets every later event, in order; closing ends the streams."""

from __future__ import annotations

import pytest

from calpico.client.events import EventBus, KeyPackagesReplenished, MemberLeft


async def test_fan_out_in_order_and_end_of_stream() -> None:
    bus = EventBus()
    early = bus.subscribe()
    bus.publish(KeyPackagesReplenished(1))
    late = bus.subscribe()
    bus.publish(MemberLeft("c", "bob"))
    assert early.pending() == [KeyPackagesReplenished(1), MemberLeft("c", "bob")]
    assert await late.next(timeout=1) == MemberLeft("c", "bob")
    bus.close()
    assert [e async for e in early] == []
    with pytest.raises(StopAsyncIteration):
        await late.next(timeout=1)
    with pytest.raises(StopAsyncIteration):
        await bus.subscribe().next(timeout=1)


async def test_a_closed_subscription_gets_nothing_more() -> None:
    bus = EventBus()
    sub = bus.subscribe()
    sub.close()
    bus.publish(KeyPackagesReplenished(2))
    assert sub.pending() == []
