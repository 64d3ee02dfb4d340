"""A device's account: create it on a server, open it again, manage its devices and keys.

Creating an account, step by step (each step durable before the next):

1. the store is created and the device's signature key generated (suite 1
   by default) and stored with status ``registering``;
2. ``POST /v1/accounts`` registers the username with that key; the server
   assigns the device id; the identity becomes ``active`` (if registration
   fails, the new store is deleted again);
3. the device logs in (signed challenge), pinning the server's name;
4. a batch of KeyPackages and a last-resort one are published.

A second device of the same person starts with `Account.prepare_device`: its
own store and key, status ``pending_link``, no device id yet. An existing
device registers the new key (`Account.add_device`, the server's device-add)
and hands the new device its id; `Account.activate` then logs in and
publishes KeyPackages. The one-time code that carries key and id between the
two is `calpico.client.conversations.linking` (which keeps `DeviceLink`
records), and the existing device then adds the new one to every conversation.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import httpx

from calpico.mls.crypto import get_suite
from calpico.wire.accounts import DeviceInfo, DeviceKind, NewDevice

from .contacts import Contacts
from .errors import CredentialMismatch, NoAccount, UsageError
from .identity import DeviceIdentity
from .keypackages import KeyPackagePolicy, KeyPackages
from .store import Identity, IdentityStatus, KeySource, Store
from .transport import DeviceKey, RetryPolicy, Transport

__all__ = ["DEFAULT_CIPHER_SUITE", "Account"]

DEFAULT_CIPHER_SUITE = 1  # MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519


class Account:
    """One device of one person on one server. Obtain with `create`, `open` or `prepare_device`."""

    def __init__(
        self,
        store: Store,
        identity: Identity,
        transport: Transport,
        *,
        key_package_policy: KeyPackagePolicy | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self._identity = identity
        self.transport = transport
        self._clock = clock
        self.key_packages = KeyPackages(store, transport, lambda: self._identity, key_package_policy, clock)
        self.contacts = Contacts(store, transport, lambda: self._identity, clock)
        self._pinning: set[asyncio.Task[None]] = set()

    # --- opening ------------------------------------------------------------------------

    @classmethod
    async def create(
        cls,
        server_url: str,
        username: str,
        path: Path | str,
        key: KeySource,
        *,
        cipher_suite: int = DEFAULT_CIPHER_SUITE,
        device_name: str = "",
        invite: str | None = None,
        http: httpx.AsyncClient | None = None,
        retry: RetryPolicy | None = None,
        key_package_policy: KeyPackagePolicy | None = None,
        clock: Callable[[], float] = time.time,
    ) -> Account:
        """Register ``username`` on the server with this new device (see the module docstring).

        Raises `AccountExists` (a store at ``path``), `UsernameTaken`,
        `RegistrationRefused`, `Offline`, `StoreLocked`, ...; on any failure
        before the server accepted the account, no store is left behind.
        """
        store = await Store.create(path, key)
        transport: Transport | None = None
        try:
            identity = await _new_identity(store, server_url, username, cipher_suite, device_name, clock)
            transport = Transport(server_url, http=http, retry=retry, clock=clock)
            answer = await transport.register(
                username,
                NewDevice(signature_key=identity.signature_public_key, cipher_suite=cipher_suite, name=device_name),
                invite,
            )
        except BaseException:
            if transport is not None:
                await transport.aclose()
            await store.close()
            for suffix in ("", "-wal", "-shm", ".lock"):
                with contextlib.suppress(OSError):
                    os.unlink(str(store.path) + suffix)
            raise
        # The server has the account now: keep the device id before anything else can fail, so the
        # store opens again even if the login or the KeyPackage upload below does not get through.
        identity = replace(identity, device_id=answer.device.device_id, status=IdentityStatus.ACTIVE)
        async with store.transaction() as tx:
            tx.set_identity(identity)
        account = cls(store, identity, transport, key_package_policy=key_package_policy, clock=clock)
        try:
            await account._activate(answer.device.device_id)
            await account.key_packages.publish(account.key_packages.policy.batch, last_resort=True)
        except BaseException:
            await account.close()
            raise
        return account

    @classmethod
    async def open(
        cls,
        path: Path | str,
        key: KeySource,
        *,
        http: httpx.AsyncClient | None = None,
        retry: RetryPolicy | None = None,
        key_package_policy: KeyPackagePolicy | None = None,
        clock: Callable[[], float] = time.time,
    ) -> Account:
        """Open this device's account from its store. No network traffic until the first call.

        Raises `NoAccount` (no store, or a registration that never finished),
        `WrongPassphrase`, `StoreLocked`, `StoreInUse`, `StoreCorrupt`.
        """
        store = await Store.open(path, key)
        try:
            identity = await store.identity()
            if identity is None or identity.status is IdentityStatus.REGISTERING:
                raise NoAccount(f"the account at {path} was never registered: create it again")
        except BaseException:
            await store.close()
            raise
        transport = Transport(
            identity.server_url,
            device=_device_key(identity),
            server_name=identity.server_name,
            http=http,
            retry=retry,
            clock=clock,
        )
        account = cls(store, identity, transport, key_package_policy=key_package_policy, clock=clock)
        if identity.server_name is None:  # an account whose first login never happened: pin at the next one
            transport.on_server_name = account._pin_server_name
        return account

    @classmethod
    async def prepare_device(
        cls,
        server_url: str,
        username: str,
        path: Path | str,
        key: KeySource,
        *,
        cipher_suite: int = DEFAULT_CIPHER_SUITE,
        device_name: str = "",
        http: httpx.AsyncClient | None = None,
        retry: RetryPolicy | None = None,
        key_package_policy: KeyPackagePolicy | None = None,
        clock: Callable[[], float] = time.time,
    ) -> Account:
        """A new device of an existing account, waiting to be added by one of its devices.

        Give `signature_public_key` and `cipher_suite` to an existing device's
        `add_device`, then call `activate` with the device id it returns.
        """
        store = await Store.create(path, key)
        try:
            identity = await _new_identity(
                store, server_url, username, cipher_suite, device_name, clock, IdentityStatus.PENDING_LINK
            )
        except BaseException:
            await store.close()
            raise
        transport = Transport(server_url, http=http, retry=retry, clock=clock)
        return cls(store, identity, transport, key_package_policy=key_package_policy, clock=clock)

    async def activate(self, device_id: str) -> None:
        """Finish linking this new device: log in as ``device_id``, then publish KeyPackages.

        Raises `Unauthorized` if the server did not register this device's key
        under that id, `CredentialMismatch` if it belongs to another user.
        """
        if self._identity.status is not IdentityStatus.PENDING_LINK or self._identity.device_id is not None:
            raise UsageError("this device is not waiting to be linked")
        await self._activate(device_id)
        await self.key_packages.publish(self.key_packages.policy.batch, last_resort=True)

    async def _activate(self, device_id: str) -> None:
        self.transport.set_device(
            DeviceKey(device_id, self._identity.cipher_suite, self._identity.signature_private_key)
        )
        answer = await self.transport.login()
        if answer.username != self._identity.username or answer.device_id != device_id:
            raise CredentialMismatch(f"the server logged this device in as {answer.username}:{answer.device_id}")
        await self._save(
            replace(
                self._identity,
                device_id=device_id,
                server_name=self.transport.server_name,
                status=IdentityStatus.ACTIVE,
            )
        )

    def _pin_server_name(self, name: str) -> None:
        task = asyncio.get_running_loop().create_task(self._save(replace(self._identity, server_name=name)))
        self._pinning.add(task)
        task.add_done_callback(self._pinning.discard)

    async def close(self) -> None:
        for task in list(self._pinning):
            with contextlib.suppress(Exception):
                await task
        await self.transport.aclose()
        await self.store.close()

    async def __aenter__(self) -> Account:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _save(self, identity: Identity) -> None:
        async with self.store.transaction() as tx:
            tx.set_identity(identity)
        self._identity = identity

    # --- who this is --------------------------------------------------------------------

    @property
    def identity(self) -> Identity:
        return self._identity

    @property
    def username(self) -> str:
        return self._identity.username

    @property
    def device_id(self) -> str:
        if self._identity.device_id is None:
            raise UsageError("this device has no device id yet (activate it first)")
        return self._identity.device_id

    @property
    def cipher_suite(self) -> int:
        return self._identity.cipher_suite

    @property
    def signature_public_key(self) -> bytes:
        return self._identity.signature_public_key

    @property
    def device_identity(self) -> DeviceIdentity:
        """This device's MLS credential identity (`calpico.client.identity`)."""
        return DeviceIdentity(self.username, self.device_id)

    @property
    def is_active(self) -> bool:
        return self._identity.status is IdentityStatus.ACTIVE

    # --- devices ------------------------------------------------------------------------

    async def devices(self) -> list[DeviceInfo]:
        """This person's active devices (this one included)."""
        return await self.transport.devices()

    async def add_device(
        self, signature_key: bytes, cipher_suite: int, name: str = "", kind: DeviceKind = DeviceKind.PERSON
    ) -> DeviceInfo:
        """Register another device of this person by its signature public key; returns its id.

        ``kind=DeviceKind.ASSISTANT`` registers an assistant member this person
        owns (`calpico.assistant`): it is never added where this person is
        added, only where it is added by name. Raises `Conflict` if the key is
        registered already, `Forbidden` if this device is itself an assistant.
        """
        return await self.transport.add_device(
            NewDevice(signature_key=signature_key, cipher_suite=cipher_suite, name=name, kind=kind)
        )

    async def revoke_device(self, device_id: str) -> None:
        """Revoke one of this person's devices (this one too: it then stops working)."""
        await self.transport.revoke_device(device_id)
        if device_id == self._identity.device_id:
            await self._save(replace(self._identity, status=IdentityStatus.REVOKED))


async def _new_identity(
    store: Store,
    server_url: str,
    username: str,
    cipher_suite: int,
    device_name: str,
    clock: Callable[[], float],
    status: IdentityStatus = IdentityStatus.REGISTERING,
) -> Identity:
    pair = get_suite(cipher_suite).generate_signature_key_pair()
    identity = Identity(
        server_url=server_url.rstrip("/"),
        username=username,
        cipher_suite=cipher_suite,
        signature_private_key=pair.private_key,
        signature_public_key=pair.public_key,
        device_name=device_name,
        status=status,
        created_at=clock(),
    )
    async with store.transaction() as tx:
        tx.set_identity(identity)
    return identity


def _device_key(identity: Identity) -> DeviceKey | None:
    if identity.device_id is None:
        return None
    return DeviceKey(identity.device_id, identity.cipher_suite, identity.signature_private_key)
