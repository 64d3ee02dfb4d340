"""The newest messages of each conversation, kept in memory from the device's events.

A reply's prompt needs the conversation's latest messages. Reading them
from the store on every mention puts a store read on the critical path —
and the store's single worker thread is then usually still busy with the
transaction acknowledging the very message that triggered the reply. So
the runtime reads a conversation once, then follows it from events:

- `MessageReceived` (others' messages, and this device's own, which the SDK
  publishes as it stores them) appends; the window keeps ``limit`` messages;
- `MessageEdited` (an edit, or a streamed reply's next part) replaces the
  message by id;
- `MessageSendStateChanged` (an own message ordered or refused by the
  server) updates its ``seq`` and ``send_error`` in place;
- reactions, receipts and typing change nothing a prompt shows;
- any other event of the conversation (a deletion or expiry, membership,
  cards, settings, an unknown future event) forgets the window, and the
  next reply reads the store again.

The runtime also reads a window ahead, when a message arrives in a
conversation it is active in but not followed yet (after a restart), so
the first mention there does not wait for the read either.

The window holds exactly what the store would return, because the SDK
publishes an event only after it stored the change; messages the SDK hides
(a blocked person's) cause no event, as reads hide them too. If an event
arrives while the store is being read, that read is used once but not kept
(it may or may not include the newer message).
"""

from __future__ import annotations

import collections
import dataclasses
from collections.abc import Awaitable, Callable

from calpico.client.events import (
    Event,
    MessageEdited,
    MessageReceived,
    MessageSendStateChanged,
    ReactionChanged,
    ReceiptReceived,
    TypingChanged,
)
from calpico.client.store import Message

__all__ = ["RecentMessages"]

Load = Callable[[str, int], Awaitable[list[Message]]]

_UNCHANGED = (ReactionChanged, ReceiptReceived, TypingChanged)


class RecentMessages:
    """Per conversation, the latest ``limit`` messages (oldest first), read once and then followed by events."""

    def __init__(self, load: Load, limit: int) -> None:
        self._load = load
        self._limit = limit
        self._windows: dict[str, collections.deque[Message]] = {}
        self._changes: collections.Counter[str] = collections.Counter()  # events seen, per conversation
        self.reads = 0  # store reads so far (for tests and benchmarks)

    async def get(self, conversation_id: str) -> list[Message]:
        """The latest messages of the conversation, oldest first (a store read only when not followed yet)."""
        window = self._windows.get(conversation_id)
        if window is not None:
            return list(window)
        before = self._changes[conversation_id]
        self.reads += 1
        messages = await self._load(conversation_id, self._limit)
        if self._changes[conversation_id] == before:
            self._windows[conversation_id] = collections.deque(messages, maxlen=self._limit)
        return messages

    def following(self, conversation_id: str) -> bool:
        """Whether the conversation's window is held (a `get` needs no store read)."""
        return conversation_id in self._windows

    def on_event(self, event: Event) -> None:
        """Follow one event of the device (call it for every event, in order)."""
        conversation_id = getattr(event, "conversation_id", None)
        if not isinstance(conversation_id, str) or isinstance(event, _UNCHANGED):
            return
        self._changes[conversation_id] += 1
        window = self._windows.get(conversation_id)
        if window is None:
            return
        if isinstance(event, MessageReceived):
            self._put(window, event.message, append=True)
        elif isinstance(event, MessageEdited):
            self._put(window, event.message, append=False)
        elif isinstance(event, MessageSendStateChanged):
            for i, held in enumerate(window):
                if held.message_id == event.message_id:
                    window[i] = dataclasses.replace(
                        held, seq=event.seq if event.seq is not None else held.seq, send_error=event.reason
                    )
                    break
        else:
            del self._windows[conversation_id]

    def forget(self, conversation_id: str | None = None) -> None:
        """Drop one conversation's window (or all): the next `get` reads the store."""
        if conversation_id is None:
            self._windows.clear()
        else:
            self._windows.pop(conversation_id, None)

    @staticmethod
    def _put(window: collections.deque[Message], message: Message, *, append: bool) -> None:
        for i, held in enumerate(window):
            if held.message_id == message.message_id:
                window[i] = message
                return
        if append:
            window.append(message)
