"""The conversation layer's interface: how it plugs into the client. Interface only, for now.

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

`Conversations` sketches the API the layer will offer on the client; nothing
implements it yet.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from calpico.wire.app import AppMessage
from calpico.wire.delivery import Delivered
from calpico.wire.groups import SendResult

from .errors import ServerError
from .events import Event
from .store import Conversation, Message, OutboxItem, Transaction

__all__ = ["ConversationHandler", "Conversations"]


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


class Conversations(Protocol):
    """The conversation API to come (not implemented yet): the shape the CLI and web app will use."""

    async def start_dm(self, username: str) -> Conversation: ...

    async def create_room(self, name: str, members: Sequence[str]) -> Conversation: ...

    async def invite(self, conversation_id: str, username: str) -> None: ...

    async def remove(self, conversation_id: str, username: str) -> None: ...

    async def leave(self, conversation_id: str) -> None: ...

    async def rename(self, conversation_id: str, name: str) -> None: ...

    async def set_disappearing_timer(self, conversation_id: str, seconds: int) -> None: ...

    async def accept(self, conversation_id: str) -> None: ...

    async def decline(self, conversation_id: str, *, block: bool = False) -> None: ...

    async def send(self, conversation_id: str, content: AppMessage) -> Message: ...

    async def messages(self, conversation_id: str, *, limit: int = 50, before: str | None = None) -> list[Message]: ...
