"""WebSocket frames (JSON text) between a device and the server.

Connect to ``GET /v1/ws`` with ``Authorization: Bearer <token>``; add
``?mode=notify`` to receive only content-free `NotifyFrame` counts. On
connect the server replays everything after the device's cursors, then
pushes new messages as they are stored. Frames from the server have a
``type``: ``"message"`` (a `MessageFrame`), ``"notify"``, ``"sent"`` (the
result of a `SendFrame`), ``"error"``. Frames from the device: ``"send"`` and
``"ack"``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from .common import B64, ClientMessageId, ErrorCode, Model
from .delivery import Ack, ConversationCount, Delivered

__all__ = ["AckFrame", "ErrorFrame", "MessageFrame", "NotifyFrame", "SendFrame", "SentFrame"]


class MessageFrame(Delivered):
    type: Literal["message"] = "message"


class NotifyFrame(Model):
    type: Literal["notify"] = "notify"
    conversations: list[ConversationCount]


class SendFrame(Model):
    type: Literal["send"] = "send"
    group_id: B64
    client_id: ClientMessageId
    message: B64
    welcome: B64 | None = None


class SentFrame(Model):
    type: Literal["sent"] = "sent"
    group_id: B64
    client_id: ClientMessageId
    seq: int
    epoch: int
    duplicate: bool = False


class AckFrame(Model):
    type: Literal["ack"] = "ack"
    acks: list[Ack] = Field(max_length=1000)


class ErrorFrame(Model):
    type: Literal["error"] = "error"
    code: ErrorCode
    message: str
    client_id: ClientMessageId | None = None
    current_epoch: int | None = None
