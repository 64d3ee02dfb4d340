"""Accounts against the real server: create, open again, devices (list, add/link, revoke)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from calpico.client.account import Account
from calpico.client.errors import (
    AccountExists,
    CredentialMismatch,
    NoAccount,
    NotFound,
    Offline,
    Unauthorized,
    UsageError,
    UsernameTaken,
    WrongPassphrase,
)
from calpico.client.identity import DeviceIdentity
from calpico.client.store import IdentityStatus, Passphrase, Store
from calpico.mls.credentials import Credential
from calpico.mls.key_package import KeyPackage

from .conftest import FAST_KDF, QUICK_RETRY, SMALL_BATCH, MakeAccount, new_username
from .server import ThreadServer


async def test_create_registers_logs_in_and_publishes_key_packages(make_account: MakeAccount) -> None:
    alice = await make_account(device_name="laptop")
    assert alice.is_active and alice.identity.server_name == "test.calpico"
    [device] = await alice.devices()
    assert (device.device_id, device.username, device.name) == (alice.device_id, alice.username, "laptop")
    assert device.signature_key == alice.signature_public_key
    count = await alice.transport.key_package_count()
    assert count.available == SMALL_BATCH.batch and count.has_last_resort
    kept = await alice.store.key_packages()
    assert len(kept) == SMALL_BATCH.batch + 1 and all(kp.uploaded for kp in kept)
    assert sum(kp.last_resort for kp in kept) == 1
    # Every KeyPackage names this device in its credential.
    kp = KeyPackage.decode(kept[0].key_package)
    assert kp.leaf_node.credential == Credential.basic(f"{alice.username}:{alice.device_id}".encode())
    assert alice.device_identity == DeviceIdentity(alice.username, alice.device_id)


async def test_open_again_from_the_store(make_account: MakeAccount, server: ThreadServer, tmp_path: Path) -> None:
    name = new_username()
    path = tmp_path / "device.db"
    first = await Account.create(server.url, name, path, Passphrase("pw", FAST_KDF), retry=QUICK_RETRY)
    device_id = first.device_id
    await first.close()
    async with await Account.open(path, Passphrase("pw"), retry=QUICK_RETRY) as again:
        assert (again.username, again.device_id, again.identity.server_url) == (name, device_id, server.url)
        assert [d.device_id for d in await again.devices()] == [device_id]  # logs in by itself
    with pytest.raises(WrongPassphrase):
        await Account.open(path, Passphrase("not it"))
    with pytest.raises(AccountExists):
        await Account.create(server.url, new_username(), path, Passphrase("pw", FAST_KDF))


async def test_a_failed_registration_leaves_no_store(
    make_account: MakeAccount, server: ThreadServer, tmp_path: Path
) -> None:
    taken = await make_account()
    path = tmp_path / "second.db"
    with pytest.raises(UsernameTaken) as info:
        await Account.create(server.url, taken.username, path, Passphrase("pw", FAST_KDF))
    assert str(info.value).startswith("server refused (username_taken)")
    assert not path.exists()
    with pytest.raises(Offline):
        await Account.create("http://127.0.0.1:9", new_username(), path, Passphrase("pw", FAST_KDF), retry=QUICK_RETRY)
    assert not path.exists()


async def test_an_unfinished_registration_is_not_an_account(tmp_path: Path) -> None:
    path = tmp_path / "device.db"
    await (await Store.create(path, Passphrase("pw", FAST_KDF))).close()
    with pytest.raises(NoAccount):
        await Account.open(path, Passphrase("pw"))


async def test_link_a_second_device_then_revoke_it(
    make_account: MakeAccount, server: ThreadServer, tmp_path: Path
) -> None:
    alice = await make_account()
    phone = await Account.prepare_device(
        server.url, alice.username, tmp_path / "phone.db", Passphrase("pw", FAST_KDF), key_package_policy=SMALL_BATCH
    )
    try:
        assert phone.identity.status is IdentityStatus.PENDING_LINK and not phone.is_active
        with pytest.raises(UsageError):
            _ = phone.device_id
        info = await alice.add_device(phone.signature_public_key, phone.cipher_suite, "phone")
        await phone.activate(info.device_id)
        assert phone.is_active and phone.device_id == info.device_id
        assert {d.device_id for d in await phone.devices()} == {alice.device_id, phone.device_id}
        assert (await phone.transport.key_package_count()).available == SMALL_BATCH.batch
        with pytest.raises(UsageError):
            await phone.activate(info.device_id)
        # The phone is revoked from the laptop: it can no longer log in.
        await alice.revoke_device(phone.device_id)
        assert [d.device_id for d in await alice.devices()] == [alice.device_id]
        phone.transport.invalidate_token()
        with pytest.raises((Unauthorized, NotFound)):
            await phone.devices()
    finally:
        await phone.close()


async def test_activation_with_someone_elses_device_id_is_refused(
    make_account: MakeAccount, server: ThreadServer, tmp_path: Path
) -> None:
    alice = await make_account()
    impostor = await Account.prepare_device(server.url, alice.username, tmp_path / "x.db", Passphrase("pw", FAST_KDF))
    try:
        # The server has this id with Alice's laptop key, not the impostor's: the signed challenge fails.
        with pytest.raises(Unauthorized):
            await impostor.activate(alice.device_id)
        # Registered under another user's account: the login says whose device it is.
        bob = await make_account()
        info = await bob.add_device(impostor.signature_public_key, impostor.cipher_suite)
        with pytest.raises(CredentialMismatch):
            await impostor.activate(info.device_id)
    finally:
        await impostor.close()


async def test_revoking_this_device_marks_it_revoked(make_account: MakeAccount) -> None:
    alice = await make_account()
    await alice.revoke_device(alice.device_id)
    assert alice.identity.status is IdentityStatus.REVOKED
    stored = await alice.store.identity()
    assert stored is not None and stored.status is IdentityStatus.REVOKED


async def test_an_account_whose_first_login_failed_still_opens_and_pins_later(
    server: ThreadServer, tmp_path: Path
) -> None:
    async def no_login(request: httpx.Request) -> None:
        if request.url.path == "/v1/auth/challenge":
            raise httpx.ConnectError("network went away", request=request)

    http = httpx.AsyncClient(base_url=server.url, event_hooks={"request": [no_login]})
    path = tmp_path / "device.db"
    name = new_username()
    with pytest.raises(Offline):
        await Account.create(server.url, name, path, Passphrase("pw", FAST_KDF), http=http, retry=QUICK_RETRY)
    await http.aclose()
    # The server registered the account: the store knows the device, so nothing is lost.
    async with await Account.open(path, Passphrase("pw"), key_package_policy=SMALL_BATCH) as again:
        assert again.identity.server_name is None and again.is_active
        assert await again.key_packages.replenish() == SMALL_BATCH.batch + 1  # nothing was published yet
    async with await Account.open(path, Passphrase("pw")) as third:
        assert third.identity.server_name == "test.calpico"  # pinned at that first successful login
