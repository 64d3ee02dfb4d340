"""An own message's way out, end to end: sending → sent, or failed (the server refused it) → retried → sent."""

from __future__ import annotations

import pytest

from calpico.client.errors import NoSuchMessage, NotPermitted
from calpico.client.events import (
    DisappearingTimerChanged,
    MessageReceived,
    MessageRequestReceived,
    MessageSendStateChanged,
)
from calpico.client.store import SendState

from .conftest import People


async def test_a_sent_message_goes_from_sending_to_sent(people: People) -> None:
    alice = await people.person("alice")
    bob = await people.person("bob")
    dm = await alice.chats.start_dm(bob.name)
    sent = await alice.chats.send_text(dm.id, "hello MARK-state")
    done = await alice.wait(
        MessageSendStateChanged, lambda e: e.message_id == sent.message_id and e.state is SendState.SENT
    )
    states = [e.state for e in alice.events(MessageSendStateChanged) if e.message_id == sent.message_id]
    assert states == [SendState.SENDING, SendState.SENT]
    assert done.conversation_id == dm.id and done.seq is not None and done.reason is None
    stored = await alice.chats.message(dm.id, sent.message_id)
    assert stored.send_state is SendState.SENT and stored.seq == done.seq
    got = await bob.wait(MessageReceived, lambda e: e.message.message_id == sent.message_id)
    assert got.message.send_state is SendState.SENT
    assert not bob.events(MessageSendStateChanged)  # only the sending device reports its own messages


async def test_a_refused_message_is_failed_and_a_retry_sends_it(people: People) -> None:
    alice = await people.person("alice")
    bob = await people.person("bob")
    dm = await alice.chats.start_dm(bob.name)
    await bob.wait(MessageRequestReceived, lambda e: e.conversation_id == dm.id)
    await bob.chats.accept(dm.id)
    # Alice's device is offline while Bob moves the group to a new epoch; it comes back without a live
    # connection, so it has not seen the commit and encrypts for the old epoch: the server refuses that.
    alice = await people.reopen(alice, push=False)
    await bob.chats.set_disappearing_timer(dm.id, 3600)
    sent = await alice.chats.send_text(dm.id, "written before catching up MARK-retry")
    failed = await alice.wait(MessageSendStateChanged, lambda e: e.state is SendState.FAILED)
    assert failed.message_id == sent.message_id and failed.reason
    assert sent.send_state is SendState.FAILED and sent.send_error == failed.reason
    assert (await alice.chats.message(dm.id, sent.message_id)).send_state is SendState.FAILED
    with pytest.raises(NoSuchMessage):
        await bob.chats.retry(dm.id, sent.message_id)  # Bob never had it

    again = await alice.chats.retry(dm.id, sent.message_id)  # catches up, encrypts for the current epoch
    assert again.send_state is SendState.SENT
    await alice.wait(DisappearingTimerChanged, lambda e: e.conversation_id == dm.id)
    states = [e.state for e in alice.events(MessageSendStateChanged) if e.message_id == sent.message_id]
    assert states == [SendState.SENDING, SendState.FAILED, SendState.SENDING, SendState.SENT]
    got = await bob.wait(MessageReceived, lambda e: e.message.message_id == sent.message_id)
    assert bob.chats.content(got.message).body == "written before catching up MARK-retry"  # type: ignore[union-attr]
    with pytest.raises(NotPermitted):
        await alice.chats.retry(dm.id, sent.message_id)  # sent now: nothing to retry
