"""The Calpico client SDK: one device's keys, store, connection and events (async, typed).

Start with `Client` (`calpico.client.client`). Modules: `account` (create,
open, devices, linking), `transport` (the server's HTTP API), `push` (the
WebSocket), `store` (the encrypted local database), `sync` (delivery:
exactly-once apply, acks, outbox), `keypackages`, `contacts`,
`verification` (safety numbers), `identity` (credential format),
`attachments`, `events`, `conversations` (the conversation layer:
`Conversations`), `errors` (the error tree). See docs/client.md.
"""

from __future__ import annotations

from .account import DEFAULT_CIPHER_SUITE, Account
from .client import Client
from .conversations import (
    AssistantMember,
    CommitRetryPolicy,
    ConversationHandler,
    Conversations,
    LeavePolicy,
    LinkOffer,
    Participant,
    RoomSettings,
)
from .errors import CalpicoError
from .events import Event
from .identity import DeviceIdentity
from .keypackages import KeyPackagePolicy
from .push import ConnectionState
from .store import Argon2Params, KeyFile, KeySource, OSKeyring, Passphrase, Store
from .transport import RetryPolicy, Transport

__all__ = [
    "DEFAULT_CIPHER_SUITE",
    "Account",
    "Argon2Params",
    "AssistantMember",
    "CalpicoError",
    "Client",
    "CommitRetryPolicy",
    "ConnectionState",
    "ConversationHandler",
    "Conversations",
    "DeviceIdentity",
    "Event",
    "KeyFile",
    "KeyPackagePolicy",
    "KeySource",
    "LeavePolicy",
    "LinkOffer",
    "OSKeyring",
    "Participant",
    "Passphrase",
    "RetryPolicy",
    "RoomSettings",
    "Store",
    "Transport",
]
