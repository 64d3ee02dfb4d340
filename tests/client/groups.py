"""Groups and messages on the real server without an MLS group state machine (it does not exist yet).

The server never decrypts or verifies MLS signatures: it reads framing,
senders, Adds (their KeyPackageRefs) and Welcome recipients. So these
helpers build real `calpico.mls` structures with opaque ciphertexts and
dummy tags (tests/server/mls_messages.py), while KeyPackages are the real
ones the SDK published and claimed. `FakeConversations` is a stand-in
conversation layer: it stores each delivery's bytes as a message, which is
enough to exercise the delivery engine's contract.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

from calpico.client.account import Account
from calpico.client.errors import ServerError, StoreError
from calpico.client.events import Event, MessageReceived
from calpico.client.store import Conversation, ConversationKind, Message, OutboxItem, Transaction
from calpico.wire.common import b64encode
from calpico.wire.delivery import Delivered
from calpico.wire.groups import SendResult

from ..server import mls_messages as mls


async def make_group(owner: Account, *members: Account) -> bytes:
    """A group of ``owner``'s device plus every device of ``members`` (one commit, epoch 0 → 1)."""
    group = uuid.uuid4().bytes
    await owner.transport.create_group(group, 1)
    if members:
        kps = [kp.encoded for m in members for kp in await owner.key_packages.claim(m.username)]
        commit = mls.commit(group, 0, 0, adds=tuple(kps))
        await owner.transport.send(group, uuid.uuid4().hex, commit, mls.welcome(*kps))
    return group


async def post(sender: Account, group: bytes, text: bytes, epoch: int = 1) -> int:
    """An application message with ``text`` as its (opaque) ciphertext; returns its seq."""
    result = await sender.transport.send(group, uuid.uuid4().hex, mls.application(group, epoch, text))
    return result.seq


class SimulatedCrash(StoreError):
    """Raised by `FakeConversations` to abort a batch as a crash would."""


@dataclass
class FakeConversations:
    """Stores every delivery as a message of the conversation named after its group."""

    applied: list[tuple[bytes, int]] = field(default_factory=list)
    poison: set[int] = field(default_factory=set)  # seqs whose processing fails (skipped)
    crash_at: int | None = None  # seq at which to abort the whole batch, once
    sent: list[tuple[str, int]] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)

    async def on_delivered(self, tx: Transaction, message: Delivered) -> Sequence[Event]:
        conversation_id = b64encode(message.group_id)
        if await tx.conversation(conversation_id) is None:
            tx.put_conversation(Conversation(conversation_id, ConversationKind.ROOM, message.group_id))
        stored = Message(
            conversation_id=conversation_id,
            message_id=f"seq-{message.seq}",
            sender_user="?",
            sender_device=message.sender,
            sent_at=message.sent_at,
            received_at=message.sent_at,
            content=message.body,
            seq=message.seq,
        )
        tx.put_message(stored)
        if message.seq in self.poison:
            raise ValueError(f"cannot process message {message.seq}")
        if self.crash_at == message.seq:
            self.crash_at = None
            raise SimulatedCrash("the process died here")
        tx.on_commit(lambda: self.applied.append((message.group_id, message.seq)))
        return [MessageReceived(conversation_id, stored)]

    async def on_sent(self, tx: Transaction, item: OutboxItem, result: SendResult) -> Sequence[Event]:
        self.sent.append((item.client_id, result.seq))
        return []

    async def on_send_failed(self, tx: Transaction, item: OutboxItem, error: ServerError) -> Sequence[Event]:
        self.refused.append((item.client_id, error.code.value))
        return []
