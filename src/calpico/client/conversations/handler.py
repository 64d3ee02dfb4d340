"""How the conversation layer plugs into the client: the `ConversationHandler` protocol.

The conversation layer (DMs, rooms, invites, requests, messages: one MLS
group each) is built on `calpico.mls`'s group state machine. It plugs into a
`Client` as a `ConversationHandler`; the client's delivery engine
(`calpico.client.sync`) calls it:

``on_delivered(tx, message)``
    for every message the server delivers, in the server's order per group,
    exactly once: inside a store transaction that also records the message's
    seq, so the handler's writes (new group state, messages, conversation
    changes) commit atomically with it, and the message is acknowledged to
    the server only after that commit. A crash anywhere in between leaves the
    message unapplied and unacknowledged, and it comes again. The handler
    returns the events to publish once the transaction commits. If it raises,
    its writes are rolled back (a savepoint) and the message is skipped with
    a `DeliveryFailed` event, except for `StoreError`/`TransportError`, which
    abort the batch so it is retried.

``before_commit(tx)`` (optional)
    once per batch of deliveries, after the last ``on_delivered`` and before
    the transaction commits: write state kept in memory for the batch.

``contacts_changed()`` (optional)
    the contact or block lists changed on another device of this person
    (`Client.sync_contacts` noticed): drop whatever was cached of them.

``on_sent(tx, item, result)`` / ``on_send_failed(tx, item, error)``
    for every `OutboxItem` the handler queued with ``tx.put_outbox(...)``,
    once the server ordered it (merge a staged commit, record the message's
    seq) or refused it (`EpochConflict`: discard the staged commit, catch up
    with `Client.sync`, and try again). The outbox survives restarts; sends
    are idempotent by ``client_id``.

Useful pieces already there: `Store` and its records for persistence,
`KeyPackages.claim` (checked KeyPackages of another user's devices) and
`KeyPackages.take` (our private keys for a Welcome), `DeviceIdentity` (the
credential format), `Contacts` (requests, blocks, key changes), the events of
`calpico.client.events`, `calpico.wire.app` for message contents,
`attachments` for files, `ids.new_message_id`/`new_client_id`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from calpico.wire.delivery import Delivered
from calpico.wire.groups import SendResult

from ..errors import ServerError
from ..events import Event
from ..store import OutboxItem, Transaction

__all__ = ["ConversationHandler"]


class ConversationHandler(Protocol):
    """What the client calls with deliveries and send results (see the module docstring)."""

    async def on_delivered(self, tx: Transaction, message: Delivered) -> Sequence[Event]:
        """Apply one delivered MLS message inside ``tx``; return the events it caused."""
        ...

    async def on_sent(self, tx: Transaction, item: OutboxItem, result: SendResult) -> Sequence[Event]:
        """The server ordered ``item`` (at ``result.seq``, now ``result.epoch``)."""
        ...

    async def on_send_failed(self, tx: Transaction, item: OutboxItem, error: ServerError) -> Sequence[Event]:
        """The server refused ``item`` for good (e.g. `EpochConflict`); it leaves the outbox."""
        ...
