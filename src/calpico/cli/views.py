"""How SDK objects look: stable JSON objects for scripts, and Rich text for people.

JSON keys (documented in docs/cli.md; new keys may be added, none renamed):

- conversation: ``id, kind, name, peer, status, disappearing_seconds, updated_at``
- message: ``conversation_id, id, sender, device, sent_at, seq, state, type, text, edited, deleted, reactions,
  shown_as, ai_generated, away, assistant`` (``state``: ``sending``, ``sent`` or ``failed``; ``assistant``:
  ``{device_id, owner, name, verified}`` when an assistant member wrote it, else null)
- contact: ``username, state, verified, safety_number, keys_changed_at``
- device: ``device_id, name, cipher_suite, created_at, this_device``
- event: ``event`` (snake_case of the SDK's event class) plus its fields
"""

from __future__ import annotations

import dataclasses
import enum
import re
import time
from collections.abc import Mapping
from typing import Any

from rich.markup import escape
from rich.text import Text

from calpico.assistant import describe_card
from calpico.client import AssistantMember
from calpico.client.events import (
    AssistantApprovalRequested,
    AssistantCardChanged,
    AssistantCardRejected,
    AssistantRemoved,
    ConnectionStateChanged,
    ContactKeysChanged,
    ConversationAdded,
    ConversationLeft,
    DeliveryFailed,
    DeviceLinked,
    DisappearingTimerChanged,
    Event,
    InviteReceived,
    MemberJoined,
    MemberLeft,
    MemberRemoved,
    MessageDeleted,
    MessageEdited,
    MessageReceived,
    MessageRequestReceived,
    ReactionChanged,
    RoomRenamed,
    RoomUpdated,
    TypingChanged,
)
from calpico.client.store import Contact, Conversation, Message, SendState
from calpico.client.verification import format_safety_number
from calpico.wire.accounts import DeviceInfo
from calpico.wire.app import (
    AppMessage,
    AssistantCard,
    AssistantReply,
    Attachment,
    DisappearingTimer,
    RoomUpdate,
    Unknown,
    decode_app_message,
)
from calpico.wire.app import (
    Text as TextMessage,
)

__all__ = [
    "AssistantsByDevice",
    "author",
    "card_notice",
    "contact_json",
    "conversation_json",
    "describe",
    "device_json",
    "event_json",
    "event_line",
    "message_json",
    "message_line",
    "when",
]

AssistantsByDevice = Mapping[str, AssistantMember]
"""The assistant members a view knows (``Conversations.assistants``), by device id."""

# Each person gets a stable colour in the terminal.
_COLOURS = ("cyan", "magenta", "green", "yellow", "blue", "bright_red", "bright_cyan", "bright_magenta")


def person(username: str) -> str:
    """``username`` in its colour (Rich markup)."""
    colour = _COLOURS[sum(username.encode()) % len(_COLOURS)]
    return f"[bold {colour}]{escape(username)}[/]"


def when(timestamp: float, now: float | None = None) -> str:
    """``14:03`` today, ``Mar 04 14:03`` otherwise."""
    now = time.time() if now is None else now
    local, today = time.localtime(timestamp), time.localtime(now)
    if local[:3] == today[:3]:
        return time.strftime("%H:%M", local)
    return time.strftime("%b %d %H:%M", local)


def _plain(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, Message):
        return message_json(value)
    if isinstance(value, AssistantCard):
        return value.model_dump(mode="json", exclude={"signature", "assistant_key"})
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    return value


# --- JSON --------------------------------------------------------------------------------------


def conversation_json(c: Conversation) -> dict[str, Any]:
    return {
        "id": c.id,
        "kind": c.kind.value,
        "name": c.name,
        "peer": c.peer,
        "status": c.status.value,
        "disappearing_seconds": c.disappearing_seconds,
        "updated_at": c.updated_at,
    }


def _content(m: Message) -> AppMessage:
    return decode_app_message(m.content)


def _assistant_of(m: Message, content: AppMessage, assistants: AssistantsByDevice | None) -> AssistantMember | None:
    """The assistant member who wrote ``m``: a known one, or (an AI reply from a device not listed) its owner's."""
    member = (assistants or {}).get(m.sender_device)
    if member is None and isinstance(content, AssistantReply):
        member = AssistantMember(m.sender_device, m.sender_user)  # shown "alice's assistant (unverified)"
    return member


def author(m: Message, assistants: AssistantsByDevice | None = None) -> str:
    """Who wrote ``m``, as people see it: ``bob``, or ``Pico (alice's assistant)`` for an assistant member."""
    member = _assistant_of(m, _content(m), assistants)
    return member.display_name if member is not None else m.sender_user


def _ai_marker(content: AppMessage, owner: str) -> str:
    if not isinstance(content, AssistantReply):
        return ""
    return f"AI-generated, auto-reply on {owner}'s behalf" if content.away else "AI-generated"


def message_json(m: Message, assistants: AssistantsByDevice | None = None) -> dict[str, Any]:
    content = _content(m)
    member = _assistant_of(m, content, assistants)
    return {
        "conversation_id": m.conversation_id,
        "id": m.message_id,
        "sender": m.sender_user,
        "device": m.sender_device,
        "sent_at": m.sent_at,
        "seq": m.seq,
        "state": m.send_state.value,
        "type": content.type,
        "text": None if m.deleted else describe(content),
        "edited": m.edited_at is not None,
        "deleted": m.deleted,
        "reactions": [{"username": r.username, "emoji": r.emoji} for r in m.reactions],
        "shown_as": member.display_name if member is not None else m.sender_user,
        "ai_generated": isinstance(content, AssistantReply),
        "away": isinstance(content, AssistantReply) and content.away,
        "assistant": None
        if member is None
        else {
            "device_id": member.device_id,
            "owner": member.owner,
            "name": member.card.name if member.card is not None else None,
            "verified": member.verified,
        },
    }


def contact_json(c: Contact) -> dict[str, Any]:
    return {
        "username": c.username,
        "state": c.state.value,
        "verified": c.verified,
        "safety_number": c.safety_number,
        "keys_changed_at": c.keys_changed_at,
    }


def device_json(d: DeviceInfo, this_device: str | None) -> dict[str, Any]:
    return {
        "device_id": d.device_id,
        "name": d.name,
        "cipher_suite": d.cipher_suite,
        "created_at": d.created_at,
        "this_device": d.device_id == this_device,
    }


def event_name(event: Event) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", type(event).__name__).lower()


def event_json(event: Event) -> dict[str, Any]:
    """``{"event": "message_received", ...fields}``; messages as `message_json`, bytes as hex."""
    out: dict[str, Any] = {"event": event_name(event)}
    for f in dataclasses.fields(event):
        out[f.name] = _plain(getattr(event, f.name))
    return out


# --- people ----------------------------------------------------------------------------------


def describe(content: AppMessage) -> str:
    """A message's content as one plain string (no markup)."""
    if isinstance(content, TextMessage | AssistantReply):
        prefix = "[AI] " if isinstance(content, AssistantReply) else ""
        return prefix + content.body
    if isinstance(content, Attachment):
        caption = f" {content.caption}" if content.caption else ""
        return f"[file {content.name or 'unnamed'}, {content.size} bytes]{caption}"
    if isinstance(content, RoomUpdate):
        parts = [f"name → {content.name}"] if content.name is not None else []
        if content.topic is not None:
            parts.append(f"topic → {content.topic}")
        return "[room: " + (", ".join(parts) or "settings changed") + "]"
    if isinstance(content, AssistantCard):
        return f"[assistant card: {describe_card(content)}]"
    if isinstance(content, DisappearingTimer):
        return f"[disappearing messages: {content.seconds}s]" if content.seconds else "[disappearing messages off]"
    if isinstance(content, Unknown):
        return f"[unsupported message{' ' + repr(content.type) if content.type else ''}]"
    return f"[{content.type}]"


def message_line(
    m: Message, *, me: str | None = None, pending: bool = True, assistants: AssistantsByDevice | None = None
) -> Text:
    """``14:03 alice: hello (edited)``; ``(sending)`` / ``(not sent)`` on own messages not yet ordered
    or refused by the server (if ``pending``).

    An assistant's message: ``14:03 Pico (alice's assistant) [AI-generated]: …`` (its card's name
    and its owner, from ``assistants``; "alice's assistant (unverified)" until a card is accepted).
    """
    content = _content(m)
    member = _assistant_of(m, content, assistants)
    marker = _ai_marker(content, m.sender_user)
    if m.deleted:
        body = "[dim italic]message deleted[/]"
    else:
        body = escape(content.body if isinstance(content, AssistantReply) else describe(content))
        if isinstance(content, AssistantReply) and not content.final:
            body += " [dim]…[/]"  # still streaming
        if m.edited_at is not None and not isinstance(content, AssistantReply):
            body += " [dim](edited)[/]"
    if m.reactions:
        body += " [dim]" + " ".join(escape(f"{r.emoji} {r.username}") for r in m.reactions) + "[/]"
    mark = ""
    if pending and m.seq is None and m.sender_user == me:
        mark = " [dim](sending)[/]" if m.send_state is SendState.SENDING else " [red](not sent)[/]"
    who = person(m.sender_user) if member is None else _assistant_name(member)
    if marker:
        who += f" [bold]{escape(f'[{marker}]')}[/]"
    return Text.from_markup(f"[dim]{when(m.sent_at)}[/] {who}: {body}{mark}")


def _assistant_name(member: AssistantMember) -> str:
    colour = _COLOURS[sum(member.owner.encode()) % len(_COLOURS)]
    return f"[italic {colour}]{escape(member.display_name)}[/]"


_CARD_FIELDS = {
    "name": "name",
    "personality": "personality",
    "model": "model",
    "provider": "provider",
    "inference": "where it runs",
    "inference_host": "host",
    "retention": "what it keeps",
}


def card_notice(event: AssistantCardChanged) -> str:
    """The visible notice of a card (plain text): the first one in full, a change field by field."""
    card = event.card
    if not event.changed:
        return f"{card.name} ({card.owner}'s assistant) is a member here: {describe_card(card)}"
    parts = []
    for name in event.changed:
        value = getattr(card, name, None)
        shown = value.value if isinstance(value, enum.Enum) else value
        if name in _CARD_FIELDS:
            parts.append(f"{_CARD_FIELDS[name]} → {shown or '(none)'}")
    what = "; ".join(parts) or "its card changed"
    return f"{card.owner}'s assistant changed its card: {what} (now {card.name}, card rev {card.revision})"


def event_line(
    event: Event,
    where: str,
    *,
    me: str | None = None,
    pending: bool = True,
    assistants: AssistantsByDevice | None = None,
) -> Text | None:
    """One line for people, or None for events they need not see (``where`` names the conversation).

    ``assistants`` (the conversation's assistant members) names an assistant's messages after its card.
    """
    at = f"[dim]{escape(where)}[/] " if where else ""
    match event:
        case MessageReceived(message=m):
            return Text.from_markup(at) + message_line(m, me=me, pending=pending, assistants=assistants)
        case MessageEdited(message=m):
            line = message_line(m, me=me, pending=pending, assistants=assistants)
            if isinstance(_content(m), AssistantReply):
                return Text.from_markup(at) + line  # a streamed reply's next part: the reply so far
            return Text.from_markup(f"{at}[dim]edited:[/] ") + line
        case MessageDeleted(by=by):
            who = f" by {person(by)}" if by else " (expired)"
            return Text.from_markup(f"{at}[dim]a message was deleted[/]{who}")
        case ReactionChanged(username=u, emoji=e, removed=removed):
            verb = "removed" if removed else "reacted"
            return Text.from_markup(f"{at}{person(u)} {verb} {escape(e)}")
        case TypingChanged(username=u, active=active):
            return Text.from_markup(f"{at}[dim]{escape(u)} is typing…[/]") if active else None
        case MemberJoined(username=u, by=by, device_id=device, assistant=True):
            known = (assistants or {}).get(device or "")
            name = escape(known.display_name) if known is not None else f"{person(u)}'s assistant"
            added = f" (added by {person(by)})" if by else ""
            return Text.from_markup(f"{at}[green]→[/] {name} joined{added} [dim]— an AI member[/]")
        case AssistantRemoved(owner=owner, device_id=device, by=by):
            known = (assistants or {}).get(device)
            name = escape(known.display_name) if known is not None else f"{person(owner)}'s assistant"
            return Text.from_markup(f"{at}[yellow]←[/] {name} was removed by {person(by)}")
        case AssistantCardChanged():
            return Text.from_markup(f"{at}[bold yellow]notice:[/] {escape(card_notice(event))}")
        case AssistantCardRejected(sender=who, reason=why):
            return Text.from_markup(f"{at}[bold red]an assistant card from {escape(who)} was refused:[/] {escape(why)}")
        case AssistantApprovalRequested(owner=owner, card=card):
            return Text.from_markup(
                f"{at}[bold]approval:[/] {person(owner)} asks to add their assistant "
                f"[bold]{escape(card.name)}[/] ({escape(describe_card(card))})"
                f" — `calpico assistant approve ROOM {escape(owner)}` to let it in"
            )
        case MemberJoined(username=u, by=by, device_id=device):
            if device is not None and by is None:
                return Text.from_markup(f"{at}[green]→[/] {person(u)} joined on another device")
            added = f" (added by {person(by)})" if by and by != u else ""
            return Text.from_markup(f"{at}[green]→[/] {person(u)} joined{added}")
        case MemberLeft(username=u):
            return Text.from_markup(f"{at}[yellow]←[/] {person(u)} left")
        case MemberRemoved(username=u, by=by):
            return Text.from_markup(f"{at}[yellow]←[/] {person(u)} was removed by {person(by)}")
        case RoomRenamed(name=name, by=by):
            return Text.from_markup(f"{at}{person(by)} renamed the room to [bold]{escape(name)}[/]")
        case RoomUpdated(by=by):
            return Text.from_markup(f"{at}{person(by)} changed the room's settings")
        case ConversationAdded(conversation=c, by=by):
            name = escape(f"@{c.peer}" if c.peer else f"#{c.name or c.id[:8]}")
            if by is None or by == me:
                return Text.from_markup(f"[green]+[/] new conversation [bold]{name}[/]")
            return Text.from_markup(f"[green]→[/] {person(by)} added you to [bold]{name}[/]")
        case ConversationLeft(removed_by=by):
            if by:
                return Text.from_markup(f"{at}[yellow]←[/] you were removed by {person(by)}")
            return Text.from_markup(f"{at}[yellow]←[/] you left")
        case DeviceLinked(device_id=device, conversations=n):
            return Text.from_markup(f"[green]linked[/] a new device {escape(device[:8])} to {n} conversations")
        case DisappearingTimerChanged(seconds=s, by=by):
            what = f"{s}s" if s else "off"
            return Text.from_markup(f"{at}{person(by)} set disappearing messages to {what}")
        case InviteReceived(inviter=who, room_name=room):
            return Text.from_markup(
                f"[bold]invite:[/] {person(who)} invited you to [bold]#{escape(room or '?')}[/]"
                " — `calpico requests` to accept or decline"
            )
        case MessageRequestReceived(sender=who):
            return Text.from_markup(
                f"[bold]request:[/] {person(who)} wants to message you — `calpico requests` to accept or decline"
            )
        case ContactKeysChanged(username=u, was_verified=verified):
            loud = "[bold red]" if verified else "[yellow]"
            return Text.from_markup(f"{loud}{escape(u)}'s keys changed:[/] compare the safety number again")
        case ConnectionStateChanged(state=state, reason=why):
            return Text.from_markup(f"[dim]connection: {state.value}{' (' + escape(why) + ')' if why else ''}[/]")
        case DeliveryFailed(reason=why):
            return Text.from_markup(f"[red]a message could not be read:[/] {escape(why)}")
    return None


def safety_number_text(number: str) -> str:
    """Twelve groups of five digits, in three lines of four."""
    groups = format_safety_number(number).split()
    return "\n".join(" ".join(groups[i : i + 4]) for i in range(0, len(groups), 4))
