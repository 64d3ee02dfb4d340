"""`Client`: the SDK's entry point — one device, its account, its live connection, one event stream.

::

    client = await Client.create("https://chat.example", "alice", "alice.db", Passphrase("..."))
    # or: client = await Client.open("alice.db", Passphrase("..."))
    events = client.events()          # subscribe before start() to miss nothing
    await client.start()              # push connection, KeyPackage top-up, timers
    async for event in events:
        ...
    await client.close()

What runs after `start`:

- the push connection (`calpico.client.push`), reconnecting by itself; its
  state changes become `ConnectionStateChanged` events;
- with a conversation layer attached (`attach`, a `ConversationHandler`),
  every delivered message goes through the delivery engine
  (`calpico.client.sync`): applied once, atomically with its seq, then
  acknowledged; the outbox is flushed whenever the connection comes up.
  Without one, the connection runs in notify-only mode and reports
  `NotificationsPending` (content-free counts);
- KeyPackages are topped up at start, when a Welcome shows one was used, and
  at most every ``replenish_interval`` seconds when notifications arrive;
- messages whose disappearing timer ran out are deleted every
  ``expiry_interval`` seconds (`MessageDeleted` with ``by=None``);
- the contact and block lists follow the server's (which all of this
  person's devices share) whenever the connection comes up and every
  ``contacts_interval`` seconds, so a block made on another device applies
  here too (`ContactsChanged`); `sync` refreshes them first as well.

`sync` catches up over HTTP instead (for one-shot commands that do not keep
a connection).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from calpico.wire.accounts import DeviceInfo, DeviceKind
from calpico.wire.app import Attachment
from calpico.wire.delivery import Delivered, MessageKind, Notification
from calpico.wire.push import ErrorFrame, MessageFrame, NotifyFrame

from .account import Account
from .attachments import download_attachment, upload_attachment
from .contacts import ContactChanges, Contacts, KeyCheck
from .conversations.handler import ConversationHandler
from .errors import CalpicoError, UsageError
from .events import (
    ConnectionStateChanged,
    ContactKeysChanged,
    ContactsChanged,
    EventBus,
    KeyPackagesReplenished,
    MessageDeleted,
    NotificationsPending,
    Subscription,
)
from .keypackages import KeyPackages
from .push import ConnectionChanged, ConnectionState, PushConnection
from .store import KeySource, Store
from .sync import Sync
from .transport import RetryPolicy, Transport

__all__ = ["Client"]

log = logging.getLogger("calpico.client")


class Client:
    """One device of one person. Build with `create` or `open` (or around an `Account`)."""

    def __init__(
        self,
        account: Account,
        *,
        handler: ConversationHandler | None = None,
        push_backoff: RetryPolicy | None = None,
        expiry_interval: float = 5.0,
        replenish_interval: float = 60.0,
        contacts_interval: float = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.account = account
        self._bus = EventBus()
        self._handler: ConversationHandler | None = None
        self._sync: Sync | None = None
        self._push: PushConnection | None = None
        self._push_backoff = push_backoff
        self._expiry_interval = expiry_interval
        self._replenish_interval = replenish_interval
        self._contacts_interval = contacts_interval
        self._syncing_contacts: asyncio.Task[Any] | None = None
        self._clock = clock
        self._tasks: set[asyncio.Task[Any]] = set()
        self._last_replenish = float("-inf")
        self._replenishing: asyncio.Task[Any] | None = None
        self._flushing: asyncio.Task[Any] | None = None
        self._started = False
        if handler is not None:
            self.attach(handler)

    # --- opening and closing ----------------------------------------------------------------

    @classmethod
    async def create(
        cls,
        server_url: str,
        username: str,
        path: Path | str,
        key: KeySource,
        *,
        handler: ConversationHandler | None = None,
        **account_options: Any,
    ) -> Client:
        """Create an account on the server with this device (`Account.create` takes the options)."""
        return cls(await Account.create(server_url, username, path, key, **account_options), handler=handler)

    @classmethod
    async def open(
        cls, path: Path | str, key: KeySource, *, handler: ConversationHandler | None = None, **account_options: Any
    ) -> Client:
        """Open this device's account from its store (`Account.open` takes the options)."""
        return cls(await Account.open(path, key, **account_options), handler=handler)

    def attach(self, handler: ConversationHandler) -> None:
        """Plug in the conversation layer; before `start`."""
        if self._started:
            raise UsageError("attach the conversation handler before start()")
        self._handler = handler
        self._sync = Sync(self.store, self.transport, handler, self._bus.publish, self._ack_over_push)

    async def start(self, *, push: bool = True) -> None:
        """Go live: top up KeyPackages, resend pending acks, flush the outbox, connect, start timers.

        Network failures here are not fatal: they are logged and retried by
        the connection loop.
        """
        if self._started:
            return
        self._started = True
        with contextlib.suppress(CalpicoError):
            await self.replenish_key_packages(force=True)
        if self._sync is not None:
            with contextlib.suppress(CalpicoError):
                await self._sync.resend_acks()
        if push:
            self._push = PushConnection(self.transport, notify_only=self._sync is None, backoff=self._push_backoff)
            self._push.start()
            self._spawn(self._consume_push(self._push))
        if self._expiry_interval > 0:
            self._spawn(self._expire_forever())
        if push and self._contacts_interval > 0:
            self._spawn(self._contacts_forever())

    async def close(self) -> None:
        """Stop everything, end the event streams, close the store."""
        if self._push is not None:
            await self._push.close()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._sync is not None:
            with contextlib.suppress(CalpicoError):
                await self._sync.flush_acked()
        self._bus.close()
        await self.account.close()

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # --- who and what ---------------------------------------------------------------------

    @property
    def username(self) -> str:
        return self.account.username

    @property
    def device_id(self) -> str:
        return self.account.device_id

    @property
    def store(self) -> Store:
        return self.account.store

    @property
    def transport(self) -> Transport:
        return self.account.transport

    @property
    def contacts(self) -> Contacts:
        return self.account.contacts

    @property
    def key_packages(self) -> KeyPackages:
        return self.account.key_packages

    @property
    def connection_state(self) -> ConnectionState:
        return self._push.state if self._push is not None else ConnectionState.CLOSED

    def events(self) -> Subscription:
        """A new subscription to the event stream (``async for event in client.events()``)."""
        return self._bus.subscribe()

    async def wait_connected(self, timeout: float | None = None) -> None:
        """Wait for the push connection to be up; raises `TimeoutError`, `UsageError` if not started."""
        if self._push is None:
            raise UsageError("start() the client with push=True first")
        await self._push.wait_connected(timeout)

    # --- account, devices, contacts -----------------------------------------------------------

    async def devices(self) -> list[DeviceInfo]:
        return await self.account.devices()

    async def add_device(
        self, signature_key: bytes, cipher_suite: int, name: str = "", kind: DeviceKind = DeviceKind.PERSON
    ) -> DeviceInfo:
        """Register another device of this person (`Account.add_device`; ``kind`` for an assistant member)."""
        return await self.account.add_device(signature_key, cipher_suite, name, kind)

    async def revoke_device(self, device_id: str) -> None:
        await self.account.revoke_device(device_id)

    async def check_contact_keys(self, username: str) -> KeyCheck:
        """Compare a person's device keys with the directory; a change is also published as an event."""
        check = await self.contacts.check_keys(username)
        if check.their_keys_changed:
            self._bus.publish(
                ContactKeysChanged(username, check.added, check.removed, check.replaced, check.was_verified)
            )
        return check

    async def sync_contacts(self) -> ContactChanges:
        """Follow the server's contact and block lists (shared by this person's devices).

        A change is published as `ContactsChanged`, and a newly blocked person's
        messages are hidden from then on (their earlier ones too: reads hide them).
        """
        changes = await self.contacts.sync()
        if changes:
            changed = getattr(self._handler, "contacts_changed", None)
            if changed is not None:
                changed()
            self._bus.publish(ContactsChanged(changes.blocked, changes.unblocked))
        return changes

    async def replenish_key_packages(self, *, force: bool = False) -> int:
        """Top up this device's KeyPackages if they run low (at most every ``replenish_interval`` unless forced)."""
        now = self._clock()
        if not force and now - self._last_replenish < self._replenish_interval:
            return 0
        self._last_replenish = now
        count = await self.key_packages.replenish()
        if count:
            self._bus.publish(KeyPackagesReplenished(count))
        return count

    # --- attachments ----------------------------------------------------------------------------

    async def upload_attachment(self, data: bytes, **options: Any) -> Attachment:
        """Encrypt and upload a file; returns the message that shares it (`attachments.upload_attachment`)."""
        return await upload_attachment(self.transport, data, clock=self._clock, **options)

    async def download_attachment(self, attachment: Attachment) -> bytes:
        """Fetch, verify and decrypt the file an `Attachment` message names."""
        return await download_attachment(self.transport, attachment)

    # --- delivery ---------------------------------------------------------------------------------

    def _need_sync(self) -> Sync:
        if self._sync is None:
            raise UsageError("no conversation layer is attached to this client")
        return self._sync

    async def sync(self) -> int:
        """Catch up over HTTP: the block list first, then apply and acknowledge everything waiting;
        return how many messages were new."""
        sync = self._need_sync()
        await self.sync_contacts()
        return await sync.catch_up()

    async def flush_outbox(self) -> int:
        """Send what the conversation layer queued; return how many left the outbox."""
        return await self._need_sync().flush_outbox()

    async def notifications(self) -> Notification:
        """Content-free counts of what waits on the server for this device."""
        return await self.transport.notifications()

    async def _ack_over_push(self, acks: list[Any]) -> bool:
        return self._push is not None and await self._push.ack(acks)

    async def _consume_push(self, push: PushConnection) -> None:
        while batch := await push.next_batch():
            deliveries: list[Delivered] = []
            for item in batch:
                if isinstance(item, MessageFrame):
                    deliveries.append(item)
                elif isinstance(item, ConnectionChanged):
                    self._bus.publish(ConnectionStateChanged(item.state, item.reason, item.retry_in))
                    if item.state is ConnectionState.CONNECTED:
                        self._background_flush()
                        self._background_contacts()
                elif isinstance(item, NotifyFrame):
                    counts = tuple((c.group_id, c.count) for c in item.conversations)
                    self._bus.publish(NotificationsPending(counts))
                    self._background_replenish(force=False)
                elif isinstance(item, ErrorFrame):
                    log.warning("the server reported: %s %s", item.code, item.message)
            if deliveries and self._sync is not None:
                try:
                    acks = await self._sync.apply(deliveries)
                    await self._sync.acknowledge(acks)
                except CalpicoError as exc:
                    # Nothing of the batch was applied (or it was and is only unacknowledged):
                    # start over from the server's cursor rather than skip ahead.
                    log.warning("delivery paused, resuming from the server's cursor: %s", exc)
                    push.restart()
                    continue
                if any(d.kind is MessageKind.WELCOME for d in deliveries):
                    self._background_replenish(force=True)

    def _background_flush(self) -> None:
        if self._sync is None or (self._flushing is not None and not self._flushing.done()):
            return
        self._flushing = self._spawn(self._sync.flush_outbox())

    def _background_contacts(self) -> None:
        if self._syncing_contacts is not None and not self._syncing_contacts.done():
            return
        self._syncing_contacts = self._spawn(self.sync_contacts())

    async def _contacts_forever(self) -> None:
        while True:
            await asyncio.sleep(self._contacts_interval)
            self._background_contacts()

    def _background_replenish(self, *, force: bool) -> None:
        if self._replenishing is not None and not self._replenishing.done():
            return
        self._replenishing = self._spawn(self.replenish_key_packages(force=force))

    async def _expire_forever(self) -> None:
        while True:
            await asyncio.sleep(self._expiry_interval)
            try:
                for conversation_id, message_id in await self.store.expire_messages(self._clock()):
                    self._bus.publish(MessageDeleted(conversation_id, message_id, None))
            except CalpicoError as exc:
                log.warning("could not expire messages: %s", exc)

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)

        def done(t: asyncio.Task[Any]) -> None:
            self._tasks.discard(t)
            if not t.cancelled() and t.exception() is not None:
                log.warning("background task failed: %s", t.exception())

        task.add_done_callback(done)
        return task
