"""The operations behind `Conversations`: create, invite, remove, settings, requests, messages, devices.

`Engine` adds them to `EngineCore` (deliveries, sends and commits, in
`engine`); every change to a group goes through `EngineCore.commit`, every
message through `EngineCore.send`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from functools import partial
from typing import Any

from calpico.mls.group import Group
from calpico.mls.key_package import KeyPackage
from calpico.wire.accounts import DeviceKind
from calpico.wire.app import (
    AssistantPolicy,
    Attachment,
    Delete,
    Edit,
    Mention,
    Reaction,
    Receipt,
    ReceiptKind,
    RoomUpdate,
    Text,
    Typing,
    decode_app_message,
)

from ..errors import ConversationClosed, CredentialMismatch, NoKeyPackages, NoSuchMessage, NotPermitted
from ..events import ConversationAdded
from ..identity import DeviceIdentity
from ..keypackages import ClaimedKeyPackage, device_capabilities, gather_bounded
from ..store import Contact, Conversation, ConversationKind, ConversationStatus, Message
from .assistants import AssistantMember, members_of
from .content import Author
from .engine import CommitPlan, EngineCore, Planner
from .model import LinkOffer, Participant, RoomSettings
from .settings import RoomPolicy, group_extensions, with_settings
from .state import ConversationExtra, Live, conversation_id_for, group_config

__all__ = ["Engine"]

CLAIMS_AT_ONCE = 8  # directory requests in flight when adding many people


class Engine(EngineCore):
    """The `ConversationHandler` of a client, and the work behind `Conversations`."""

    # --- reading ----------------------------------------------------------------------------------

    async def settings(self, conversation_id: str) -> RoomSettings:
        live = await self._read(conversation_id)
        return replace(live.settings, name=live.conversation.name, topic=live.conversation.topic)

    async def members(self, conversation_id: str) -> list[Participant]:
        live = await self._read(conversation_id)
        admins = live.admins()
        assistants = set(live.extra.assistants)
        devices: dict[str, list[str]] = {}
        helpers: dict[str, list[str]] = {}
        for member in live.group.members():
            identity = (member.credential.identity or b"").decode("ascii", "replace")
            name, _, device = identity.partition(":")
            (helpers if device in assistants else devices).setdefault(name, []).append(device)
            devices.setdefault(name, [])
        return [
            Participant(n, tuple(sorted(d)), n in admins, tuple(sorted(helpers.get(n, ()))))
            for n, d in sorted(devices.items())
        ]

    async def assistants(self, conversation_id: str) -> list[AssistantMember]:
        return members_of(await self._read(conversation_id))

    async def messages(self, conversation_id: str, *, limit: int, before: str | None) -> list[Message]:
        await self.conversation(conversation_id)
        blocked = await self.blocked()
        found = await self.client.store.messages(conversation_id, limit=limit, before=before)
        return [m for m in found if m.sender_user not in blocked]

    async def message(self, conversation_id: str, message_id: str) -> Message:
        message = await self.client.store.message(conversation_id, message_id)
        if message is None:
            raise NoSuchMessage(f"no message {message_id} in {conversation_id}")
        return message

    # --- creating conversations ---------------------------------------------------------------------

    async def claim_all(self, usernames: Sequence[str], *, own_devices: bool) -> list[ClaimedKeyPackage]:
        """Checked KeyPackages of every device of these people (and of our other devices)."""
        claim = self.client.key_packages.claim

        async def ours() -> list[ClaimedKeyPackage]:
            with contextlib.suppress(NoKeyPackages):
                return [c for c in await claim(self.me) if c.identity.device_id != self.client.device_id]
            return []

        calls: list[Callable[[], Awaitable[list[ClaimedKeyPackage]]]] = [
            partial(claim, username) for username in dict.fromkeys(usernames) if username != self.me
        ]
        if own_devices:
            calls.append(ours)
        # A few claims at a time rather than one after another: a room of 100 is 100 round trips.
        return [c for found in await gather_bounded(calls, CLAIMS_AT_ONCE) for c in found]

    async def create(self, settings: RoomSettings, members: Sequence[str]) -> Conversation:
        claimed = await self.claim_all(members, own_devices=True)
        accept = self.client.contacts.accept
        await gather_bounded([partial(accept, u) for u in dict.fromkeys(members) if u != self.me], CLAIMS_AT_ONCE)
        identity = self.client.account.identity
        suite = self.cipher_suite or identity.cipher_suite
        policy = RoomPolicy()
        group = Group.create(
            suite,
            self.client.account.device_identity.credential(),
            identity.signature_private_key,
            extensions=group_extensions(settings),
            capabilities=device_capabilities(suite),
            config=group_config(policy),
        )
        await self.client.transport.create_group(group.group_id, suite)
        now = self.now()
        peer = next((m for m in members if m != self.me), None) if settings.kind == "dm" else None
        conversation = Conversation(
            id=conversation_id_for(group.group_id),
            kind=ConversationKind(settings.kind),
            group_id=group.group_id,
            name=settings.name,
            topic=settings.topic,
            peer=peer,
            disappearing_seconds=settings.disappearing_seconds,
            created_at=now,
            updated_at=now,
            extra=ConversationExtra(inviter=self.me).encode(),
        )
        async with self.transaction() as tx:
            tx.put_conversation(conversation)
            self.groups.put(tx, Live(conversation, group, policy))
        self.publish([ConversationAdded(conversation, self.me)])
        key_packages = tuple(c.key_package for c in claimed)
        if key_packages:
            await self.commit(conversation.id, lambda live: _add_missing(live, key_packages))
            await self._introduce_room(conversation.id)
        return await self.conversation(conversation.id)

    async def start_dm(self, username: str) -> Conversation:
        if username == self.me:
            raise NotPermitted("a DM is with someone else")
        for conversation in await self.client.store.conversations():
            if (
                conversation.kind is ConversationKind.DM
                and conversation.peer == username
                and conversation.status is not ConversationStatus.LEFT
            ):
                return conversation
        settings = RoomSettings(kind="dm", admins=(self.me, username))
        return await self.create(settings, [username])

    async def create_room(
        self,
        name: str,
        members: list[str],
        *,
        topic: str,
        admins: list[str],
        assistant_policy: AssistantPolicy,
        assistant_approval: bool = False,
    ) -> Conversation:
        settings = RoomSettings(
            kind="room",
            name=name,
            topic=topic,
            admins=(self.me, *admins),
            assistant_policy=assistant_policy,
            assistant_approval=assistant_approval,
        )
        return await self.create(settings, members)

    async def invite(self, conversation_id: str, username: str) -> None:
        await self._require_admin(conversation_id)
        claimed = await self.claim_all([username], own_devices=False)
        await self.client.contacts.accept(username)
        key_packages = tuple(c.key_package for c in claimed)
        if await self.commit(conversation_id, lambda live: _add_missing(live, key_packages)):
            await self._introduce_room(conversation_id)

    async def remove(self, conversation_id: str, username: str) -> None:
        await self._require_admin(conversation_id)

        def plan(live: Live) -> CommitPlan:
            return CommitPlan(remove=tuple(live.people().get(username, ())))

        await self.commit(conversation_id, plan)

    async def _require_admin(self, conversation_id: str) -> None:
        live = await self._read(conversation_id)
        if self.me not in live.admins():
            raise NotPermitted(f"only admins of this room may do that ({', '.join(sorted(live.admins()))})")

    async def update_settings(self, conversation_id: str, **changes: Any) -> None:
        """Name and topic: an encrypted `RoomUpdate`; policy (admins, assistants, timer): a commit.

        Forbidding assistants (policy ``none``) removes the ones present in the same commit.
        """
        await self._require_admin(conversation_id)
        content: dict[str, Any] = {k: changes.pop(k) for k in ("name", "topic") if k in changes}
        if changes:

            def plan(live: Live) -> CommitPlan:
                new = replace(live.settings, **changes)
                if new == live.settings:
                    return CommitPlan()
                remove: tuple[int, ...] = ()
                if new.assistant_policy is AssistantPolicy.NONE:
                    remove = _assistant_leaves(live, set(live.extra.assistants))
                return CommitPlan(extensions=with_settings(live.group.extensions, new), remove=remove)

            await self.commit(conversation_id, plan)
        if content:
            if (await self.conversation(conversation_id)).kind is not ConversationKind.ROOM:
                raise NotPermitted("only rooms have a name and a topic")
            await self.send(conversation_id, RoomUpdate(**content, **self._stamp()), store=False)
            await self._apply_own_room_update(conversation_id, content)

    async def _apply_own_room_update(self, conversation_id: str, content: dict[str, Any]) -> None:
        async with self.transaction() as tx:
            live = await self.live(tx, conversation_id)
            author = Author(self.me, self.client.device_id, admin=True, hidden=False)
            events = self._on_room_update(live, author, RoomUpdate(**content, **self._stamp()))
        self.publish(events)

    async def _introduce_room(self, conversation_id: str) -> None:
        """After adding people to a room: tell them its name and topic (they cannot read the extension's past)."""
        conversation = await self.conversation(conversation_id)
        if conversation.kind is ConversationKind.ROOM:
            update = RoomUpdate(name=conversation.name, topic=conversation.topic, **self._stamp())
            await self.send(conversation_id, update, store=False)

    async def leave(self, conversation_id: str) -> None:
        from .leaving import leave

        await leave(self, conversation_id)

    # --- requests and contacts ----------------------------------------------------------------------

    async def accept(self, conversation_id: str) -> Conversation:
        conversation = await self.conversation(conversation_id)
        inviter = ConversationExtra.decode(conversation.extra).inviter
        if inviter and inviter != self.me:
            await self.client.contacts.accept(inviter)
        async with self.transaction() as tx:
            live = await self.live(tx, conversation_id)
            updated = replace(live.conversation, status=ConversationStatus.ACCEPTED, updated_at=self.now())
            live.set_conversation(updated)
        return updated

    async def decline(self, conversation_id: str, *, block: bool) -> None:
        conversation = await self.conversation(conversation_id)
        inviter = ConversationExtra.decode(conversation.extra).inviter
        await self.leave(conversation_id)
        if block and inviter and inviter != self.me:
            await self.block(inviter)

    async def block(self, username: str) -> Contact:
        contact = await self.client.contacts.block(username)
        (await self.blocked()).add(username)
        return contact

    async def unblock(self, username: str) -> Contact:
        contact = await self.client.contacts.unblock(username)
        (await self.blocked()).discard(username)
        return contact

    # --- messages -------------------------------------------------------------------------------------

    async def send_text(
        self, conversation_id: str, body: str, *, reply_to: str | None, mentions: tuple[Mention, ...]
    ) -> Message:
        return await self.send(conversation_id, Text(body=body, reply_to=reply_to, mentions=mentions, **self._stamp()))

    async def react(self, conversation_id: str, message_id: str, emoji: str, *, remove: bool) -> None:
        await self.message(conversation_id, message_id)
        await self.send(conversation_id, Reaction(target=message_id, emoji=emoji, remove=remove, **self._stamp()))

    async def edit(self, conversation_id: str, message_id: str, body: str) -> Message:
        target = await self.message(conversation_id, message_id)
        if target.sender_user != self.me:
            raise NotPermitted("only the author may edit a message")
        if not isinstance(decode_app_message(target.content), Text):
            raise NotPermitted("only text messages can be edited")
        await self.send(conversation_id, Edit(target=message_id, body=body, **self._stamp()))
        return await self.message(conversation_id, message_id)

    async def delete(self, conversation_id: str, message_id: str) -> None:
        target = await self.message(conversation_id, message_id)
        if target.sender_user != self.me:
            live = await self._read(conversation_id)
            if self.me not in live.admins() or live.settings.kind == "dm":
                raise NotPermitted("only the author or a room admin may delete a message for everyone")
        await self.send(conversation_id, Delete(target=message_id, **self._stamp()))

    async def receipt(self, conversation_id: str, kind: ReceiptKind, message_ids: tuple[str, ...]) -> None:
        if message_ids:
            await self.send(conversation_id, Receipt(kind=kind, targets=message_ids, **self._stamp()))

    async def typing(self, conversation_id: str, active: bool) -> None:
        await self.send(conversation_id, Typing(active=active, **self._stamp()), store=False)

    async def send_attachment(
        self, conversation_id: str, data: bytes, *, name: str, media_type: str, caption: str | None
    ) -> Message:
        await self._read(conversation_id)
        shared = await self.client.upload_attachment(data, name=name, media_type=media_type, caption=caption)
        return await self.send(conversation_id, shared)

    async def download(self, conversation_id: str, message_id: str) -> bytes:
        content = decode_app_message((await self.message(conversation_id, message_id)).content)
        if not isinstance(content, Attachment):
            raise NoSuchMessage(f"message {message_id} is not an attachment")
        return await self.client.download_attachment(content)

    # --- assistants -----------------------------------------------------------------------------------

    async def add_assistant(self, conversation_id: str, owner: str, device_id: str) -> bool:
        """Add the assistant device ``owner:device_id`` (checked before committing; see `check_admission`)."""
        from .assistants import check_admission

        live = await self._read(conversation_id)
        if owner != self.me and self.me not in live.admins():
            raise NotPermitted("only its owner or an admin may add an assistant")
        identity = DeviceIdentity(owner, device_id)
        if await self.directory.kind(identity) is not DeviceKind.ASSISTANT:
            raise NotPermitted(f"{identity} is not an assistant device")
        if device_id in live.extra.assistants:
            return False
        check_admission(live, self.me, [identity], set(live.people()))
        claimed = await self.client.key_packages.claim(owner, device_id)
        if not await self.commit(conversation_id, _adding(tuple(c.key_package for c in claimed))):
            return False
        await self._introduce_room(conversation_id)  # it cannot read the room's name from before it joined
        return True

    async def remove_assistant(self, conversation_id: str, device_id: str) -> bool:
        """Remove an assistant member: its owner, or an admin, may."""
        live = await self._read(conversation_id)
        owner = next((m.owner for m in members_of(live) if m.device_id == device_id), None)
        if owner is None:
            return False
        if owner != self.me and self.me not in live.admins():
            raise NotPermitted("only its owner or an admin may remove an assistant")
        return await self.commit(conversation_id, lambda live: CommitPlan(remove=_assistant_leaves(live, {device_id})))

    async def create_assistant_chat(self, device_id: str, name: str) -> Conversation:
        """This person's private chat with their own assistant: their own devices and the assistant only."""
        if await self.directory.kind(DeviceIdentity(self.me, device_id)) is not DeviceKind.ASSISTANT:
            raise NotPermitted(f"{self.me}:{device_id} is not an assistant device of ours")
        settings = RoomSettings(kind="assistant", name=name, admins=(self.me,), assistant_policy=AssistantPolicy.AUTO)
        conversation = await self.create(settings, [])
        claimed = await self.client.key_packages.claim(self.me, device_id)
        await self.commit(conversation.id, _adding(tuple(c.key_package for c in claimed)))
        return await self.conversation(conversation.id)

    # --- devices -------------------------------------------------------------------------------------

    async def offer_link(self, ttl: float) -> LinkOffer:
        from .linking import offer_link

        return await offer_link(self, ttl)

    async def complete_link(self, offer: LinkOffer, timeout: float) -> str:
        from .linking import complete_link

        return await complete_link(self, offer, timeout)

    async def add_own_device(self, device_id: str) -> int:
        """Add a new device of ours to every conversation we are in (a fresh KeyPackage each); return how many."""
        count = 0
        for conversation in await self.client.store.conversations():
            if conversation.status is ConversationStatus.LEFT:
                continue
            claimed = [c for c in await self.client.key_packages.claim(self.me) if c.identity.device_id == device_id]
            if not claimed:
                raise CredentialMismatch(f"our new device {device_id} has no KeyPackage to add")
            try:
                if await self.commit(conversation.id, _adding((claimed[0].key_package,))):
                    await self._introduce_room(conversation.id)
                    count += 1
            except ConversationClosed:
                continue
        return count


def _assistant_leaves(live: Live, device_ids: set[str]) -> tuple[int, ...]:
    return tuple(
        m.leaf_index
        for m in live.group.members()
        if DeviceIdentity.from_credential(m.credential).device_id in device_ids
    )


def _adding(key_packages: Sequence[KeyPackage]) -> Planner:
    return lambda live: _add_missing(live, key_packages)


def _add_missing(live: Live, key_packages: Sequence[KeyPackage]) -> CommitPlan:
    present = {m.credential.identity for m in live.group.members()}
    missing = tuple(kp for kp in key_packages if kp.leaf_node.credential.identity not in present)
    return CommitPlan(add=missing)
