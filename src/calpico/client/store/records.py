"""What the store keeps: one frozen dataclass per kind of row, and their sealed encoding.

Each row is stored as a few plaintext index columns plus the whole record,
sealed (`keys.RowCipher`). Reads decode only the sealed copy, so the index
columns can steer which rows a query selects but never what a row says.
What stays in clear is what the server knows anyway (ids, group ids, seqs,
epochs, device ids, usernames, times); contents, names, keys, reactions and
receipts exist only sealed.

The encoding is JSON (bytes as base64url); a field missing from an older row
takes its default and unknown keys are ignored, so adding a field with a
default needs no migration.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import operator
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any, TypeVar, Union, cast

from calpico.mls.secret import Secret
from calpico.wire.common import b64decode, b64encode

from ..errors import StoreCorrupt

__all__ = [
    "AppData",
    "Contact",
    "ContactState",
    "Conversation",
    "ConversationKind",
    "ConversationStatus",
    "DeliveryCursor",
    "DeviceLink",
    "GroupMessageState",
    "GroupState",
    "Identity",
    "IdentityStatus",
    "KeyPackageSecrets",
    "KnownDevice",
    "Message",
    "OutboxItem",
    "ReactionEntry",
    "ReceiptEntry",
    "SendState",
    "decode_record",
    "encode_record",
]


class IdentityStatus(enum.StrEnum):
    REGISTERING = "registering"  # key made, the server has not confirmed the account yet
    PENDING_LINK = "pending_link"  # a new device waiting for an existing one to add it
    ACTIVE = "active"
    REVOKED = "revoked"


@dataclass(frozen=True, slots=True)
class Identity:
    """This device: where it is registered, as whom, and its MLS signature key.

    ``server_name`` is pinned at the first login: a server that later signs
    challenges under another name is refused (`ServerMismatch`).
    """

    server_url: str
    username: str
    cipher_suite: int
    signature_private_key: Secret
    signature_public_key: bytes
    device_id: str | None = None
    server_name: str | None = None
    device_name: str = ""
    status: IdentityStatus = IdentityStatus.ACTIVE
    created_at: float = 0.0


@dataclass(frozen=True, slots=True)
class KeyPackageSecrets:
    """A KeyPackage this device published, with the private keys to join a group from it.

    ``uploaded`` turns true once the server confirmed it; ``retired_at`` is
    set when a last-resort package is replaced (it is kept a while for
    Welcomes already in flight).
    """

    ref: bytes
    key_package: bytes
    init_private_key: Secret
    encryption_private_key: Secret
    last_resort: bool = False
    uploaded: bool = False
    created_at: float = 0.0
    retired_at: float | None = None


@dataclass(frozen=True, slots=True)
class GroupState:
    """One MLS group's serialized state, opaque to the store.

    Either the whole state (``Group.to_bytes()``), or — as the conversation
    layer keeps it — the epoch part (``Group.epoch_state_bytes()``, written
    once per epoch) with the message part in a `GroupMessageState`.
    """

    group_id: bytes
    epoch: int
    state: Secret
    updated_at: float = 0.0


@dataclass(frozen=True, slots=True)
class GroupMessageState:
    """The small part of a group's state that changes with every message (``Group.message_state_bytes()``)."""

    group_id: bytes
    epoch: int
    state: Secret
    updated_at: float = 0.0


class ConversationKind(enum.StrEnum):
    DM = "dm"
    ROOM = "room"
    ASSISTANT = "assistant"  # a person's private chat with their own assistant


class ConversationStatus(enum.StrEnum):
    ACCEPTED = "accepted"
    REQUEST = "request"  # from someone not accepted yet: shown under "requests"
    LEFT = "left"


@dataclass(frozen=True, slots=True)
class Conversation:
    """A DM, room or assistant chat: one MLS group.

    ``peer`` is the other person of a DM; ``extra`` is opaque to the store,
    for the conversation layer (who invited us, cached room policy, ...).
    """

    id: str
    kind: ConversationKind
    group_id: bytes
    status: ConversationStatus = ConversationStatus.ACCEPTED
    name: str = ""
    topic: str = ""
    peer: str | None = None
    disappearing_seconds: int = 0
    created_at: float = 0.0
    updated_at: float = 0.0
    extra: bytes = b""


@dataclass(frozen=True, slots=True)
class ReactionEntry:
    username: str
    emoji: str


@dataclass(frozen=True, slots=True)
class ReceiptEntry:
    username: str
    delivered_at: float | None = None
    read_at: float | None = None


class SendState(enum.StrEnum):
    """Where an own message is on its way out (`Message.send_state`)."""

    SENDING = "sending"  # stored here, queued or on its way; the server has not ordered it yet
    SENT = "sent"  # the server accepted and ordered it (it has a ``seq``)
    FAILED = "failed"  # the server refused it (``send_error`` says why); it can be sent again


@dataclass(frozen=True, slots=True)
class Message:
    """One message of a conversation; ``content`` is its `calpico.wire.app` encoding.

    ``seq`` is its place in the server's log (``None`` for an own message the
    server has not ordered yet); ``sent_at`` the sender's clock, ``received_at``
    this device's (seconds). ``send_error`` is the server's reason when it
    refused an own message (see `send_state`).
    """

    conversation_id: str
    message_id: str
    sender_user: str
    sender_device: str
    sent_at: float
    received_at: float
    content: bytes
    seq: int | None = None
    edited_at: float | None = None
    deleted: bool = False
    expires_at: float | None = None
    reactions: tuple[ReactionEntry, ...] = ()
    receipts: tuple[ReceiptEntry, ...] = ()
    send_error: str | None = None

    @property
    def send_state(self) -> SendState:
        """`SendState.SENT` once ordered by the server (every received message is)."""
        if self.seq is not None:
            return SendState.SENT
        return SendState.SENDING if self.send_error is None else SendState.FAILED


class ContactState(enum.StrEnum):
    NONE = "none"  # known (seen in a room), neither accepted nor blocked
    REQUEST = "request"  # reached out to us; not accepted yet
    ACCEPTED = "accepted"
    BLOCKED = "blocked"


@dataclass(frozen=True, slots=True)
class KnownDevice:
    """A device of a contact as last seen in the directory."""

    device_id: str
    signature_key: bytes
    cipher_suite: int
    first_seen: float = 0.0


@dataclass(frozen=True, slots=True)
class Contact:
    """Another person: our relation, their devices' keys, and the safety-number state.

    ``safety_number`` is the one last computed over both people's device
    keys; ``verified`` is set when the user compared it, and cleared when it
    changes (``keys_changed_at`` records when).
    """

    username: str
    state: ContactState = ContactState.NONE
    devices: tuple[KnownDevice, ...] = ()
    safety_number: str | None = None
    verified: bool = False
    keys_changed_at: float | None = None
    display_name: str = ""
    updated_at: float = 0.0


@dataclass(frozen=True, slots=True)
class DeliveryCursor:
    """Per group: the last server seq applied locally, and the last one acknowledged to the server."""

    group_id: bytes
    processed_seq: int = 0
    acked_seq: int = 0


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """A message to send (again, after a crash) until the server orders it; idempotent by ``client_id``.

    ``context`` is opaque to the store: the conversation layer's note of what
    to do once the server answers (merge a staged commit, mark a message sent).
    """

    client_id: str
    group_id: bytes
    kind: str
    message: bytes
    welcome: bytes | None = None
    context: bytes = b""
    created_at: float = 0.0
    attempts: int = 0


@dataclass(frozen=True, slots=True)
class DeviceLink:
    """A one-time code offered by an existing device to link a new one (used by the conversation layer).

    ``code_id`` names the offer; ``secret`` is the part of the code that
    authenticates the new device; ``new_device_key`` is filled in when the
    new device answers.
    """

    code_id: str
    secret: Secret
    created_at: float
    expires_at: float
    new_device_key: bytes | None = None
    new_device_id: str | None = None


@dataclass(frozen=True, slots=True)
class AppData:
    """A sealed value an application built on the SDK keeps on this device (store schema v3).

    Keyed by ``namespace`` and ``key`` (both in clear, like every index
    column: choose names that say nothing private); ``value`` is sealed.
    `calpico.assistant` keeps its settings and its owner's personal memory here.
    """

    namespace: str
    key: str
    value: bytes
    updated_at: float = 0.0


# --- encoding ----------------------------------------------------------------------------
# One converter per declared type, built once from the type hints: records are written per message.

R = TypeVar("R")
Convert = Callable[[Any], Any]


def _same(value: Any) -> Any:
    return value


def _arms(tp: Any) -> Any:
    (arm,) = (a for a in typing.get_args(tp) if a is not type(None))
    return arm


@cache
def _encoder(tp: Any) -> Convert:
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        inner = _encoder(_arms(tp))
        if inner is _same:
            return _same
        return lambda v: None if v is None else inner(v)
    if tp is bytes or tp is Secret:
        return b64encode
    if origin is tuple:
        item = _encoder(typing.get_args(tp)[0])
        return lambda v: [item(x) for x in v]
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return lambda v: v.value
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        hints = typing.get_type_hints(tp)
        pairs = [(f.name, _encoder(hints[f.name])) for f in dataclasses.fields(tp)]
        # Fields kept as they are (strings, numbers, flags) are read in one C-level call; only the
        # others (bytes, enums, tuples, nested records) go through their converters.
        plain = tuple(name for name, enc in pairs if enc is _same)
        converted = tuple((name, enc) for name, enc in pairs if enc is not _same)
        read = operator.attrgetter(*plain) if len(plain) > 1 else None

        def record(v: Any) -> dict[str, Any]:
            out = dict(zip(plain, read(v), strict=True)) if read is not None else {n: getattr(v, n) for n in plain}
            for name, enc in converted:
                out[name] = enc(getattr(v, name))
            return out

        return record
    return _same


def _checked(kind: type) -> Convert:
    def check(value: Any) -> Any:
        if type(value) is not kind:
            raise TypeError(f"expected {kind.__name__}")
        return value

    return check


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError("expected a number")
    return float(value)


@cache
def _decoder(tp: Any) -> Convert:
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        inner = _decoder(_arms(tp))
        return lambda v: None if v is None else inner(v)
    if tp is Secret:
        return lambda v: Secret(b64decode(v))
    if tp is bytes:
        return b64decode
    if origin is tuple:
        item = _decoder(typing.get_args(tp)[0])

        def sequence(v: Any) -> tuple[Any, ...]:
            if not isinstance(v, list):
                raise TypeError("expected a list")
            return tuple(item(x) for x in v)

        return sequence
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return tp
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        hints = typing.get_type_hints(tp)
        pairs = [(f.name, _decoder(hints[f.name])) for f in dataclasses.fields(tp)]
        cls = tp

        def record(v: Any) -> Any:
            if not isinstance(v, dict):
                raise TypeError("expected an object")
            return cls(**{name: dec(v[name]) for name, dec in pairs if name in v})

        return record
    if tp is float:
        return _number
    if tp in (int, str, bool):
        return _checked(tp)
    return _same


def encode_record(record: object) -> bytes:
    """The JSON encoding of a record (the payload that gets sealed)."""
    return json.dumps(_encoder(cast(Any, type(record)))(record), separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8"
    )


def decode_record(cls: type[R], payload: bytes) -> R:
    """The record of type ``cls`` from its encoding; raises `StoreCorrupt`."""
    try:
        record: R = _decoder(cast(Any, cls))(json.loads(payload))
    except (ValueError, TypeError, KeyError) as exc:
        raise StoreCorrupt(f"a stored {cls.__name__} does not decode") from exc
    return record
