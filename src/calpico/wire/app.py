"""The application-message schema: what travels inside MLS application messages (ARCHITECTURE §4).

Every message is one JSON object (UTF-8, no whitespace), the envelope fields
first and then the fields of its type::

    {"v":1,"type":"text","id":"q2V…","sent_at":1733000000000,"body":"hi"}

``v``
    the envelope version, `APP_SCHEMA_VERSION`. New message types and new
    optional fields do not change it: old clients keep unknown types as
    `Unknown` and ignore fields they do not know. Only an incompatible change
    of the envelope would.
``type``
    which message this is; the classes below list theirs in ``type``.
``id``
    the message's id, chosen by the sender (random, base64url). Reactions,
    edits, deletes, receipts and replies point at it with ``target`` or
    ``reply_to``. It is inside the MLS ciphertext, so the server never sees it.
``sent_at``
    the sender's clock, milliseconds since the Unix epoch (integers only, so
    encoding is exact).

`encode_app_message` is deterministic (fields in declaration order, ``None``
fields left out). `decode_app_message` never raises and never drops anything:
bytes that are not JSON, a newer envelope version, an unknown type or a known
type whose fields do not validate all come back as `Unknown`, carrying the raw
payload so it can be stored, shown as "unsupported" and decoded again by a
newer client. ``benchmarks/bench_app_messages.py`` prints encode/decode rates.

Schemas only: no I/O, no clock, no randomness here; the client fills in ids
and times.
"""

from __future__ import annotations

import enum
import json
from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .common import B64, DeviceId, Username

__all__ = [
    "APP_SCHEMA_VERSION",
    "APP_TYPES",
    "AppMessage",
    "AssistantCard",
    "AssistantMode",
    "AssistantPolicy",
    "AssistantReply",
    "AssistantSettings",
    "Attachment",
    "Checklist",
    "ChecklistCheck",
    "Delete",
    "DisappearingTimer",
    "Edit",
    "InferenceLocation",
    "KnownAppMessage",
    "Mention",
    "MessageId",
    "Poll",
    "PollVote",
    "Reaction",
    "Receipt",
    "ReceiptKind",
    "RoomUpdate",
    "SharedChat",
    "Text",
    "TranscriptEntry",
    "TranscriptRole",
    "Typing",
    "Unknown",
    "decode_app_message",
    "encode_app_message",
]

APP_SCHEMA_VERSION = 1

MessageId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]{1,64}$")]
"""A message's id: chosen by its sender, unique within the conversation (22 random base64url chars)."""

Body = Annotated[str, Field(max_length=65_536)]
ShortText = Annotated[str, Field(max_length=256)]
Emoji = Annotated[str, Field(min_length=1, max_length=32)]
Millis = Annotated[int, Field(ge=0, le=2**53)]


class _Part(BaseModel):
    """Base of the schema's parts: immutable; unknown fields (from newer clients) are ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True)


class _Envelope(_Part):
    """The fields every application message starts with."""

    TYPE: ClassVar[str] = ""
    v: Literal[1] = 1
    type: str
    id: MessageId
    sent_at: Millis


# --- conversation content --------------------------------------------------------------


class Mention(_Part):
    """A mentioned person, or one device of theirs (an assistant member is addressed by its device)."""

    username: Username
    device_id: DeviceId | None = None


class Text(_Envelope):
    """A text message, optionally a reply, optionally mentioning people."""

    TYPE: ClassVar[str] = "text"
    type: Literal["text"] = "text"
    body: Body
    reply_to: MessageId | None = None
    mentions: tuple[Mention, ...] = Field(default=(), max_length=256)


class Reaction(_Envelope):
    """Add (or, with ``remove``, take back) an emoji reaction to a message."""

    TYPE: ClassVar[str] = "reaction"
    type: Literal["reaction"] = "reaction"
    target: MessageId
    emoji: Emoji
    remove: bool = False


class Edit(_Envelope):
    """Replace the body of one of the sender's own earlier messages."""

    TYPE: ClassVar[str] = "edit"
    type: Literal["edit"] = "edit"
    target: MessageId
    body: Body
    mentions: tuple[Mention, ...] = Field(default=(), max_length=256)


class Delete(_Envelope):
    """Delete one of the sender's own messages for everyone."""

    TYPE: ClassVar[str] = "delete"
    type: Literal["delete"] = "delete"
    target: MessageId


class ReceiptKind(enum.StrEnum):
    DELIVERED = "delivered"
    READ = "read"


class Receipt(_Envelope):
    """The sender's device received (or its person read) these messages."""

    TYPE: ClassVar[str] = "receipt"
    type: Literal["receipt"] = "receipt"
    kind: ReceiptKind
    targets: tuple[MessageId, ...] = Field(min_length=1, max_length=512)


class Typing(_Envelope):
    """The sender started (``active``) or stopped typing."""

    TYPE: ClassVar[str] = "typing"
    type: Literal["typing"] = "typing"
    active: bool = True


class Attachment(_Envelope):
    """A file encrypted client-side and uploaded as a blob.

    ``capability`` fetches the ciphertext from the server; ``sha256`` is the
    hash of that ciphertext; ``key`` decrypts it with the AEAD ``aead_id``
    (HPKE AEAD ids: 3 is ChaCha20-Poly1305). ``size`` is the plaintext size.
    """

    TYPE: ClassVar[str] = "attachment"
    type: Literal["attachment"] = "attachment"
    capability: Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_-]+$")]
    key: Annotated[B64, Field(min_length=16, max_length=64)]
    sha256: Annotated[B64, Field(min_length=32, max_length=32)]
    aead_id: int = Field(default=3, ge=1, le=0xFFFF)
    size: int = Field(ge=0)
    media_type: ShortText = "application/octet-stream"
    name: ShortText = ""
    caption: Body | None = None
    reply_to: MessageId | None = None


# --- rooms -------------------------------------------------------------------------------


class AssistantPolicy(enum.StrEnum):
    """How assistant members may take part in a conversation."""

    MENTION = "mention"  # answer only when mentioned (the default)
    AUTO = "auto"  # may answer any message
    NONE = "none"  # no assistants in this room


class RoomUpdate(_Envelope):
    """A change of the room's metadata; fields left out (``None``) are unchanged.

    The authoritative admin list and policy live in the group's GroupContext
    extension; this message announces the change so members can show it.
    """

    TYPE: ClassVar[str] = "room_update"
    type: Literal["room_update"] = "room_update"
    name: ShortText | None = None
    topic: Annotated[str, Field(max_length=4096)] | None = None
    admins: tuple[Username, ...] | None = Field(default=None, max_length=1024)
    assistant_policy: AssistantPolicy | None = None


class DisappearingTimer(_Envelope):
    """Messages sent after this one disappear ``seconds`` after they are sent (0: never)."""

    TYPE: ClassVar[str] = "disappearing_timer"
    type: Literal["disappearing_timer"] = "disappearing_timer"
    seconds: int = Field(ge=0, le=366 * 86_400)


# --- assistants -------------------------------------------------------------------------


class InferenceLocation(enum.StrEnum):
    ON_DEVICE = "on_device"
    SELF_HOSTED = "self_hosted"
    THIRD_PARTY = "third_party"


class AssistantCard(_Envelope):
    """Who an assistant member is and where its inference runs (ARCHITECTURE §5).

    ``signature`` is the owner device's SignWithLabel("calpico assistant
    card") over the card's fields without the envelope (``v``, ``type``,
    ``id``, ``sent_at``) and without ``signature`` (see
    `calpico.client.conversations.assistants`), so one signature serves every
    conversation the card is posted in. ``assistant_key`` binds the card to
    the assistant device's signature key; ``inference_host`` names the
    self-hosted server or third-party API. Checking all of it is the client's job.
    """

    TYPE: ClassVar[str] = "assistant_card"
    type: Literal["assistant_card"] = "assistant_card"
    assistant_device: DeviceId
    owner: Username
    name: ShortText
    personality: Annotated[str, Field(max_length=4096)] = ""
    model: ShortText
    provider: ShortText
    inference: InferenceLocation
    inference_host: ShortText = ""
    retention: ShortText = ""
    revision: int = Field(default=1, ge=1)
    signer_device: DeviceId
    signature: Annotated[B64, Field(max_length=512)] = b""
    assistant_key: Annotated[B64, Field(max_length=256)] | None = None


class AssistantReply(_Envelope):
    """A message written by an assistant: always marked AI-generated.

    A reply may stream: the first part has an ``id``; later parts carry
    ``updates`` = that id and replace its body; the last has ``final``.
    ``away`` marks an auto-reply the assistant sent on its owner's behalf
    while the owner is away; ``untrusted_sources`` says what else went into
    the answer that did not come from a member (a web search, a transcript).
    """

    TYPE: ClassVar[str] = "assistant_reply"
    type: Literal["assistant_reply"] = "assistant_reply"
    ai_generated: Literal[True] = True
    body: Body
    reply_to: MessageId | None = None
    updates: MessageId | None = None
    final: bool = True
    model: ShortText | None = None
    away: bool = False


class AssistantMode(enum.StrEnum):
    """When an assistant speaks in one conversation (its owner's choice, within the room's policy)."""

    MENTION = "mention"  # only when mentioned (the default)
    AUTO = "auto"  # when the model judges a message calls for it (rate-limited)
    OFF = "off"  # never


class AssistantSettings(_Envelope):
    """The owner's settings for their assistant in this conversation, shown to every member.

    Sent by a device of the assistant's owner; fields left out are unchanged.
    ``away`` (DMs): the assistant answers on the owner's behalf, each reply
    labelled; ``away_note`` tells it what to say about the absence.
    """

    TYPE: ClassVar[str] = "assistant_settings"
    type: Literal["assistant_settings"] = "assistant_settings"
    assistant_device: DeviceId
    mode: AssistantMode | None = None
    instructions: Annotated[str, Field(max_length=4096)] | None = None
    away: bool | None = None
    away_note: ShortText | None = None


class TranscriptRole(enum.StrEnum):
    USER = "user"
    ASSISTANT = "assistant"


class TranscriptEntry(_Part):
    role: TranscriptRole
    author: ShortText
    body: Body
    sent_at: Millis | None = None


class SharedChat(_Envelope):
    """A private AI chat forwarded into a DM or room as a transcript (never a public link)."""

    TYPE: ClassVar[str] = "shared_chat"
    type: Literal["shared_chat"] = "shared_chat"
    title: ShortText = ""
    assistant: ShortText
    model: ShortText | None = None
    entries: tuple[TranscriptEntry, ...] = Field(min_length=1, max_length=1000)


# --- polls and checklists ---------------------------------------------------------------


class Poll(_Envelope):
    TYPE: ClassVar[str] = "poll"
    type: Literal["poll"] = "poll"
    question: Annotated[str, Field(min_length=1, max_length=1024)]
    options: tuple[ShortText, ...] = Field(min_length=2, max_length=32)
    multiple: bool = False


class PollVote(_Envelope):
    """The sender's current choices (indexes into the poll's options); empty withdraws the vote."""

    TYPE: ClassVar[str] = "poll_vote"
    type: Literal["poll_vote"] = "poll_vote"
    target: MessageId
    choices: tuple[Annotated[int, Field(ge=0, lt=32)], ...] = Field(default=(), max_length=32)


class Checklist(_Envelope):
    TYPE: ClassVar[str] = "checklist"
    type: Literal["checklist"] = "checklist"
    title: ShortText = ""
    items: tuple[Annotated[str, Field(max_length=1024)], ...] = Field(min_length=1, max_length=256)


class ChecklistCheck(_Envelope):
    """Tick (``done``) or untick one item of a checklist."""

    TYPE: ClassVar[str] = "checklist_check"
    type: Literal["checklist_check"] = "checklist_check"
    target: MessageId
    item: int = Field(ge=0, lt=256)
    done: bool = True


# --- the catch-all ----------------------------------------------------------------------


class Unknown(_Part):
    """A message this version cannot read; kept whole, shown as "unsupported".

    ``payload`` is the exact bytes received; `encode_app_message` gives them
    back unchanged. ``type``, ``id`` and ``sent_at`` are filled in when the
    payload has them; ``reason`` says why it was not decoded.
    """

    type: str = ""
    payload: bytes
    reason: str
    id: str | None = None
    sent_at: int | None = None


KnownAppMessage = (
    Text
    | Reaction
    | Edit
    | Delete
    | Receipt
    | Typing
    | Attachment
    | RoomUpdate
    | DisappearingTimer
    | AssistantCard
    | AssistantReply
    | AssistantSettings
    | SharedChat
    | Poll
    | PollVote
    | Checklist
    | ChecklistCheck
)
AppMessage = KnownAppMessage | Unknown

APP_TYPES: dict[str, type[_Envelope]] = {
    cls.TYPE: cls
    for cls in (
        Text,
        Reaction,
        Edit,
        Delete,
        Receipt,
        Typing,
        Attachment,
        RoomUpdate,
        DisappearingTimer,
        AssistantCard,
        AssistantReply,
        AssistantSettings,
        SharedChat,
        Poll,
        PollVote,
        Checklist,
        ChecklistCheck,
    )
}
"""Every message type this version understands, by its ``type``."""


def encode_app_message(message: AppMessage) -> bytes:
    """The wire bytes of ``message`` (deterministic); an `Unknown` gives back its payload."""
    if isinstance(message, Unknown):
        return message.payload
    return message.model_dump_json(exclude_none=True).encode("utf-8")


def decode_app_message(data: bytes) -> AppMessage:
    """Decode one application message; anything not understood comes back as `Unknown`."""
    try:
        obj = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        return Unknown(payload=data, reason="not a JSON object")
    if not isinstance(obj, dict):
        return Unknown(payload=data, reason="not a JSON object")
    kind = obj.get("type")
    version = obj.get("v")
    cls = APP_TYPES.get(kind) if isinstance(kind, str) else None
    if version == APP_SCHEMA_VERSION and type(version) is int and cls is not None:
        try:
            return cls.model_validate(obj)  # type: ignore[return-value]
        except ValidationError as exc:
            problems = exc.errors()
            where = ".".join(str(p) for p in problems[0]["loc"]) if problems else ""
            what = problems[0]["type"] if problems else "invalid"
            return _unknown(obj, data, f"malformed {kind}: {where}: {what}")
    if version != APP_SCHEMA_VERSION or type(version) is not int:
        return _unknown(obj, data, f"envelope version {version!r} is not supported")
    return _unknown(obj, data, "unknown message type")


def _unknown(obj: dict[str, object], data: bytes, reason: str) -> Unknown:
    kind, ident, sent = obj.get("type"), obj.get("id"), obj.get("sent_at")
    return Unknown(
        type=kind if isinstance(kind, str) else "",
        payload=data,
        reason=reason,
        id=ident if isinstance(ident, str) else None,
        sent_at=sent if type(sent) is int else None,
    )
