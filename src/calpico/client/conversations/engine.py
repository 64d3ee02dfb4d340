"""The conversation engine: applies deliveries, sends through the outbox, commits with retries.

(Interface first; the implementation follows.)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from calpico.wire.app import AssistantPolicy, KnownAppMessage, Mention, ReceiptKind
from calpico.wire.delivery import Delivered
from calpico.wire.groups import SendResult

from ..errors import ServerError
from ..events import Event
from ..store import Contact, Conversation, Message, OutboxItem, Transaction
from .model import CommitRetryPolicy, LeavePolicy, LinkOffer, Participant, RoomSettings

if TYPE_CHECKING:
    from ..client import Client

__all__ = ["Engine"]


class Engine:
    """The `ConversationHandler` of a client, and the work behind `Conversations`."""

    def __init__(
        self, client: Client, *, cipher_suite: int | None, commit_retry: CommitRetryPolicy, leave_policy: LeavePolicy
    ) -> None:
        self.client = client
        self.cipher_suite = cipher_suite
        self.commit_retry = commit_retry
        self.leave_policy = leave_policy

    async def on_delivered(self, tx: Transaction, message: Delivered) -> Sequence[Event]:
        raise NotImplementedError

    async def on_sent(self, tx: Transaction, item: OutboxItem, result: SendResult) -> Sequence[Event]:
        raise NotImplementedError

    async def on_send_failed(self, tx: Transaction, item: OutboxItem, error: ServerError) -> Sequence[Event]:
        raise NotImplementedError

    async def conversation(self, conversation_id: str) -> Conversation:
        raise NotImplementedError

    async def settings(self, conversation_id: str) -> RoomSettings:
        raise NotImplementedError

    async def members(self, conversation_id: str) -> list[Participant]:
        raise NotImplementedError

    async def messages(self, conversation_id: str, *, limit: int, before: str | None) -> list[Message]:
        raise NotImplementedError

    async def message(self, conversation_id: str, message_id: str) -> Message:
        raise NotImplementedError

    async def start_dm(self, username: str) -> Conversation:
        raise NotImplementedError

    async def create_room(
        self, name: str, members: list[str], *, topic: str, admins: list[str], assistant_policy: AssistantPolicy
    ) -> Conversation:
        raise NotImplementedError

    async def invite(self, conversation_id: str, username: str) -> None:
        raise NotImplementedError

    async def remove(self, conversation_id: str, username: str) -> None:
        raise NotImplementedError

    async def leave(self, conversation_id: str) -> None:
        raise NotImplementedError

    async def update_settings(self, conversation_id: str, **changes: Any) -> None:
        raise NotImplementedError

    async def accept(self, conversation_id: str) -> Conversation:
        raise NotImplementedError

    async def decline(self, conversation_id: str, *, block: bool) -> None:
        raise NotImplementedError

    async def block(self, username: str) -> Contact:
        raise NotImplementedError

    async def unblock(self, username: str) -> Contact:
        raise NotImplementedError

    async def send_text(
        self, conversation_id: str, body: str, *, reply_to: str | None, mentions: tuple[Mention, ...]
    ) -> Message:
        raise NotImplementedError

    async def send(self, conversation_id: str, content: KnownAppMessage) -> Message:
        raise NotImplementedError

    async def react(self, conversation_id: str, message_id: str, emoji: str, *, remove: bool) -> None:
        raise NotImplementedError

    async def edit(self, conversation_id: str, message_id: str, body: str) -> Message:
        raise NotImplementedError

    async def delete(self, conversation_id: str, message_id: str) -> None:
        raise NotImplementedError

    async def receipt(self, conversation_id: str, kind: ReceiptKind, message_ids: tuple[str, ...]) -> None:
        raise NotImplementedError

    async def typing(self, conversation_id: str, active: bool) -> None:
        raise NotImplementedError

    async def send_attachment(
        self, conversation_id: str, data: bytes, *, name: str, media_type: str, caption: str | None
    ) -> Message:
        raise NotImplementedError

    async def download(self, conversation_id: str, message_id: str) -> bytes:
        raise NotImplementedError

    async def offer_link(self, ttl: float) -> LinkOffer:
        raise NotImplementedError

    async def complete_link(self, offer: LinkOffer, timeout: float) -> str:
        raise NotImplementedError
