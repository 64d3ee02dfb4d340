"""The conversation engine: applies deliveries, sends through the outbox, commits with retries.

Theory of operation
-------------------
**Receiving** (`on_delivered`, inside the delivery engine's transaction):
a Welcome is joined with our KeyPackage's private keys, every member's
credential is checked against the directory, and the conversation is stored
as accepted or as a request (inviter not a contact). A PrivateMessage is
decrypted and applied (`content`). A proposal is cached by the group; a
self-remove is noted as a departure (`leaving`). A commit is staged, its new
and updated members are checked against the directory, then merged; person-
level events (joined, left, removed, renamed, ...) come from comparing the
group before and after. All writes — group state, messages, conversation,
delivery cursor — commit together, so a crash never half-applies a message.

**Sending an application message**: protect it, store it locally (applied
exactly like a received one) and queue it in the outbox, in one transaction;
then flush the outbox. The server does not echo a device's own messages.

**Committing** (`commit`): build the commit on the current group, compute
the next epoch's state at once (merge into the group, serialize, restore
the old state), and queue the commit with that *pending* state in the
outbox item's context — so our staged commit survives a crash between send
and answer: after a restart the outbox resends it (idempotent by client id)
and the answer installs the pending state. When the server accepts
(`on_sent`) the pending state is installed; a message of the next epoch
delivered before the answer proves the server accepted our commit (devices
do not get their own messages back, so no other commit can be in between),
and installs it too. A 409 (`on_send_failed`) drops it; `commit` then catches
up and retries per `CommitRetryPolicy`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from calpico.mls.credentials import Credential
from calpico.mls.errors import ProtocolError
from calpico.mls.extensions import Extension
from calpico.mls.group import (
    ApplicationMessage,
    Group,
    MemberAdded,
    MemberRemoved,
    MemberUpdated,
    ProposalReceived,
    StagedCommit,
)
from calpico.mls.key_package import KeyPackage, KeyPackageBundle
from calpico.mls.proposals import ProposalType
from calpico.mls.secret import Secret
from calpico.wire.accounts import DeviceKind
from calpico.wire.app import (
    AppMessage,
    AssistantCard,
    Delete,
    RoomUpdate,
    decode_app_message,
    encode_app_message,
)
from calpico.wire.common import b64decode, b64encode
from calpico.wire.delivery import Delivered, MessageKind
from calpico.wire.groups import SendResult

from ..errors import (
    CalpicoError,
    CardRejected,
    ConversationClosed,
    EpochConflict,
    NoSuchConversation,
    NoSuchMessage,
    NotPermitted,
    Offline,
    ServerError,
    StaleEpoch,
)
from ..events import (
    AssistantApprovalRequested,
    AssistantCardChanged,
    AssistantCardRejected,
    ContactKeysChanged,
    ConversationAdded,
    ConversationLeft,
    Event,
    InviteReceived,
    MemberJoined,
    MessageRequestReceived,
    MessageSendStateChanged,
    RoomRenamed,
    RoomUpdated,
)
from ..identity import DeviceIdentity
from ..ids import new_client_id, new_message_id, now_ms
from ..store import (
    Contact,
    ContactState,
    Conversation,
    ConversationKind,
    ConversationStatus,
    Message,
    OutboxItem,
    SendState,
    Transaction,
)
from .content import Author, apply_content
from .directory import Directory
from .model import CommitRetryPolicy, LeavePolicy
from .settings import RoomPolicy, username_of
from .state import ConversationExtra, GroupCache, Live, conversation_id_for, group_config
from .transitions import Snapshot, commit_events, snapshot

if TYPE_CHECKING:
    from ..client import Client

__all__ = ["CommitPlan", "EngineCore", "Planner"]

log = logging.getLogger("calpico.client.conversations")

COMMIT = "commit"
PROPOSAL = "proposal"
APPLICATION = "application"
_NEEDS_ADMIN = (Delete, RoomUpdate)  # the content types whose effect depends on the author being an admin


@dataclass(frozen=True, slots=True)
class CommitPlan:
    """What one commit should do, decided on the current group (empty: nothing to do)."""

    add: tuple[KeyPackage, ...] = ()
    remove: tuple[int, ...] = ()
    extensions: tuple[Extension, ...] | None = None
    departed: tuple[str, ...] = ()
    pending: bool = False  # commit even with nothing by value: pending proposals (by reference) are the point

    @property
    def empty(self) -> bool:
        return not self.add and not self.remove and self.extensions is None and not self.pending


Planner = Callable[[Live], CommitPlan]


class EngineCore:
    """The `ConversationHandler` of a client: deliveries, sends, commits (the operations: `operations.Engine`)."""

    def __init__(
        self, client: Client, *, cipher_suite: int | None, commit_retry: CommitRetryPolicy, leave_policy: LeavePolicy
    ) -> None:
        self.client = client
        self.cipher_suite = cipher_suite
        self.commit_retry = commit_retry
        self.leave_policy = leave_policy
        self.groups = GroupCache()
        self.directory = Directory(client.transport)
        self.send_timeout = 30.0
        self._waiters: dict[str, asyncio.Future[SendResult | ServerError]] = {}
        self._finished: set[str] = set()
        self._blocked: set[str] | None = None
        self._identities: dict[bytes, tuple[str, str]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self.leave_timers: dict[bytes, asyncio.TimerHandle] = {}

    # --- plumbing ---------------------------------------------------------------------------------

    @property
    def me(self) -> str:
        return self.client.username

    def now(self) -> float:
        return time.time()

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Transaction]:
        """A store transaction whose group changes are flushed before it commits."""
        async with self.client.store.transaction() as tx:
            yield tx
            self.groups.flush(tx, self.now())

    async def before_commit(self, tx: Transaction) -> None:
        """Called by the delivery engine once per batch, before its transaction commits."""
        self.groups.flush(tx, self.now())

    def publish(self, events: Sequence[Event]) -> None:
        for event in events:
            self.client._bus.publish(event)

    def spawn(self, coro: Awaitable[Any]) -> None:
        async def run() -> None:
            try:
                await coro
            except CalpicoError as exc:
                log.warning("background conversation task failed: %s", exc)
            except Exception:
                log.exception("background conversation task failed")

        task = asyncio.get_running_loop().create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def contacts_changed(self) -> None:
        """The client's contact lists changed behind our back (another device): read them again."""
        self._blocked = None

    async def blocked(self, tx: Transaction | None = None) -> set[str]:
        if self._blocked is None:
            reader = tx if tx is not None else self.client.store
            self._blocked = {c.username for c in await reader.contacts(ContactState.BLOCKED)}
        return self._blocked

    async def live(self, tx: Transaction, conversation_id: str) -> Live:
        conversation = await tx.conversation(conversation_id)
        if conversation is None:
            raise NoSuchConversation(f"no conversation {conversation_id}")
        live = await self.groups.get(tx, conversation.group_id)
        if live is None or not live.group.is_active:
            raise ConversationClosed(f"this device is no longer in conversation {conversation_id}")
        return live

    async def flush_outbox_quietly(self) -> None:
        with contextlib.suppress(CalpicoError):
            await self.client.flush_outbox()

    async def _await_sent(self, client_id: str) -> SendResult:
        """Flush the outbox and wait for the server's answer to one item (raises the refusal)."""
        future = self._waiters.setdefault(client_id, asyncio.get_running_loop().create_future())
        try:
            await self.flush_outbox_quietly()
            if not future.done():
                try:
                    async with asyncio.timeout(self.send_timeout):
                        await asyncio.shield(future)
                except TimeoutError:
                    raise Offline("the server did not take the message in time; it stays queued") from None
            outcome = future.result()
        finally:
            self._waiters.pop(client_id, None)
        if isinstance(outcome, ServerError):
            raise outcome
        return outcome

    def _resolve(self, tx: Transaction, client_id: str, outcome: SendResult | ServerError) -> None:
        def done() -> None:
            self._finished.add(client_id)
            future = self._waiters.get(client_id)
            if future is not None and not future.done():
                future.set_result(outcome)

        tx.on_commit(done)

    # --- the ConversationHandler side -------------------------------------------------------------

    async def on_delivered(self, tx: Transaction, message: Delivered) -> Sequence[Event]:
        if message.kind is MessageKind.WELCOME:
            from .joining import join_from_welcome

            return await join_from_welcome(self, tx, message)
        live = await self.groups.get(tx, message.group_id)
        if live is None or not live.group.is_active:
            return []
        events: list[Event] = []
        if message.epoch > live.group.epoch:
            events += await self._install_own_commit(tx, live, before_epoch=message.epoch)
        processed = live.group.process(message.body)
        live.message_dirty = True
        if isinstance(processed, ApplicationMessage):
            return events + await self._on_application(tx, live, processed, message)
        if isinstance(processed, ProposalReceived):
            return events + self._on_proposal(tx, live, processed)
        return events + await self._on_commit(tx, live, processed)

    async def _on_application(
        self, tx: Transaction, live: Live, processed: ApplicationMessage, message: Delivered
    ) -> list[Event]:
        username, device = self._who(processed.sender.credential)
        content = decode_app_message(processed.data)
        author = Author(
            username,
            device,
            # only deletes and room updates depend on it: skip the set work for everything else
            admin=isinstance(content, _NEEDS_ADMIN) and username in live.admins(),
            hidden=username in await self.blocked(tx) or live.conversation.status is ConversationStatus.LEFT,
        )
        now = self.now()
        events: list[Event] = []
        if isinstance(content, RoomUpdate):
            events += self._on_room_update(live, author, content)
        elif isinstance(content, AssistantCard):
            events += await self._on_card(tx, live, author, processed.data, content, message.seq)
        else:
            events += await apply_content(
                tx, live.conversation, author, processed.data, seq=message.seq, now=now, content=content
            )
        if live.conversation.updated_at < now - 1:
            live.set_conversation(replace(live.conversation, updated_at=now))
        if live.extra.intro_pending:
            events = self._introduce(live) + events
        return events

    def _who(self, credential: Credential) -> tuple[str, str]:
        """(username, device id) of a leaf's credential, parsed once per credential."""
        key = credential.identity or b""
        found = self._identities.get(key)
        if found is None:
            identity = DeviceIdentity.from_credential(credential)
            found = self._identities[key] = (identity.username, identity.device_id)
        return found

    def _on_room_update(self, live: Live, author: Author, update: RoomUpdate) -> list[Event]:
        """A room's name or topic (encrypted content; the policy parts live in the extension)."""
        intro = live.extra.intro_pending
        if not (author.admin or intro) or live.conversation.kind is not ConversationKind.ROOM:
            return []
        conversation = live.conversation
        name = update.name if update.name is not None else conversation.name
        topic = update.topic if update.topic is not None else conversation.topic
        if (name, topic) == (conversation.name, conversation.topic):
            return []
        live.set_conversation(replace(conversation, name=name, topic=topic))
        if intro or author.hidden:
            return []
        events: list[Event] = []
        if name != conversation.name:
            events.append(RoomRenamed(live.id, name, author.username))
        if topic != conversation.topic:
            settings = live.settings
            admins = tuple(sorted(settings.admins))
            events.append(RoomUpdated(live.id, author.username, topic, admins, settings.assistant_policy.value))
        return events

    async def _on_card(
        self, tx: Transaction, live: Live, author: Author, data: bytes, card: AssistantCard, seq: int | None
    ) -> list[Event]:
        """An assistant card: accepted (stored, noticed) only if it passes `assistants.check_card`."""
        from .assistants import changed_fields, check_card, current_card

        try:
            previous = await check_card(self.directory, live, author.username, author.device, card)
        except CardRejected as exc:
            log.warning("refused an assistant card in %s: %s", live.id, exc)
            return [AssistantCardRejected(live.id, author.username, author.device, str(exc))]
        if previous is not None and previous.revision == card.revision:
            return []  # the same card again (re-sent for someone who joined)
        events = await apply_content(tx, live.conversation, author, data, seq=seq, now=self.now(), content=card)
        if card.assistant_device not in live.extra.assistants:
            if author.hidden or previous is not None:
                return events
            return [*events, AssistantApprovalRequested(live.id, card.owner, card.assistant_device, card, card.id)]
        old = current_card(live, card.assistant_device)
        cards = dict(live.extra.cards)
        cards[card.assistant_device] = encode_app_message(card).decode("utf-8")
        live.set_conversation(
            replace(live.conversation, extra=replace(live.extra, cards=tuple(sorted(cards.items()))).encode())
        )
        if author.hidden:
            return []
        changed = AssistantCardChanged(live.id, card.owner, card.assistant_device, card, changed_fields(old, card))
        return [*events, changed]

    async def _track_assistants(self, live: Live, before: set[str]) -> None:
        """After an epoch change: which leaves are assistant members (new devices: the directory's kind)."""
        known = set(live.extra.assistants)
        present: list[str] = []
        for member in live.group.members():
            identity = DeviceIdentity.from_credential(member.credential)
            device = identity.device_id
            if device in known or (
                device not in before and await self.directory.kind(identity) is DeviceKind.ASSISTANT
            ):
                present.append(device)
        extra = live.extra
        if tuple(sorted(present)) != tuple(sorted(extra.assistants)):
            cards = tuple((d, c) for d, c in extra.cards if d in present)
            new = replace(extra, assistants=tuple(sorted(present)), cards=cards)
            live.set_conversation(replace(live.conversation, extra=new.encode()))

    async def _check_assistant_admission(self, live: Live, staged: StagedCommit, committer: str) -> None:
        from .assistants import check_admission

        assistants = set(live.extra.assistants)
        removed = {
            DeviceIdentity.from_credential(e.member.credential).device_id
            for e in staged.events
            if isinstance(e, MemberRemoved)
        }
        owners = {
            username_of(m.credential)
            for m in live.group.members()
            if DeviceIdentity.from_credential(m.credential).device_id not in assistants | removed
        }
        added = []
        for event in staged.events:
            if isinstance(event, MemberAdded):
                identity = DeviceIdentity.from_credential(event.member.credential)
                if await self.directory.kind(identity) is DeviceKind.ASSISTANT:
                    added.append(identity)
                else:
                    owners.add(identity.username)
        check_admission(live, committer, added, owners)

    def _introduce(self, live: Live) -> list[Event]:
        """The first message of a room we joined: show the room now (as accepted or as a request)."""
        live.set_conversation(replace(live.conversation, extra=replace(live.extra, intro_pending=False).encode()))
        return self._arrival(live.conversation)

    def _arrival(self, conversation: Conversation) -> list[Event]:
        inviter = ConversationExtra.decode(conversation.extra).inviter
        if conversation.status is ConversationStatus.ACCEPTED:
            return [ConversationAdded(conversation, inviter)]
        assert inviter is not None
        if conversation.kind is ConversationKind.DM:
            return [MessageRequestReceived(conversation.id, inviter)]
        return [InviteReceived(conversation.id, inviter, conversation.name)]

    def _on_proposal(self, tx: Transaction, live: Live, processed: ProposalReceived) -> list[Event]:
        from .leaving import note_departure

        proposal = processed.proposal
        if proposal.proposal_type is ProposalType.remove and processed.sender_member is not None:
            note_departure(self, tx, live, processed)
        return []

    async def _on_commit(self, tx: Transaction, live: Live, staged: StagedCommit) -> list[Event]:
        for event in staged.events:
            if isinstance(event, MemberAdded):
                await self.directory.check(event.member.credential, event.member.signature_key)
            elif isinstance(event, MemberUpdated) and event.new.signature_key != event.old.signature_key:
                await self.directory.check(event.new.credential, event.new.signature_key)
        before = snapshot(live)
        left = {
            username_of(e.member.credential)
            for e in staged.events
            if isinstance(e, MemberRemoved)
            and e.by.leaf_index is not None
            and live.names.get(e.by.leaf_index) == username_of(e.member.credential)
        }
        committer = live.names.get(staged.committer.leaf_index or 0, "")
        await self._check_assistant_admission(live, staged, committer)
        removes_us = staged.removes_us
        live.group.merge(staged)
        live.epoch_dirty = True
        return await self._after_epoch(tx, live, before, committer, left | set(live.policy.departed), removes_us)

    async def _after_epoch(
        self,
        tx: Transaction,
        live: Live,
        before: Snapshot,
        committer: str,
        left: set[str],
        removes_us: bool,
    ) -> list[Event]:
        from .leaving import after_commit

        if removes_us or not live.group.is_active:
            by = None if committer in left or self.me in left else committer
            live.set_conversation(replace(live.conversation, status=ConversationStatus.LEFT, updated_at=self.now()))
            tx.put_conversation(live.conversation)
            self.groups.drop(tx, live.conversation.group_id)
            return [ConversationLeft(live.id, by)]
        await self._track_assistants(live, set(before.device_ids))
        events = commit_events(live, before, committer, left)
        seconds = live.settings.disappearing_seconds
        if seconds != live.conversation.disappearing_seconds:
            live.set_conversation(replace(live.conversation, disappearing_seconds=seconds, updated_at=self.now()))
        await after_commit(self, tx, live)
        events += await self._key_warnings(tx, events)
        return events

    async def _key_warnings(self, tx: Transaction, events: list[Event]) -> list[Event]:
        """A new device of someone already in the conversation changes their keys: warn, re-check the number."""
        added: dict[str, list[str]] = {}
        for event in events:
            if (
                isinstance(event, MemberJoined)
                and event.device_id
                and event.username != self.me
                and not event.assistant
            ):
                added.setdefault(event.username, []).append(event.device_id)
        warnings: list[Event] = []
        for name, devices in sorted(added.items()):
            contact = await tx.contact(name)
            warnings.append(ContactKeysChanged(name, tuple(devices), (), (), contact is not None and contact.verified))
            self.directory.forget(name)

        def recheck() -> None:
            for name in added:
                self.spawn(self.client.contacts.check_keys(name))

        if added:
            tx.on_commit(recheck)
        return warnings

    async def _install_own_commit(self, tx: Transaction, live: Live, *, before_epoch: int | None) -> list[Event]:
        """Install our pending commit for this group (the server accepted it); return its events."""
        for item in await tx.outbox():
            if item.group_id != live.conversation.group_id or item.kind != COMMIT:
                continue
            context = json.loads(item.context)
            if context["from_epoch"] != live.group.epoch:
                continue
            return await self._install(tx, live, item, context)
        return []

    async def _install(self, tx: Transaction, live: Live, item: OutboxItem, context: dict[str, Any]) -> list[Event]:
        before = snapshot(live)
        group = Group.from_parts(
            b64decode(context["epoch_state"]), b64decode(context["message_state"]), config=group_config(live.policy)
        )
        live.set_group(group)
        left = set(context.get("departed", ())) | set(live.policy.departed)
        return await self._after_epoch(tx, live, before, self.me, left, removes_us=False)

    async def on_sent(self, tx: Transaction, item: OutboxItem, result: SendResult) -> Sequence[Event]:
        try:
            return await self._on_sent(tx, item, result)
        finally:
            self.groups.flush(tx, self.now())  # the outbox's own transaction: write what changed

    async def _on_sent(self, tx: Transaction, item: OutboxItem, result: SendResult) -> list[Event]:
        if item.client_id in self._finished:
            return []
        self._resolve(tx, item.client_id, result)
        context = json.loads(item.context) if item.context else {}
        if item.kind == COMMIT:
            live = await self.groups.get(tx, item.group_id)
            if live is None or live.group.epoch != context["from_epoch"]:
                return []  # installed already (a later message showed the server took it)
            return await self._install(tx, live, item, context)
        if item.kind == APPLICATION and context.get("message_id"):
            message = await tx.message(context["conversation"], context["message_id"])
            if message is not None and message.seq is None:
                tx.put_message(replace(message, seq=result.seq, send_error=None))
                return [
                    MessageSendStateChanged(
                        message.conversation_id, message.message_id, SendState.SENT, None, result.seq
                    )
                ]
        return []

    async def on_send_failed(self, tx: Transaction, item: OutboxItem, error: ServerError) -> Sequence[Event]:
        try:
            return await self._on_send_failed(tx, item, error)
        finally:
            self.groups.flush(tx, self.now())

    async def _on_send_failed(self, tx: Transaction, item: OutboxItem, error: ServerError) -> list[Event]:
        if item.client_id in self._finished:
            return []
        self._resolve(tx, item.client_id, error)
        context = json.loads(item.context) if item.context else {}
        if item.kind == PROPOSAL and context.get("leave") and isinstance(error, EpochConflict | StaleEpoch):
            from .leaving import propose_leave_again

            await propose_leave_again(self, tx, item.group_id, int(context.get("epoch", 0)))
            return []
        log.warning("the server refused a %s: %s", item.kind, error)
        if item.kind == APPLICATION and context.get("message_id"):
            message = await tx.message(context["conversation"], context["message_id"])
            if message is not None and message.seq is None:
                reason = str(error)
                tx.put_message(replace(message, send_error=reason))
                return [MessageSendStateChanged(message.conversation_id, message.message_id, SendState.FAILED, reason)]
        return []

    # --- committing -------------------------------------------------------------------------------

    async def commit(self, conversation_id: str, plan: Planner) -> bool:
        """Commit what ``plan`` decides on the current group; retry after 409s. False if nothing to do."""
        policy = self.commit_retry
        last: EpochConflict | None = None
        for attempt in range(policy.attempts):
            if attempt:
                await asyncio.sleep(policy.delay(attempt))
                with contextlib.suppress(CalpicoError):
                    await self.client.sync()
            async with self.transaction() as tx:
                live = await self.live(tx, conversation_id)
                decided = plan(live)
                if decided.empty:
                    return False
                client_id = self._queue_commit(tx, live, decided)
            try:
                await self._await_sent(client_id)
            except EpochConflict as exc:
                log.info("commit lost epoch to another (attempt %d): %s", attempt + 1, exc)
                last = exc
                continue
            return True
        assert last is not None
        raise last

    def _queue_commit(self, tx: Transaction, live: Live, plan: CommitPlan) -> str:
        group = live.group
        old = (group.epoch_state_bytes(), group.message_state_bytes())
        try:
            result = group.commit(add=plan.add, remove=plan.remove, extensions=plan.extensions)
        except ProtocolError as exc:
            raise NotPermitted(f"the conversation's policy refuses this change: {exc.reason}") from exc
        group.merge(result.staged)
        context = {
            "conversation": live.id,
            "from_epoch": result.staged.from_epoch,
            "epoch_state": b64encode(group.epoch_state_bytes()),
            "message_state": b64encode(group.message_state_bytes()),
            "departed": list(plan.departed),
        }
        live.set_group(Group.from_parts(*old, config=group_config(live.policy)))
        client_id = new_client_id()
        tx.put_outbox(
            OutboxItem(
                client_id=client_id,
                group_id=live.conversation.group_id,
                kind=COMMIT,
                message=result.commit.encode(),
                welcome=result.welcome.encode() if result.welcome is not None else None,
                context=json.dumps(context).encode(),
                created_at=self.now(),
            )
        )
        return client_id

    # --- shared by the operations ----------------------------------------------------------------

    async def conversation(self, conversation_id: str) -> Conversation:
        conversation = await self.client.store.conversation(conversation_id)
        if conversation is None:
            raise NoSuchConversation(f"no conversation {conversation_id}")
        return conversation

    async def _read(self, conversation_id: str) -> Live:
        async with self.transaction() as tx:
            return await self.live(tx, conversation_id)

    async def send(self, conversation_id: str, content: AppMessage, *, store: bool = True) -> Message:
        data = encode_app_message(content)
        message_id = content.id or new_message_id()
        async with self.transaction() as tx:
            live = await self.live(tx, conversation_id)
            if live.conversation.status is ConversationStatus.LEFT:
                raise ConversationClosed("this person left the conversation")
            wire = live.group.protect(data).encode()
            live.message_dirty = True
            client_id = new_client_id()
            tx.put_outbox(
                OutboxItem(
                    client_id=client_id,
                    group_id=live.conversation.group_id,
                    kind=APPLICATION,
                    message=wire,
                    context=json.dumps({"conversation": conversation_id, "message_id": message_id}).encode(),
                    created_at=self.now(),
                )
            )
            author = Author(self.me, self.client.device_id, admin=self.me in live.admins(), hidden=False)
            events: list[Event] = []
            if isinstance(content, AssistantCard):
                events = await self._on_card(tx, live, author, data, content, None)
            elif store:
                events = await apply_content(tx, live.conversation, author, data, seq=None, now=self.now())
            stored = await tx.message(conversation_id, message_id)
            if stored is not None:
                events.append(MessageSendStateChanged(conversation_id, message_id, SendState.SENDING))
        self.publish(events)
        await self.flush_outbox_quietly()
        if stored is None:
            return Message(conversation_id, message_id, self.me, self.client.device_id, self.now(), self.now(), data)
        return await self.client.store.message(conversation_id, message_id) or stored

    async def retry(self, conversation_id: str, message_id: str) -> Message:
        """Send a message the server refused (`SendState.FAILED`) again, encrypted for the current epoch.

        Catches up first (a refusal is usually a commit this device had not seen). Raises
        `NoSuchMessage`, `NotPermitted` (not this device's, or not failed), `ConversationClosed`.
        """
        with contextlib.suppress(CalpicoError):
            await self.client.sync()
        async with self.transaction() as tx:
            message = await tx.message(conversation_id, message_id)
            if message is None:
                raise NoSuchMessage(f"no message {message_id} in {conversation_id}")
            if message.sender_device != self.client.device_id or message.send_state is not SendState.FAILED:
                raise NotPermitted("only a message this device failed to send can be sent again")
            live = await self.live(tx, conversation_id)
            if live.conversation.status is ConversationStatus.LEFT:
                raise ConversationClosed("this person left the conversation")
            wire = live.group.protect(message.content).encode()
            live.message_dirty = True
            tx.put_outbox(
                OutboxItem(
                    client_id=new_client_id(),
                    group_id=live.conversation.group_id,
                    kind=APPLICATION,
                    message=wire,
                    context=json.dumps({"conversation": conversation_id, "message_id": message_id}).encode(),
                    created_at=self.now(),
                )
            )
            message = replace(message, send_error=None)
            tx.put_message(message)
        self.publish([MessageSendStateChanged(conversation_id, message_id, SendState.SENDING)])
        await self.flush_outbox_quietly()
        return await self.client.store.message(conversation_id, message_id) or message

    def _stamp(self) -> dict[str, Any]:
        return {"id": new_message_id(), "sent_at": now_ms()}

    # --- welcome (see joining.py) -----------------------------------------------------------------------

    async def conversation_for_welcome(
        self, tx: Transaction, group: Group, policy: RoomPolicy, inviter: str | None, assistants: tuple[str, ...] = ()
    ) -> list[Event]:
        settings = Live(Conversation("", ConversationKind.ROOM, group.group_id), group, policy).settings
        names = {username_of(m.credential) for m in group.members()}
        now = self.now()
        contact = await tx.contact(inviter) if inviter and inviter != self.me else None
        if inviter is None or inviter == self.me or (contact is not None and contact.state is ContactState.ACCEPTED):
            status = ConversationStatus.ACCEPTED
        else:
            status = ConversationStatus.REQUEST
            if contact is None or contact.state is ContactState.NONE:
                tx.put_contact(replace(contact or Contact(inviter), state=ContactState.REQUEST, updated_at=now))
        kind = ConversationKind(settings.kind)
        peer = next((n for n in sorted(names) if n != self.me), None) if kind is ConversationKind.DM else None
        conversation = Conversation(
            id=conversation_id_for(group.group_id),
            kind=kind,
            group_id=group.group_id,
            status=status,
            name=settings.name,
            topic=settings.topic,
            peer=peer,
            disappearing_seconds=settings.disappearing_seconds,
            created_at=now,
            updated_at=now,
            extra=ConversationExtra(inviter=inviter, assistants=assistants).encode(),
        )
        if kind is ConversationKind.ROOM:
            extra = ConversationExtra(inviter, intro_pending=True, assistants=assistants)
            conversation = replace(conversation, extra=extra.encode())
        tx.put_conversation(conversation)
        self.groups.put(tx, Live(conversation, group, policy))
        return [] if kind is ConversationKind.ROOM else self._arrival(conversation)

    def bundle(self, key_package: bytes, init: Secret, encryption: Secret) -> KeyPackageBundle:
        return KeyPackageBundle(KeyPackage.decode(key_package), init, encryption)
