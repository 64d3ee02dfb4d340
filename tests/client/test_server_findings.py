"""Server behaviour the SDK's tests ran into that looked wrong; each test failed until the server was fixed."""

from __future__ import annotations

from calpico.wire.delivery import Ack

from .conftest import MakeAccount
from .groups import make_group, post


async def test_an_ack_past_the_end_of_the_log_does_not_swallow_later_messages(make_account: MakeAccount) -> None:
    alice, bob = await make_account(), await make_account()
    group = await make_group(alice, bob)
    await bob.transport.ack([Ack(group_id=group, seq=1_000)])  # a buggy or confused client
    later = await post(alice, group, b"sent after the bad ack")
    inbox = await bob.transport.inbox()
    assert later in [m.seq for m in inbox.messages]
