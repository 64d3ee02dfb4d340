"""The delivery engine: apply what the server delivers exactly once, acknowledge it, send the outbox.

Theory of operation
-------------------
The server delivers each device's messages at least once, in log order per
group (push frames, or ``GET /v1/inbox`` pages), until the device
acknowledges them. `Sync.apply` takes a batch of deliveries and, in **one**
store transaction:

1. skips every message at or below the group's ``processed_seq`` (a replay
   after a reconnect or a crash) — it is only acknowledged again;
2. hands each new one to the `ConversationHandler` inside a savepoint; a
   handler failure undoes that message's writes only and turns into a
   `DeliveryFailed` event (store and transport failures abort the batch);
3. records ``processed_seq`` for every group, and lets the handler write
   what it kept in memory for the batch (``handler.before_commit(tx)``, if
   it has one: the conversation layer writes each touched group's state
   once per batch rather than once per message).

Only after the commit are the events published and the acknowledgements
sent (over the WebSocket when it is up, else HTTP); ``acked_seq`` is
recorded with the next batch's transaction (or by `Sync.flush_acked`, at the
end of a catch-up and when the client closes), not with a commit of its
own. A crash before the commit loses nothing (the server delivers again); a
crash after it applies nothing twice (the seq is recorded). At start,
cursors whose ``processed_seq`` is ahead of ``acked_seq`` are acknowledged
again (`Sync.resend_acks`): at worst an acknowledgement the server has.

`Sync.flush_outbox` sends queued messages in order, over HTTP (idempotent by
``client_id``), and passes each result to the handler in a transaction that
also removes the item from the outbox. Failures worth another try (no
connection, 5xx, 429, a login that fails) pause the outbox with the item in
place; a refusal (409, 403, 400, 422, 404) is final for that item.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace

from calpico.wire.delivery import Ack, Delivered

from .conversations.handler import ConversationHandler
from .errors import RateLimited, ServerError, ServerUnavailable, StoreError, TransportError, Unauthorized
from .events import DeliveryFailed, Event
from .store import Store, Transaction
from .transport import Transport

__all__ = ["Sync"]

log = logging.getLogger("calpico.client.sync")

AckSender = Callable[[list[Ack]], Awaitable[bool]]


class Sync:
    """Applies deliveries through a handler, acknowledges them, flushes the outbox."""

    def __init__(
        self,
        store: Store,
        transport: Transport,
        handler: ConversationHandler,
        publish: Callable[[Event], None],
        ack_over_push: AckSender | None = None,
    ) -> None:
        self._store = store
        self._transport = transport
        self.handler = handler
        self._publish = publish
        self._ack_over_push = ack_over_push
        self.applied = 0
        self.duplicates = 0
        self._acked: dict[bytes, int] = {}  # told to the server, not yet recorded in the store
        # Each group's processed_seq as last committed here (only `apply` moves it), so a batch
        # need not wait for a read of the store before it starts.
        self._processed: dict[bytes, int] = {}

    async def apply(self, messages: Sequence[Delivered]) -> list[Ack]:
        """Apply a batch (see the module docstring); return the acknowledgements it calls for."""
        if not messages:
            return []
        events: list[Event] = []
        upto: dict[bytes, int] = {}
        async with self._store.transaction() as tx:
            self._write_acked(tx)
            processed: dict[bytes, int] = {}
            for message in messages:
                group = message.group_id
                if group not in processed:
                    known = self._processed.get(group)
                    processed[group] = known if known is not None else (await tx.delivery(group)).processed_seq
                if message.seq <= processed[group]:
                    self.duplicates += 1
                    upto[group] = max(upto.get(group, 0), message.seq)
                    continue
                try:
                    async with tx.savepoint():
                        events.extend(await self.handler.on_delivered(tx, message))
                except (StoreError, TransportError):
                    raise
                except Exception as exc:
                    log.warning("delivery %s/%d failed: %s", group.hex()[:16], message.seq, exc, exc_info=True)
                    events.append(DeliveryFailed(group, message.seq, f"{type(exc).__name__}: {exc}"))
                processed[group] = message.seq
                upto[group] = message.seq
                self.applied += 1
            for group, seq in processed.items():
                tx.mark_processed(group, seq)
            tx.on_commit(lambda: self._processed.update(processed))
            before_commit = getattr(self.handler, "before_commit", None)
            if before_commit is not None:
                await before_commit(tx)
        for event in events:
            self._publish(event)
        return [Ack(group_id=g, seq=s) for g, s in upto.items()]

    async def acknowledge(self, acks: list[Ack]) -> None:
        """Tell the server (push socket first, HTTP otherwise), then record it."""
        if not acks:
            return
        sent = self._ack_over_push is not None and await self._ack_over_push(acks)
        if not sent:
            await self._transport.ack(acks)
        self._note_acked(acks)

    def _note_acked(self, acks: Sequence[Ack]) -> None:
        # ``acked_seq`` is recorded lazily, with the next batch's transaction (or `flush_acked`):
        # a commit (an fsync) per acknowledgement would double the disk work of every delivery.
        # If the record is lost, `resend_acks` only tells the server again what it knows.
        for ack in acks:
            self._acked[ack.group_id] = max(ack.seq, self._acked.get(ack.group_id, 0))

    def _write_acked(self, tx: Transaction) -> None:
        pending = dict(self._acked)
        for group, seq in pending.items():
            tx.mark_acked(group, seq)

        def recorded() -> None:
            for group, seq in pending.items():
                if self._acked.get(group) == seq:
                    del self._acked[group]

        tx.on_commit(recorded)

    async def flush_acked(self) -> None:
        """Record the acknowledgements not yet in the store (at the end of a catch-up, at close)."""
        if self._acked:
            async with self._store.transaction() as tx:
                self._write_acked(tx)

    async def resend_acks(self) -> int:
        """Acknowledge what was processed but maybe never acknowledged (a crash after the commit)."""
        acks = [
            Ack(group_id=c.group_id, seq=c.processed_seq)
            for c in await self._store.deliveries()
            if c.processed_seq > c.acked_seq
        ]
        await self.acknowledge(acks)
        await self.flush_acked()
        return len(acks)

    async def catch_up(self, page: int = 500) -> int:
        """Fetch and apply the inbox until it is empty; return how many messages were new."""
        before = self.applied
        await self.resend_acks()
        while True:
            inbox = await self._transport.inbox(page)
            acks = await self.apply(inbox.messages)  # also records the previous page's acknowledgement
            # Over HTTP: the next inbox page starts after the acknowledged cursor.
            await self._transport.ack(acks)
            self._note_acked(acks)
            if not inbox.more or not inbox.messages:
                await self.flush_acked()
                return self.applied - before

    async def flush_outbox(self) -> int:
        """Send every queued message in order; return how many left the outbox.

        Stops at the first transport failure (the rest waits for the next flush).
        """
        done = 0
        for item in await self._store.outbox():
            try:
                result = await self._transport.send(item.group_id, item.client_id, item.message, item.welcome)
            except (TransportError, ServerUnavailable, RateLimited, Unauthorized) as exc:
                # Worth another try later: keep it, and everything after it, in order.
                log.info("outbox paused: %s", exc)
                async with self._store.transaction() as tx:
                    tx.put_outbox(replace(item, attempts=item.attempts + 1))
                return done
            except ServerError as exc:
                async with self._store.transaction() as tx:
                    events = list(await self.handler.on_send_failed(tx, item, exc))
                    tx.delete_outbox(item.client_id)
            else:
                async with self._store.transaction() as tx:
                    events = list(await self.handler.on_sent(tx, item, result))
                    tx.delete_outbox(item.client_id)
            for event in events:
                self._publish(event)
            done += 1
        return done
