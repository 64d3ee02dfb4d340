"""The conversation layer's value types: what its API returns, and its tunable policies."""

from __future__ import annotations

import random
from dataclasses import dataclass

from calpico.wire.app import AssistantPolicy

__all__ = ["CommitRetryPolicy", "LeavePolicy", "LinkOffer", "Participant", "RoomSettings"]

KINDS = ("dm", "room", "assistant")


@dataclass(frozen=True, slots=True)
class Participant:
    """One person in a conversation: all their devices in the group, shown as one person.

    ``assistants`` are the device ids of this person's assistant members in
    the conversation (not counted among ``device_ids``; see `Conversations.assistants`).
    """

    username: str
    device_ids: tuple[str, ...]
    admin: bool = False
    assistants: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class RoomSettings:
    """A conversation's settings (every member enforces them).

    ``kind`` (``dm``, ``room``, or ``assistant``: a person's private chat
    with their own assistant), ``admins`` (usernames; in a DM both people),
    the assistant policy (``none``: no assistants; ``mention``: assistants
    answer only when mentioned; ``auto``: they may also answer on their own),
    ``assistant_approval`` (an assistant joins only when an admin adds it)
    and ``disappearing_seconds`` (0: never) live in the group's
    Calpico GroupContext extension; ``name`` and ``topic`` are content and
    travel encrypted in `RoomUpdate` messages from admins (see `settings`).
    """

    kind: str
    name: str = ""
    topic: str = ""
    admins: tuple[str, ...] = ()
    assistant_policy: AssistantPolicy = AssistantPolicy.MENTION
    disappearing_seconds: int = 0
    assistant_approval: bool = False


@dataclass(frozen=True, slots=True)
class CommitRetryPolicy:
    """What to do when the server refuses our commit because another one won the epoch (409).

    Each refused attempt discards the staged commit, catches up with the
    server (which applies the winning commit), re-checks whether the change
    is still needed, builds a new commit and sends it after a jittered
    exponential pause. After ``attempts`` refusals the call raises the last
    `EpochConflict`.
    """

    attempts: int = 6
    base_delay: float = 0.02
    max_delay: float = 1.0

    def delay(self, attempt: int) -> float:
        """The pause before attempt ``attempt`` (0-based; the first attempt does not wait)."""
        if attempt <= 0:
            return 0.0
        return min(self.max_delay, self.base_delay * 2 ** (attempt - 1)) * (0.5 + random.random())  # noqa: S311


@dataclass(frozen=True, slots=True)
class LeavePolicy:
    """Who commits a member's self-remove proposal, and when.

    Every other member ranks the remaining people's devices by leaf index
    (the leaver's excluded). Rank 0 commits at once; rank ``r`` commits only
    if the proposal is still uncommitted ``r * fallback_delay`` seconds after
    it arrived, so the leave completes even if the first choice is offline.
    """

    fallback_delay: float = 5.0


@dataclass(frozen=True, slots=True)
class LinkOffer:
    """A one-time code that links a new device to this person; valid until ``expires_at``."""

    code: str
    link_id: str
    expires_at: float
