"""Contacts: accepted, requests and blocked people; contact policy; device keys and safety numbers.

The server holds the contact list, the block list and the contact policy (it
enforces them on KeyPackage claims); the store keeps each person's local
state, their devices' signature keys as last seen, and the safety number.
`Contacts.sync` re-reads the server's lists, so a block made on another of
this person's devices applies here too.

Key changes: `Contacts.check_keys` compares a person's devices in the
directory with the ones last seen. A changed set of *their* keys is reported
(`KeyCheck.their_keys_changed`) and, like any change of the safety number
(which also covers our own devices), clears ``verified``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from calpico.wire.accounts import DeviceKind
from calpico.wire.directory import ContactPolicy

from .errors import CredentialMismatch, UsageError
from .store import Contact, ContactState, Identity, KnownDevice, Store
from .transport import Transport
from .verification import safety_number

__all__ = ["ContactChanges", "Contacts", "KeyCheck"]


@dataclass(frozen=True, slots=True)
class ContactChanges:
    """What `Contacts.sync` changed: people now blocked, and people no longer blocked."""

    blocked: tuple[str, ...] = ()
    unblocked: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.blocked or self.unblocked)


@dataclass(frozen=True, slots=True)
class KeyCheck:
    """The outcome of comparing a person's devices with the directory.

    ``added``/``removed``/``replaced`` are device ids; on the first check of
    a person everything is just recorded and nothing counts as a change.
    """

    contact: Contact
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    replaced: tuple[str, ...] = ()
    number_changed: bool = False
    was_verified: bool = False

    @property
    def their_keys_changed(self) -> bool:
        return bool(self.added or self.removed or self.replaced)


class Contacts:
    """The contact book of one device's person."""

    def __init__(
        self,
        store: Store,
        transport: Transport,
        identity: Callable[[], Identity],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._transport = transport
        self._identity = identity
        self._clock = clock

    async def all(self, state: ContactState | None = None) -> list[Contact]:
        """Known people, by username; only those in ``state`` if given."""
        return await self._store.contacts(state)

    async def get(self, username: str) -> Contact | None:
        return await self._store.contact(username)

    def _not_me(self, username: str) -> None:
        if username == self._identity().username:
            raise UsageError("that is you")

    async def _set_state(self, username: str, state: ContactState) -> Contact:
        self._not_me(username)
        async with self._store.transaction() as tx:
            current = await tx.contact(username) or Contact(username)
            updated = replace(current, state=state, updated_at=self._clock())
            tx.put_contact(updated)
        return updated

    async def accept(self, username: str) -> Contact:
        """Accept a person: they become a contact (and may reach us under the ``contacts`` policy)."""
        self._not_me(username)
        await self._transport.add_contact(username)
        return await self._set_state(username, ContactState.ACCEPTED)

    async def note_request(self, username: str) -> Contact:
        """Record that someone not accepted reached out (the conversation layer calls this)."""
        current = await self._store.contact(username)
        if current is not None and current.state is not ContactState.NONE:
            return current
        return await self._set_state(username, ContactState.REQUEST)

    async def remove(self, username: str) -> Contact:
        """Take a person off the contact list (they are neither accepted nor blocked then)."""
        self._not_me(username)
        await self._transport.remove_contact(username)
        return await self._set_state(username, ContactState.NONE)

    async def block(self, username: str) -> Contact:
        """Block a person: the server refuses their claims and invites; their messages are hidden here."""
        self._not_me(username)
        await self._transport.block(username)
        return await self._set_state(username, ContactState.BLOCKED)

    async def unblock(self, username: str) -> Contact:
        self._not_me(username)
        await self._transport.unblock(username)
        accepted = username in await self._transport.contacts()
        return await self._set_state(username, ContactState.ACCEPTED if accepted else ContactState.NONE)

    async def is_blocked(self, username: str) -> bool:
        contact = await self._store.contact(username)
        return contact is not None and contact.state is ContactState.BLOCKED

    async def sync(self) -> ContactChanges:
        """Make local states follow the server's contact and block lists (which every device of this
        person shares: a block made on another device arrives here); return who got (un)blocked."""
        blocked = set(await self._transport.blocks())
        accepted = set(await self._transport.contacts())
        now = self._clock()
        newly_blocked: list[str] = []
        unblocked: list[str] = []
        async with self._store.transaction() as tx:
            known = {c.username: c for c in await tx.contacts()}
            for username in sorted(set(known) | blocked | accepted):
                current = known.get(username) or Contact(username)
                if username in blocked:
                    state = ContactState.BLOCKED
                elif username in accepted:
                    state = ContactState.ACCEPTED
                elif current.state in (ContactState.BLOCKED, ContactState.ACCEPTED):
                    state = ContactState.NONE
                else:
                    state = current.state
                if state is not current.state or username not in known:
                    tx.put_contact(replace(current, state=state, updated_at=now))
                if state is ContactState.BLOCKED and current.state is not ContactState.BLOCKED:
                    newly_blocked.append(username)
                elif current.state is ContactState.BLOCKED and state is not ContactState.BLOCKED:
                    unblocked.append(username)
        return ContactChanges(tuple(newly_blocked), tuple(unblocked))

    async def policy(self) -> ContactPolicy:
        return await self._transport.contact_policy()

    async def set_policy(self, policy: ContactPolicy) -> None:
        """``anyone`` (default) or ``contacts``: who may start conversations with this person."""
        await self._transport.set_contact_policy(policy)

    # --- keys and safety numbers --------------------------------------------------------

    async def check_keys(self, username: str) -> KeyCheck:
        """Compare ``username``'s devices in the directory with those last seen; record the result.

        Only people's own devices count: an assistant member's key is vouched
        for by its card, which one of these devices signs (`conversations.assistants`).
        """
        me = self._identity()
        theirs = [d for d in await self._transport.user_devices(username) if d.kind is DeviceKind.PERSON]
        mine = [d for d in await self._transport.devices() if d.kind is DeviceKind.PERSON]
        number = safety_number(
            me.username, [d.signature_key for d in mine], username, [d.signature_key for d in theirs]
        )
        now = self._clock()
        async with self._store.transaction() as tx:
            old = await tx.contact(username) or Contact(username)
            known = {d.device_id: d for d in old.devices}
            current = {d.device_id: d for d in theirs}
            first = old.safety_number is None
            added = () if first else tuple(i for i in current if i not in known)
            removed = () if first else tuple(i for i in known if i not in current)
            replaced = tuple(i for i in current if i in known and known[i].signature_key != current[i].signature_key)
            changed = not first and old.safety_number != number
            devices = tuple(
                known[i]
                if i in known and i not in replaced
                else KnownDevice(i, d.signature_key, d.cipher_suite, first_seen=now)
                for i, d in current.items()
            )
            updated = replace(
                old,
                devices=devices,
                safety_number=number,
                verified=old.verified and not changed,
                keys_changed_at=now if changed else old.keys_changed_at,
                updated_at=now,
            )
            tx.put_contact(updated)
        return KeyCheck(updated, added, removed, replaced, changed, old.verified)

    async def safety_number(self, username: str) -> str:
        """The current safety number with ``username`` (checks the directory)."""
        check = await self.check_keys(username)
        assert check.contact.safety_number is not None
        return check.contact.safety_number

    async def mark_verified(self, username: str, number: str) -> Contact:
        """Record that the person compared ``number`` with ``username``; raises `CredentialMismatch` if it differs."""
        current = await self.safety_number(username)
        if "".join(number.split()) != current:
            raise CredentialMismatch(f"that is not the safety number with {username}")
        async with self._store.transaction() as tx:
            contact = await tx.contact(username) or Contact(username)
            updated = replace(contact, verified=True, updated_at=self._clock())
            tx.put_contact(updated)
        return updated
