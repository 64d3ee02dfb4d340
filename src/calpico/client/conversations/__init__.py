"""The conversation layer: DMs and rooms, one MLS group each (ARCHITECTURE §3–§5).

`Conversations` (`api`) is the API the CLI and the web app use; it plugs
into a `Client` as its `ConversationHandler` (`handler`), so every delivered
message is applied exactly once, atomically with the group state, and every
send goes through the crash-safe outbox. Modules: `api` (the facade),
`model` (value types and policies), `engine` (deliveries, sends, commits),
`settings` (the Calpico GroupContext extension and the room policy every
client enforces), `directory` (credentials against the server's directory),
`content` (applying application messages to the store), `linking` (new
devices by one-time code). See docs/client.md.
"""

from __future__ import annotations

from .api import Conversations
from .assistants import ASSISTANT_CARD_LABEL, AssistantMember, card_content
from .handler import ConversationHandler
from .model import CommitRetryPolicy, LeavePolicy, LinkOffer, Participant, RoomSettings

__all__ = [
    "ASSISTANT_CARD_LABEL",
    "AssistantMember",
    "CommitRetryPolicy",
    "ConversationHandler",
    "Conversations",
    "LeavePolicy",
    "LinkOffer",
    "Participant",
    "RoomSettings",
    "card_content",
]
