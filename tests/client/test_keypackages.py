"""KeyPackages against the real server: replenishing after claims, last resort, checking what we claim."""

from __future__ import annotations

import asyncio
from functools import partial

import pytest

from calpico.client.errors import Blocked, CredentialMismatch, NoKeyPackages
from calpico.client.identity import DeviceIdentity
from calpico.client.keypackages import gather_bounded
from calpico.mls.credentials import Credential
from calpico.mls.key_package import create_key_package
from calpico.mls.messages import MLSMessage
from calpico.wire.common import ErrorCode

from ..server import mls_messages as mls
from .conftest import SMALL_BATCH, MakeAccount


async def test_claims_are_checked_and_the_batch_is_replenished(make_account: MakeAccount) -> None:
    alice, bob = await make_account(), await make_account()
    claimed = []
    for _ in range(SMALL_BATCH.batch - 1):
        [kp] = await bob.key_packages.claim(alice.username)
        claimed.append(kp)
    assert {kp.identity for kp in claimed} == {DeviceIdentity(alice.username, alice.device_id)}
    assert not any(kp.last_resort for kp in claimed)
    # Alice keeps the private keys of every KeyPackage she published, by reference.
    for kp in claimed:
        secrets = await alice.key_packages.take(kp.ref)
        assert secrets is not None and secrets.key_package == kp.key_package.encode()
    assert (await alice.transport.key_package_count()).available == 1
    assert await alice.key_packages.replenish() == SMALL_BATCH.batch - 1
    assert (await alice.transport.key_package_count()).available == SMALL_BATCH.batch
    assert await alice.key_packages.replenish() == 0  # above the low-water mark: nothing to do


async def test_the_last_resort_package_is_handed_out_when_the_batch_is_gone(make_account: MakeAccount) -> None:
    alice, bob = await make_account(), await make_account()
    for _ in range(SMALL_BATCH.batch):
        await bob.key_packages.claim(alice.username)
    first, second = [await bob.key_packages.claim(alice.username) for _ in range(2)]
    assert first[0].last_resort and second[0].last_resort and first[0].ref == second[0].ref
    kept = await alice.key_packages.take(first[0].ref)
    assert kept is not None and kept.last_resort


async def test_a_new_last_resort_package_retires_the_old_one_but_keeps_its_keys(make_account: MakeAccount) -> None:
    alice = await make_account()
    [old] = [kp for kp in await alice.store.key_packages() if kp.last_resort]
    await alice.key_packages.publish(0, last_resort=True)
    lasts = [kp for kp in await alice.store.key_packages() if kp.last_resort]
    assert len(lasts) == 2
    retired = next(kp for kp in lasts if kp.ref == old.ref)
    assert retired.retired_at is not None  # kept for Welcomes already on their way


async def test_a_user_without_key_packages(make_account: MakeAccount) -> None:
    alice, bob = await make_account(), await make_account()
    await alice.revoke_device(alice.device_id)
    with pytest.raises(NoKeyPackages):
        await bob.key_packages.claim(alice.username)


async def test_a_key_package_naming_another_device_is_refused(make_account: MakeAccount) -> None:
    mallory, bob = await make_account(), await make_account()
    key = mallory.identity.signature_private_key
    # Signed properly with Mallory's own key, but its credential claims to be Bob's device.
    forged = create_key_package(1, Credential.basic(f"{bob.username}:{bob.device_id}".encode()), key)
    await mallory.transport.upload_key_packages([MLSMessage.of(forged.key_package).encode()] * 1)
    for _ in range(SMALL_BATCH.batch):
        await bob.transport.claim_key_packages(mallory.username)  # use up the honest ones
    with pytest.raises(CredentialMismatch) as info:
        await bob.key_packages.claim(mallory.username)
    assert f"names {bob.username}:{bob.device_id}" in str(info.value)


async def test_a_key_package_with_a_bad_signature_is_refused(make_account: MakeAccount) -> None:
    mallory, bob = await make_account(), await make_account()
    keys = mls.DeviceKeys(bytes(mallory.identity.signature_private_key), mallory.signature_public_key)
    # The server checks only that the leaf carries the device's key; the signatures here are dummies.
    bogus = mls.key_package(keys, f"{mallory.username}:{mallory.device_id}".encode())
    await mallory.transport.upload_key_packages([bogus])
    for _ in range(SMALL_BATCH.batch):
        await bob.transport.claim_key_packages(mallory.username)
    with pytest.raises(CredentialMismatch) as info:
        await bob.key_packages.claim(mallory.username)
    assert "does not verify" in str(info.value)


async def test_gather_bounded_keeps_order_and_bound_and_raises_the_first_failure() -> None:
    running = peak = 0

    async def job(i: int) -> int:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.001 * (5 - i % 5))
        running -= 1
        return i

    assert await gather_bounded([partial(job, i) for i in range(20)], 3) == list(range(20))
    assert peak == 3

    cancelled: list[int] = []

    async def slow(i: int) -> int:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            cancelled.append(i)
            raise
        return i

    async def refused() -> int:
        raise Blocked("the target blocked you", status=403, code=ErrorCode.BLOCKED)

    with pytest.raises(Blocked):
        await gather_bounded([partial(slow, 0), refused, partial(slow, 2)], 3)
    assert sorted(cancelled) == [0, 2]
