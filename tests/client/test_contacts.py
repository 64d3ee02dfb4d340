"""Contacts against the real server: blocking, contact policy, requests, key changes, safety numbers."""

from __future__ import annotations

from pathlib import Path

import pytest

from calpico.client.account import Account
from calpico.client.errors import Blocked, ContactsOnly, CredentialMismatch, UsageError
from calpico.client.store import ContactState, Passphrase
from calpico.client.verification import format_safety_number
from calpico.wire.directory import ContactPolicy

from .conftest import FAST_KDF, MakeAccount
from .server import ThreadServer


async def test_block_and_unblock(make_account: MakeAccount) -> None:
    alice, bob = await make_account(), await make_account()
    blocked = await alice.contacts.block(bob.username)
    assert blocked.state is ContactState.BLOCKED and await alice.contacts.is_blocked(bob.username)
    assert await alice.transport.blocks() == [bob.username]
    with pytest.raises(Blocked) as info:
        await bob.key_packages.claim(alice.username)
    assert str(info.value) == "server refused (blocked): this user does not accept requests from you"
    unblocked = await alice.contacts.unblock(bob.username)
    assert unblocked.state is ContactState.NONE
    assert len(await bob.key_packages.claim(alice.username)) == 1
    with pytest.raises(UsageError):
        await alice.contacts.block(alice.username)


async def test_contacts_only_policy_and_accepting(make_account: MakeAccount) -> None:
    alice, bob = await make_account(), await make_account()
    await alice.contacts.set_policy(ContactPolicy.CONTACTS)
    assert await alice.contacts.policy() is ContactPolicy.CONTACTS
    with pytest.raises(ContactsOnly):
        await bob.key_packages.claim(alice.username)
    accepted = await alice.contacts.accept(bob.username)
    assert accepted.state is ContactState.ACCEPTED
    assert [c.username for c in await alice.contacts.all(ContactState.ACCEPTED)] == [bob.username]
    assert len(await bob.key_packages.claim(alice.username)) == 1
    # Unblocking someone who is a contact gives them back their accepted state.
    await alice.contacts.block(bob.username)
    assert (await alice.contacts.unblock(bob.username)).state is ContactState.ACCEPTED
    await alice.contacts.remove(bob.username)
    with pytest.raises(ContactsOnly):
        await bob.key_packages.claim(alice.username)


async def test_requests_are_recorded_without_overriding_a_decision(make_account: MakeAccount) -> None:
    alice, bob, carol = await make_account(), await make_account(), await make_account()
    assert (await alice.contacts.note_request(bob.username)).state is ContactState.REQUEST
    await alice.contacts.block(carol.username)
    assert (await alice.contacts.note_request(carol.username)).state is ContactState.BLOCKED
    assert [c.username for c in await alice.contacts.all(ContactState.REQUEST)] == [bob.username]


async def test_a_block_made_on_another_device_is_synced(
    make_account: MakeAccount, server: ThreadServer, tmp_path: Path
) -> None:
    alice, bob, carol = await make_account(), await make_account(), await make_account()
    phone = await Account.prepare_device(server.url, alice.username, tmp_path / "p.db", Passphrase("pw", FAST_KDF))
    try:
        await phone.activate((await alice.add_device(phone.signature_public_key, phone.cipher_suite)).device_id)
        await phone.contacts.block(bob.username)
        await phone.contacts.accept(carol.username)
        await alice.contacts.sync()
        states = {c.username: c.state for c in await alice.contacts.all()}
        assert states == {bob.username: ContactState.BLOCKED, carol.username: ContactState.ACCEPTED}
        await phone.contacts.unblock(bob.username)
        await alice.contacts.sync()
        assert (await alice.contacts.get(bob.username)).state is ContactState.NONE  # type: ignore[union-attr]
    finally:
        await phone.close()


async def test_safety_numbers_match_on_both_sides_and_change_with_keys(
    make_account: MakeAccount, server: ThreadServer, tmp_path: Path
) -> None:
    alice, bob = await make_account(), await make_account()
    first = await alice.contacts.check_keys(bob.username)
    assert not first.their_keys_changed and not first.number_changed  # first sight: recorded only
    number = await alice.contacts.safety_number(bob.username)
    assert number == await bob.contacts.safety_number(alice.username)
    assert len(number) == 60 and number.isdigit()
    assert len(format_safety_number(number).split()) == 12
    with pytest.raises(CredentialMismatch):
        await alice.contacts.mark_verified(bob.username, "0" * 60)
    verified = await alice.contacts.mark_verified(bob.username, format_safety_number(number))
    assert verified.verified
    # Bob adds a device: his keys changed, the number changed, the verification is gone.
    phone = await Account.prepare_device(server.url, bob.username, tmp_path / "b.db", Passphrase("pw", FAST_KDF))
    try:
        info = await bob.add_device(phone.signature_public_key, phone.cipher_suite)
        check = await alice.contacts.check_keys(bob.username)
        assert check.their_keys_changed and check.added == (info.device_id,)
        assert check.number_changed and check.was_verified and not check.contact.verified
        assert check.contact.keys_changed_at is not None
        assert {d.device_id for d in check.contact.devices} == {bob.device_id, info.device_id}
        assert await bob.contacts.safety_number(alice.username) == check.contact.safety_number
        await bob.revoke_device(info.device_id)
        again = await alice.contacts.check_keys(bob.username)
        assert again.removed == (info.device_id,)
    finally:
        await phone.close()
