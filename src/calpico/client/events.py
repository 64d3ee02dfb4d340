"""The events a `Client` reports: one async stream of typed, immutable events.

Conversation events come from MLS commits and application messages; the
conversation layer produces them (`calpico.client.conversations`) and the
client publishes them once the change they describe is committed to the
store. Device events (connection, notifications, keys, failed deliveries)
come from the SDK itself. Every event is a frozen dataclass; match on its
type::

    async for event in client.events():
        match event:
            case MessageReceived(conversation_id=c, message=m): ...
            case ConnectionStateChanged(state=ConnectionState.DISCONNECTED): ...

`EventBus` fans each event out to every subscriber; a subscriber sees the
events published after it subscribed, in order.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

from calpico.wire.app import AssistantCard, ReceiptKind

from .push import ConnectionState
from .store import Conversation, Message, SendState

__all__ = [
    "AssistantApprovalRequested",
    "AssistantCardChanged",
    "AssistantCardRejected",
    "AssistantRemoved",
    "ConnectionStateChanged",
    "ContactKeysChanged",
    "ContactsChanged",
    "ConversationAdded",
    "ConversationLeft",
    "DeliveryFailed",
    "DeviceLinked",
    "DisappearingTimerChanged",
    "Event",
    "EventBus",
    "InviteReceived",
    "KeyPackagesReplenished",
    "MemberJoined",
    "MemberLeft",
    "MemberRemoved",
    "MessageDeleted",
    "MessageEdited",
    "MessageReceived",
    "MessageRequestReceived",
    "MessageSendStateChanged",
    "NotificationsPending",
    "ReactionChanged",
    "ReceiptReceived",
    "RoomRenamed",
    "RoomUpdated",
    "Subscription",
    "TypingChanged",
]


@dataclass(frozen=True, slots=True)
class Event:
    """Base of every event."""


# --- conversations (produced by the conversation layer) -----------------------------------


@dataclass(frozen=True, slots=True)
class MessageReceived(Event):
    """A new message, as stored; an unsupported type has an `Unknown` content and is still shown."""

    conversation_id: str
    message: Message


@dataclass(frozen=True, slots=True)
class MessageSendStateChanged(Event):
    """An own message moved on: `SendState.SENDING` (stored, queued), ``SENT`` (the server ordered it,
    ``seq`` set) or ``FAILED`` (the server refused it: ``reason``; `Conversations.retry` sends it again).

    Published by the sending device only (its other devices get the message itself, already sent).
    """

    conversation_id: str
    message_id: str
    state: SendState
    reason: str | None = None
    seq: int | None = None


@dataclass(frozen=True, slots=True)
class MessageEdited(Event):
    conversation_id: str
    message: Message


@dataclass(frozen=True, slots=True)
class MessageDeleted(Event):
    """Deleted for everyone by ``by``, or (``by`` None) expired by its disappearing timer."""

    conversation_id: str
    message_id: str
    by: str | None = None


@dataclass(frozen=True, slots=True)
class ReactionChanged(Event):
    conversation_id: str
    message_id: str
    username: str
    emoji: str
    removed: bool = False


@dataclass(frozen=True, slots=True)
class ReceiptReceived(Event):
    conversation_id: str
    username: str
    kind: ReceiptKind
    message_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class TypingChanged(Event):
    conversation_id: str
    username: str
    active: bool


@dataclass(frozen=True, slots=True)
class MemberJoined(Event):
    """``username`` joined (added by ``by``); ``device_id`` set when one more device of a member joined.

    With ``assistant``, the device is an assistant member owned by ``username``
    ("Alice's assistant joined"), not one of their own devices.
    """

    conversation_id: str
    username: str
    by: str | None = None
    device_id: str | None = None
    assistant: bool = False


@dataclass(frozen=True, slots=True)
class AssistantRemoved(Event):
    """``owner``'s assistant (device ``device_id``) left the conversation; ``by`` committed it."""

    conversation_id: str
    owner: str
    device_id: str
    by: str


@dataclass(frozen=True, slots=True)
class AssistantCardChanged(Event):
    """A verified card of an assistant member: the first one, or a change (``changed`` names the fields).

    Every member shows it as a notice ("Alice's assistant is now called Pico").
    """

    conversation_id: str
    owner: str
    device_id: str
    card: AssistantCard
    changed: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class AssistantCardRejected(Event):
    """A card that failed verification (forged, stale, or for a device that is no assistant): ignored."""

    conversation_id: str
    sender: str
    sender_device: str
    reason: str


@dataclass(frozen=True, slots=True)
class AssistantApprovalRequested(Event):
    """``owner`` asks the room's admins to add their assistant (its verified card is ``card``)."""

    conversation_id: str
    owner: str
    device_id: str
    card: AssistantCard
    message_id: str


@dataclass(frozen=True, slots=True)
class MemberLeft(Event):
    conversation_id: str
    username: str


@dataclass(frozen=True, slots=True)
class MemberRemoved(Event):
    conversation_id: str
    username: str
    by: str


@dataclass(frozen=True, slots=True)
class RoomRenamed(Event):
    conversation_id: str
    name: str
    by: str


@dataclass(frozen=True, slots=True)
class DisappearingTimerChanged(Event):
    conversation_id: str
    seconds: int
    by: str


@dataclass(frozen=True, slots=True)
class InviteReceived(Event):
    """Someone not (yet) accepted added this person to a room: it waits under "requests"."""

    conversation_id: str
    inviter: str
    room_name: str = ""


@dataclass(frozen=True, slots=True)
class MessageRequestReceived(Event):
    """A DM from someone not (yet) accepted: it waits under "requests"."""

    conversation_id: str
    sender: str


@dataclass(frozen=True, slots=True)
class RoomUpdated(Event):
    """The room's topic, admins or assistant policy changed (a rename is `RoomRenamed`)."""

    conversation_id: str
    by: str
    topic: str
    admins: tuple[str, ...]
    assistant_policy: str


@dataclass(frozen=True, slots=True)
class ConversationAdded(Event):
    """A conversation appeared on this device: created here, or joined from a known person's invite.

    An invite or DM from someone not accepted is `InviteReceived` /
    `MessageRequestReceived` instead (its conversation has status ``request``).
    """

    conversation: Conversation
    by: str | None = None


@dataclass(frozen=True, slots=True)
class ConversationLeft(Event):
    """This device is no longer in the conversation: we left (``removed_by`` None) or were removed."""

    conversation_id: str
    removed_by: str | None = None


@dataclass(frozen=True, slots=True)
class DeviceLinked(Event):
    """A new device of this person was linked and added to ``conversations`` conversations."""

    device_id: str
    conversations: int


# --- this device (produced by the SDK) ----------------------------------------------------


@dataclass(frozen=True, slots=True)
class ConnectionStateChanged(Event):
    """The push connection went up or down; ``retry_in`` seconds until the next attempt."""

    state: ConnectionState
    reason: str = ""
    retry_in: float | None = None


@dataclass(frozen=True, slots=True)
class NotificationsPending(Event):
    """Content-free counts of waiting messages per group (notify-only mode)."""

    counts: tuple[tuple[bytes, int], ...]

    @property
    def total(self) -> int:
        return sum(n for _, n in self.counts)


@dataclass(frozen=True, slots=True)
class DeliveryFailed(Event):
    """A delivered message could not be processed; it is skipped (and acknowledged), not retried."""

    group_id: bytes
    seq: int
    reason: str


@dataclass(frozen=True, slots=True)
class ContactsChanged(Event):
    """This person's contact or block list changed on another of their devices (seen on the next
    sync with the server's lists): who is now blocked, and who no longer is."""

    blocked: tuple[str, ...]
    unblocked: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ContactKeysChanged(Event):
    """A person's device keys changed: their safety number changed; ``was_verified`` warns loudest."""

    username: str
    added: tuple[str, ...]
    removed: tuple[str, ...]
    replaced: tuple[str, ...]
    was_verified: bool


@dataclass(frozen=True, slots=True)
class KeyPackagesReplenished(Event):
    count: int


# --- fan-out --------------------------------------------------------------------------------

_END = object()


class Subscription:
    """One subscriber's view of the stream: ``async for event in subscription``; `close` to stop."""

    def __init__(self, bus: EventBus) -> None:
        self._bus = bus
        self._queue: asyncio.Queue[object] = asyncio.Queue()

    def _put(self, item: object) -> None:
        self._queue.put_nowait(item)

    def __aiter__(self) -> AsyncIterator[Event]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Event]:
        while True:
            item = await self._queue.get()
            if item is _END:
                return
            assert isinstance(item, Event)
            yield item

    async def next(self, timeout: float | None = None) -> Event:
        """The next event; raises `TimeoutError`, or `StopAsyncIteration` once the stream ended."""
        async with asyncio.timeout(timeout):
            item = await self._queue.get()
        if item is _END:
            self._queue.put_nowait(_END)
            raise StopAsyncIteration
        assert isinstance(item, Event)
        return item

    def pending_count(self) -> int:
        """How many events wait to be read."""
        return self._queue.qsize()

    def pending(self) -> list[Event]:
        """The events already waiting, without blocking."""
        out: list[Event] = []
        while not self._queue.empty():
            item = self._queue.get_nowait()
            if item is _END:
                self._queue.put_nowait(_END)
                break
            assert isinstance(item, Event)
            out.append(item)
        return out

    def close(self) -> None:
        self._bus._subscribers.discard(self)
        self._put(_END)


class EventBus:
    """Publishes each event to every current subscriber."""

    def __init__(self) -> None:
        self._subscribers: set[Subscription] = set()
        self._closed = False

    def subscribe(self) -> Subscription:
        subscription = Subscription(self)
        if self._closed:
            subscription._put(_END)
        else:
            self._subscribers.add(subscription)
        return subscription

    def publish(self, event: Event) -> None:
        for subscription in list(self._subscribers):
            subscription._put(event)

    def close(self) -> None:
        """End every subscriber's stream."""
        self._closed = True
        for subscription in list(self._subscribers):
            subscription.close()
