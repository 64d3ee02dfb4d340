"""Per-device delivery: the inbox (messages after the device's cursors), acks, notifications."""

from __future__ import annotations

import enum

from pydantic import Field

from .common import B64, ClientMessageId, DeviceId, Model

__all__ = [
    "Ack",
    "AckRequest",
    "ConversationCount",
    "Delivered",
    "Inbox",
    "MessageKind",
    "Notification",
]


class MessageKind(enum.StrEnum):
    APPLICATION = "application"
    PROPOSAL = "proposal"
    COMMIT = "commit"
    WELCOME = "welcome"


class Delivered(Model):
    """One message in a device's inbox or WebSocket push."""

    group_id: B64
    seq: int
    epoch: int
    kind: MessageKind
    sender: DeviceId
    client_id: ClientMessageId
    body: B64
    sent_at: float


class Inbox(Model):
    """Messages after the device's cursors, in log order per group; ``more`` says a next page exists."""

    messages: list[Delivered]
    more: bool


class Ack(Model):
    group_id: B64
    seq: int = Field(ge=0, le=2**62, description="everything up to and including seq was processed")


class AckRequest(Model):
    acks: list[Ack] = Field(max_length=1000)


class ConversationCount(Model):
    group_id: B64
    count: int


class Notification(Model):
    """Content-free: how many messages wait in which conversations, nothing more."""

    conversations: list[ConversationCount]
    total: int
