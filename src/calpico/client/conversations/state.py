"""Group states in memory and in the store, kept consistent with store transactions.

A `Live` is one conversation's record with its loaded MLS `Group`. The
committed ones are cached (`GroupCache`). A transaction that touches a
group takes it out of the cache into the transaction's working set; it goes
back into the cache only when the transaction commits (`Transaction.on_commit`),
so a rollback (a crash of the batch, a failed send) leaves no half-applied
state in memory: the next use reloads what the store has.

Persistence follows the split of `calpico.mls.group.persistence`: the epoch
record (``epoch_state_bytes``) is written only when the epoch changed, the
message record (``message_state_bytes``) whenever a message moved the
ratchets — once per transaction, just before it commits (`flush`), so a
batch of deliveries writes each group once. Both go in the same transaction
as the messages and the delivery cursor.
"""

from __future__ import annotations

import hashlib
import json
import weakref
from dataclasses import dataclass, field, replace

from calpico.mls.group import Group, GroupConfig
from calpico.mls.secret import Secret
from calpico.wire.common import b64encode

from ..store import Conversation, GroupMessageState, GroupState, Transaction
from .directory import CredentialFormat
from .model import RoomSettings
from .settings import RoomPolicy, effective_admins, settings_of, username_of

__all__ = ["ConversationExtra", "GroupCache", "Live", "conversation_id_for"]


def conversation_id_for(group_id: bytes) -> str:
    """The conversation id of a group: the same on every device (16 base64url characters)."""
    return b64encode(hashlib.sha256(b"calpico conversation id\x00" + group_id).digest()[:12])


@dataclass(frozen=True, slots=True)
class ConversationExtra:
    """What the conversation layer keeps in ``Conversation.extra`` (JSON)."""

    inviter: str | None = None
    departed: tuple[str, ...] = ()
    intro_pending: bool = False  # joined a room: shown once its name arrives (a RoomUpdate) or any message
    assistants: tuple[str, ...] = ()  # device ids of the assistant members (the directory's kind, checked at join)
    cards: tuple[tuple[str, str], ...] = ()  # (device id, verified card JSON) of assistant members

    def encode(self) -> bytes:
        obj: dict[str, object] = {"inviter": self.inviter, "departed": list(self.departed), "intro": self.intro_pending}
        if self.assistants:
            obj["assistants"] = list(self.assistants)
        if self.cards:
            obj["cards"] = dict(self.cards)
        return json.dumps(obj).encode()

    @classmethod
    def decode(cls, data: bytes) -> ConversationExtra:
        if not data:
            return cls()
        obj = json.loads(data)
        return cls(
            obj.get("inviter"),
            tuple(obj.get("departed", ())),
            bool(obj.get("intro", False)),
            tuple(obj.get("assistants", ())),
            tuple(sorted(obj.get("cards", {}).items())),
        )

    def card(self, device_id: str) -> str | None:
        return dict(self.cards).get(device_id)


@dataclass(eq=False)
class Live:
    """One conversation with its group, as the current transaction (or the cache) sees it."""

    conversation: Conversation
    group: Group
    policy: RoomPolicy
    epoch_dirty: bool = False
    message_dirty: bool = False
    conversation_dirty: bool = False
    _names: dict[int, str] | None = field(default=None, repr=False)
    _names_epoch: int = -1
    _settings: RoomSettings | None = field(default=None, repr=False)
    _extra: ConversationExtra | None = field(default=None, repr=False)
    _extra_of: bytes | None = field(default=None, repr=False)

    @property
    def id(self) -> str:
        return self.conversation.id

    @property
    def names(self) -> dict[int, str]:
        """Leaf index → username of the current epoch."""
        if self._names is None or self._names_epoch != self.group.epoch:
            self._names = {m.leaf_index: username_of(m.credential) for m in self.group.members()}
            self._names_epoch = self.group.epoch
            self._settings = None
        return self._names

    @property
    def settings(self) -> RoomSettings:
        self.names  # noqa: B018 (resets the cached settings on a new epoch)
        if self._settings is None:
            self._settings = settings_of(self.group.extensions)
        return self._settings

    def people(self) -> dict[str, list[int]]:
        """Username → their leaves."""
        out: dict[str, list[int]] = {}
        for leaf, name in sorted(self.names.items()):
            out.setdefault(name, []).append(leaf)
        return out

    def admins(self) -> frozenset[str]:
        return effective_admins(self.settings, self.names.values())

    @property
    def extra(self) -> ConversationExtra:
        """The decoded ``conversation.extra``, decoded again only when the record's bytes change."""
        raw = self.conversation.extra
        if self._extra is None or self._extra_of is not raw:
            self._extra, self._extra_of = ConversationExtra.decode(raw), raw
        return self._extra

    def set_conversation(self, conversation: Conversation) -> None:
        self.conversation = conversation
        self.conversation_dirty = True

    def set_group(self, group: Group) -> None:
        self.group = group
        self.epoch_dirty = self.message_dirty = True
        self._names = None


def group_config(policy: RoomPolicy) -> GroupConfig:
    return GroupConfig(policy=policy, credentials=CredentialFormat())


class GroupCache:
    """Committed `Live` states, and each open transaction's working set."""

    def __init__(self) -> None:
        self._committed: dict[bytes, Live] = {}
        self._work: weakref.WeakKeyDictionary[Transaction, dict[bytes, Live]] = weakref.WeakKeyDictionary()

    def working(self, tx: Transaction) -> dict[bytes, Live]:
        work = self._work.get(tx)
        if work is None:
            work = self._work[tx] = {}
        return work

    async def get(self, tx: Transaction, group_id: bytes) -> Live | None:
        """The group's state for this transaction (loaded from the store if needed); None if unknown."""
        work = self.working(tx)
        live = work.get(group_id)
        if live is not None:
            return live
        live = self._committed.pop(group_id, None)
        if live is None:
            conversation = await tx.conversation_for_group(group_id)
            if conversation is None:
                return None
            epoch = await tx.group_state(group_id)
            message = await tx.group_message_state(group_id)
            if epoch is None or message is None:
                return None
            extra = ConversationExtra.decode(conversation.extra)
            policy = RoomPolicy(set(extra.departed))
            group = Group.from_parts(bytes(epoch.state), bytes(message.state), config=group_config(policy))
            live = Live(conversation, group, policy)
        work[group_id] = live
        return live

    def put(self, tx: Transaction, live: Live) -> None:
        """A new group in this transaction (created or joined): everything gets written."""
        live.epoch_dirty = live.message_dirty = live.conversation_dirty = True
        self.working(tx)[live.conversation.group_id] = live

    def drop(self, tx: Transaction, group_id: bytes) -> None:
        """Forget a group (left or removed): its state is deleted with the transaction."""
        self.working(tx).pop(group_id, None)
        self._committed.pop(group_id, None)
        tx.delete_group_state(group_id)

    def peek(self, group_id: bytes) -> Live | None:
        """The committed state, if cached (read-only use outside transactions)."""
        return self._committed.get(group_id)

    def flush(self, tx: Transaction, now: float) -> None:
        """Write what the transaction changed; put the states back into the cache once it commits."""
        work = self._work.pop(tx, None)
        if not work:
            return
        for group_id, live in work.items():
            group = live.group
            if live.epoch_dirty:
                tx.put_group_state(GroupState(group_id, group.epoch, Secret(group.epoch_state_bytes()), now))
            if live.message_dirty or live.epoch_dirty:
                tx.put_group_message_state(
                    GroupMessageState(group_id, group.epoch, Secret(group.message_state_bytes()), now)
                )
            if live.conversation_dirty:
                live.conversation = replace(
                    live.conversation,
                    extra=replace(live.extra, departed=tuple(sorted(live.policy.departed))).encode(),
                )
                tx.put_conversation(live.conversation)
            live.epoch_dirty = live.message_dirty = live.conversation_dirty = False

        def restore() -> None:
            self._committed.update(work)

        tx.on_commit(restore)
