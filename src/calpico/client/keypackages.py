"""This device's KeyPackages (RFC 9420 §10) in the directory, and checking the ones we claim of others.

Publishing: private keys are stored *before* the upload (so the server never
holds a KeyPackage whose keys we could have lost), marked ``uploaded`` after
it, and deleted again if the upload fails. The directory keeps a batch plus
one last-resort KeyPackage, which is handed out when the batch is gone and
never consumed. `KeyPackages.replenish` tops the batch up to
``policy.batch`` whenever fewer than ``policy.low_water`` are left; the
client calls it at start-up and whenever a Welcome shows that one was used.

Claiming: `KeyPackages.claim` takes one KeyPackage per device of a user and
checks each against the directory before anyone adds it to a group: it
parses, its suite is supported, both signatures verify (§10.1, §7.2), its
leaf carries the signature key the directory lists for that device, its
credential names that user and device (`identity`), and its reference
matches.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from typing import TypeVar, cast

from calpico.mls.credentials import CredentialType
from calpico.mls.crypto import get_suite
from calpico.mls.errors import MLSError
from calpico.mls.group_context import ProtocolVersion
from calpico.mls.key_package import KEY_PACKAGE_REF_LABEL, KeyPackage, create_key_package
from calpico.mls.messages import MLSMessage
from calpico.mls.tree.nodes import Capabilities
from calpico.wire.accounts import DeviceInfo
from calpico.wire.directory import ClaimResponse, KeyPackageUploadResult

from .errors import CredentialMismatch
from .identity import DeviceIdentity
from .store import Identity, KeyPackageSecrets, Store
from .transport import Transport

T = TypeVar("T")

__all__ = [
    "CALPICO_SETTINGS_EXTENSION",
    "ClaimedKeyPackage",
    "KeyPackagePolicy",
    "KeyPackages",
    "check_key_package",
    "device_capabilities",
]

RETIRED_GRACE = 7 * 86_400.0

CALPICO_SETTINGS_EXTENSION = 0xF0CA
"""The private-use GroupContext extension holding a conversation's settings (`conversations.settings`)."""


def device_capabilities(cipher_suite: int) -> Capabilities:
    """The capabilities of every Calpico leaf: MLS 1.0, its suite, basic credentials, the settings extension.

    Groups list the settings extension in ``required_capabilities``, so a
    KeyPackage without it could not be added.
    """
    return Capabilities(
        versions=(ProtocolVersion.mls10,),
        cipher_suites=(cipher_suite,),
        extensions=(CALPICO_SETTINGS_EXTENSION,),
        credentials=(CredentialType.basic,),
    )


@dataclass(frozen=True, slots=True)
class KeyPackagePolicy:
    """How many KeyPackages to keep in the directory."""

    batch: int = 20
    low_water: int = 5
    lifetime: int = 90 * 86_400


@dataclass(frozen=True, slots=True)
class ClaimedKeyPackage:
    """A KeyPackage of another user's device, checked against the directory."""

    identity: DeviceIdentity
    key_package: KeyPackage
    ref: bytes
    last_resort: bool

    @property
    def encoded(self) -> bytes:
        """The MLSMessage(KeyPackage) encoding, as a commit's Add carries it."""
        return MLSMessage.of(self.key_package).encode()


def _decode_key_package(data: bytes) -> KeyPackage:
    try:
        message = MLSMessage.decode(data)
        if message.key_package is None:
            raise CredentialMismatch("the directory returned something other than a KeyPackage")
        return message.key_package
    except MLSError:
        pass
    try:
        return KeyPackage.decode(data)
    except MLSError as exc:
        raise CredentialMismatch(f"a claimed KeyPackage does not parse: {exc}") from exc


class KeyPackages:
    """Publishing, replenishing and claiming KeyPackages for one device."""

    def __init__(
        self,
        store: Store,
        transport: Transport,
        identity: Callable[[], Identity],
        policy: KeyPackagePolicy | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._transport = transport
        self._identity = identity
        self.policy = policy or KeyPackagePolicy()
        self._clock = clock

    def _make(self, last_resort: bool) -> KeyPackageSecrets:
        me = self._identity()
        if me.device_id is None:
            raise CredentialMismatch("this device has no device id yet")
        credential = DeviceIdentity(me.username, me.device_id).credential()
        now = self._clock()
        bundle = create_key_package(
            me.cipher_suite,
            credential,
            me.signature_private_key,
            capabilities=device_capabilities(me.cipher_suite),
            lifetime=self.policy.lifetime,
            now=int(now),
        )
        return KeyPackageSecrets(
            ref=bundle.ref(),
            key_package=bundle.key_package.encode(),
            init_private_key=bundle.init_private_key,
            encryption_private_key=bundle.encryption_private_key,
            last_resort=last_resort,
            created_at=now,
        )

    async def publish(self, count: int, last_resort: bool = False) -> KeyPackageUploadResult:
        """Make ``count`` KeyPackages (and a new last-resort one), keep their keys, upload them."""
        batch = [self._make(False) for _ in range(count)]
        last = self._make(True) if last_resort else None
        fresh = batch + ([last] if last is not None else [])
        async with self._store.transaction() as tx:
            for kp in fresh:
                tx.put_key_package(kp)
        try:
            result = await self._transport.upload_key_packages(
                [MLSMessage.of(KeyPackage.decode(kp.key_package)).encode() for kp in batch],
                MLSMessage.of(KeyPackage.decode(last.key_package)).encode() if last is not None else None,
            )
        except BaseException:
            async with self._store.transaction() as tx:
                for kp in fresh:
                    tx.delete_key_package(kp.ref)
            raise
        now = self._clock()
        previous = [kp for kp in await self._store.key_packages() if kp.last_resort and kp.retired_at is None]
        async with self._store.transaction() as tx:
            for kp in fresh:
                tx.put_key_package(replace(kp, uploaded=True))
            if last is not None:
                # The server retired the old last-resort package; keep its keys a while for Welcomes in flight.
                for old in previous:
                    if old.ref != last.ref:
                        tx.put_key_package(replace(old, retired_at=now))
            for old in await tx.key_packages():
                if old.retired_at is not None and old.retired_at < now - RETIRED_GRACE:
                    tx.delete_key_package(old.ref)
        return result

    async def replenish(self) -> int:
        """Top up the directory if it runs low; return how many KeyPackages were uploaded."""
        count = await self._transport.key_package_count()
        missing = self.policy.batch - count.available if count.available < self.policy.low_water else 0
        if missing <= 0 and count.has_last_resort:
            return 0
        await self.publish(max(0, missing), last_resort=not count.has_last_resort)
        return max(0, missing) + (0 if count.has_last_resort else 1)

    async def take(self, ref: bytes) -> KeyPackageSecrets | None:
        """The private keys for one of our KeyPackages (a Welcome names it by ref)."""
        return await self._store.key_package(ref)

    async def claim(self, username: str, device_id: str | None = None) -> list[ClaimedKeyPackage]:
        """One checked KeyPackage per person device of ``username``, or of their device ``device_id`` only.

        See the module docstring; an assistant device is claimed only by naming it.

        Raises `NoKeyPackages`, `Blocked`, `ContactsOnly`, `RateLimited`
        from the server, `CredentialMismatch` if any KeyPackage fails a check.
        """
        # The claim and the directory lookup are independent: one round trip instead of two.
        answers: list[object] = await gather_bounded(
            [
                lambda: self._transport.claim_key_packages(username, device_id),
                lambda: self._transport.user_devices(username),
            ],
            2,
        )
        found = cast(ClaimResponse, answers[0])
        directory = {d.device_id: d for d in cast(list[DeviceInfo], answers[1])}
        checked = []
        for entry in found.key_packages:
            if device_id is not None and entry.device_id != device_id:
                raise CredentialMismatch(f"asked for {username}'s device {device_id}, got {entry.device_id}")
            device = directory.get(entry.device_id)
            if device is None:
                raise CredentialMismatch(f"{username}'s device {entry.device_id} is not in the directory")
            kp = _decode_key_package(entry.key_package)
            identity = check_key_package(kp, username, entry.device_id, device.signature_key)
            try:
                ref = get_suite(kp.cipher_suite).ref_hash(KEY_PACKAGE_REF_LABEL, kp.encode())
            except MLSError as exc:
                raise CredentialMismatch(f"a KeyPackage of {username} uses an unsupported suite: {exc}") from exc
            if ref != entry.key_package_ref:
                raise CredentialMismatch(f"the directory's reference for {identity}'s KeyPackage is wrong")
            checked.append(ClaimedKeyPackage(identity, kp, ref, entry.last_resort))
        return checked


async def gather_bounded(calls: Sequence[Callable[[], Awaitable[T]]], limit: int) -> list[T]:
    """Run ``calls`` with at most ``limit`` at once; their results in order.

    The first failure cancels the rest and is raised as it is (not as an exception group).
    """
    gate = asyncio.Semaphore(limit)

    async def one(call: Callable[[], Awaitable[T]]) -> T:
        async with gate:
            return await call()

    tasks = [asyncio.ensure_future(one(call)) for call in calls]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


def check_key_package(kp: KeyPackage, username: str, device_id: str, signature_key: bytes) -> DeviceIdentity:
    """Check that ``kp`` is a valid KeyPackage of ``username``'s device ``device_id`` with ``signature_key``.

    Raises `CredentialMismatch` naming the first check that fails.
    """
    leaf = kp.leaf_node
    identity = DeviceIdentity.from_credential(leaf.credential)
    if identity != DeviceIdentity(username, device_id):
        raise CredentialMismatch(f"a KeyPackage of {username}:{device_id} names {identity} instead")
    if leaf.signature_key != signature_key:
        raise CredentialMismatch(f"{identity}'s KeyPackage is signed with a key the directory does not list")
    try:
        suite = get_suite(kp.cipher_suite)
        suite.verify_with_label(leaf.signature_key, b"LeafNodeTBS", leaf.tbs().encode(), leaf.signature)
        suite.verify_with_label(leaf.signature_key, b"KeyPackageTBS", kp.tbs().encode(), kp.signature)
    except MLSError as exc:
        raise CredentialMismatch(f"{identity}'s KeyPackage does not verify: {exc}") from exc
    return identity
