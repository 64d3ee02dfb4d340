"""Applying application messages (`calpico.wire.app`) to the local store, and the events they cause.

The same function applies a message received from another device and one
this device just sent, so every device of every person ends with the same
conversation. The rules:

- a message with content (text, attachment, poll, card, ... and `Unknown`
  types, kept whole and shown as unsupported) is stored under its id; a
  later message reusing an id never replaces the stored one (the insert is
  conditional, so no read is needed per message);
- `Reaction`: one entry per (person, emoji), added or removed;
- `Edit`: only the author's own messages; the text is replaced, ``edited_at`` set;
- `Delete`: the author, or a room admin (moderation), deletes for everyone:
  the content is wiped and ``deleted`` set (the row stays as a tombstone);
- `Receipt`: per person, the delivered/read time on each target message;
- `Typing`: an event only, never stored.
- `AssistantReply` with ``updates``: a streamed reply's next part replaces
  the body of the part it updates (same sending device only; nothing after
  the ``final`` part), shown as `MessageEdited`.

Edits, deletes and reactions whose target is unknown (expired, or never
received) are dropped; so are edits by anyone but the author. Messages of a
blocked person are stored but cause no event, and reads hide them.
"""

from __future__ import annotations

from dataclasses import replace

from calpico.wire.app import (
    AppMessage,
    AssistantReply,
    Delete,
    Edit,
    Reaction,
    Receipt,
    ReceiptKind,
    Text,
    Typing,
    decode_app_message,
    encode_app_message,
)

from ..events import (
    Event,
    MessageDeleted,
    MessageEdited,
    MessageReceived,
    ReactionChanged,
    ReceiptReceived,
    TypingChanged,
)
from ..store import Conversation, Message, ReactionEntry, ReceiptEntry, Transaction

__all__ = ["Author", "apply_content"]


class Author:
    """Who sent a message, and what they may do in the conversation."""

    __slots__ = ("admin", "device", "hidden", "username")

    def __init__(self, username: str, device: str, *, admin: bool, hidden: bool) -> None:
        self.username = username
        self.device = device
        self.admin = admin
        self.hidden = hidden


async def apply_content(
    tx: Transaction,
    conversation: Conversation,
    author: Author,
    data: bytes,
    *,
    seq: int | None,
    now: float,
    content: AppMessage | None = None,
) -> list[Event]:
    """Apply one application message's bytes; return the events to publish (none for a hidden author).

    ``content`` is ``decode_app_message(data)`` when the caller decoded it already.
    """
    if content is None:
        content = decode_app_message(data)
    events = await _apply(tx, conversation, author, content, data, seq, now)
    return [] if author.hidden else events


async def _apply(
    tx: Transaction,
    conversation: Conversation,
    author: Author,
    content: AppMessage,
    data: bytes,
    seq: int | None,
    now: float,
) -> list[Event]:
    cid = conversation.id
    if isinstance(content, Typing):
        return [TypingChanged(cid, author.username, content.active)]
    if isinstance(content, Reaction):
        target = await tx.message(cid, content.target)
        if target is None:
            return []
        entry = ReactionEntry(author.username, content.emoji)
        reactions = tuple(r for r in target.reactions if r != entry)
        if not content.remove:
            reactions += (entry,)
        tx.put_message(replace(target, reactions=reactions))
        return [ReactionChanged(cid, content.target, author.username, content.emoji, content.remove)]
    if isinstance(content, Edit):
        target = await tx.message(cid, content.target)
        if target is None or target.deleted or target.sender_user != author.username:
            return []
        original = decode_app_message(target.content)
        if not isinstance(original, Text):
            return []
        edited = original.model_copy(update={"body": content.body, "mentions": content.mentions})
        updated = replace(target, content=encode_app_message(edited), edited_at=content.sent_at / 1000)
        tx.put_message(updated)
        return [MessageEdited(cid, updated)]
    if isinstance(content, Delete):
        target = await tx.message(cid, content.target)
        if target is None or target.deleted:
            return []
        if target.sender_user != author.username and not author.admin:
            return []
        tx.put_message(replace(target, content=b"", deleted=True, reactions=()))
        return [MessageDeleted(cid, content.target, author.username)]
    if isinstance(content, Receipt):
        changed = []
        for target_id in content.targets:
            target = await tx.message(cid, target_id)
            if target is None:
                continue
            old = next((r for r in target.receipts if r.username == author.username), ReceiptEntry(author.username))
            new = (
                replace(old, read_at=old.read_at or now, delivered_at=old.delivered_at or now)
                if content.kind is ReceiptKind.READ
                else replace(old, delivered_at=old.delivered_at or now)
            )
            receipts = (*tuple(r for r in target.receipts if r.username != author.username), new)
            tx.put_message(replace(target, receipts=receipts))
            changed.append(target_id)
        return [ReceiptReceived(cid, author.username, content.kind, tuple(changed))] if changed else []
    if isinstance(content, AssistantReply) and content.updates is not None:
        target = await tx.message(cid, content.updates)
        if target is None or target.deleted or target.sender_device != author.device:
            return []
        first = decode_app_message(target.content)
        if not isinstance(first, AssistantReply) or first.final:
            return []
        merged = first.model_copy(update={"body": content.body, "final": content.final, "model": content.model})
        updated = replace(target, content=encode_app_message(merged), edited_at=content.sent_at / 1000)
        tx.put_message(updated)
        return [MessageEdited(cid, updated)]
    message_id = content.id
    sent_ms = content.sent_at if content.sent_at is not None else int(now * 1000)
    if message_id is None:
        message_id = f"unknown-{seq}" if seq is not None else f"unknown-{int(now * 1e6)}"
    sent_at = sent_ms / 1000
    expires = min(sent_at, now) + conversation.disappearing_seconds if conversation.disappearing_seconds > 0 else None
    message = Message(
        conversation_id=cid,
        message_id=message_id,
        sender_user=author.username,
        sender_device=author.device,
        sent_at=sent_at,
        received_at=now,
        content=data,
        seq=seq,
        expires_at=expires,
    )
    tx.add_message(message)  # a reused id never replaces the stored message
    return [MessageReceived(cid, message)]
