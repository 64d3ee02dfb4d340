"""The device's local store: keys, group states, conversations, messages, contacts, delivery state.

One SQLite file per device (`Store`), rows sealed under a data key
(`keys`), records as frozen dataclasses (`records`), one transaction API
(`Transaction`), schema migrations (`schema`).
"""

from __future__ import annotations

from .keys import Argon2Params, KeyFile, KeyringBackend, KeySource, OSKeyring, Passphrase
from .records import (
    AppData,
    Contact,
    ContactState,
    Conversation,
    ConversationKind,
    ConversationStatus,
    DeliveryCursor,
    DeviceLink,
    GroupMessageState,
    GroupState,
    Identity,
    IdentityStatus,
    KeyPackageSecrets,
    KnownDevice,
    Message,
    OutboxItem,
    ReactionEntry,
    ReceiptEntry,
    SendState,
)
from .store import Store, Transaction

__all__ = [
    "AppData",
    "Argon2Params",
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
    "KeyFile",
    "KeyPackageSecrets",
    "KeySource",
    "KeyringBackend",
    "KnownDevice",
    "Message",
    "OSKeyring",
    "OutboxItem",
    "Passphrase",
    "ReactionEntry",
    "ReceiptEntry",
    "SendState",
    "Store",
    "Transaction",
]
