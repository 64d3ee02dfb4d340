"""Assistant cards and membership as every member sees them: notices, forgeries, room policy, approval."""

from __future__ import annotations

import pytest

from calpico.client.errors import NotPermitted
from calpico.client.events import (
    AssistantApprovalRequested,
    AssistantCardChanged,
    AssistantCardRejected,
    AssistantRemoved,
    ContactKeysChanged,
    MemberJoined,
    MessageReceived,
)
from calpico.wire.app import AssistantCard, AssistantPolicy, decode_app_message

from .conftest import Helpers, marked
from .test_runtime import final_reply, room_with


async def test_rename_and_personality_reach_every_member_with_a_notice(helpers: Helpers) -> None:
    bob, carol = await helpers.people.person("bob"), await helpers.people.person("carol")
    alice, pico, room = await room_with(helpers, bob, carol)
    await pico.manager.rename(None, "Nova")
    for member in (bob, carol, pico.device):
        notice = await member.wait(AssistantCardChanged, lambda e: e.conversation_id == room and e.card.name == "Nova")
        assert notice.changed == ("name",) and notice.card.revision == 2 and notice.owner == alice.name
    [shown] = await carol.chats.assistants(room)
    assert shown.display_name == f"Nova ({alice.name}'s assistant)"
    await pico.manager.set_personality(None, "speaks like a pirate")
    for member in (bob, carol):
        notice = await member.wait(AssistantCardChanged, lambda e: e.conversation_id == room and e.card.revision == 3)
        assert notice.changed == ("personality",)
    # The card shows in the conversation's history too (a stored message everyone has).
    cards = [decode_app_message(m.content) for m in await bob.chats.messages(room, limit=100)]
    assert [c.revision for c in cards if isinstance(c, AssistantCard)] == [1, 2, 3]
    # And the assistant itself now answers as Nova, in character.
    await pico.runtime.settled()
    await bob.chats.send_text(room, marked("@Nova ahoy?"))
    await final_reply(bob, room)
    prompt = helpers.llm.chats()[-1]
    assert "You are Nova" in prompt.system and "speaks like a pirate" in prompt.system


async def test_forged_cards_are_rejected_by_the_other_members(helpers: Helpers) -> None:
    bob = await helpers.people.person("bob")
    alice, pico, room = await room_with(helpers, bob)
    genuine = (await pico.manager.get()).signed_card

    # 1. The assistant device signs its own card (a compromised host renaming itself): not signed by its owner.
    forged = pico.device.chats.sign_assistant_card(genuine.model_copy(update={"name": "Mallory", "revision": 9}))
    await pico.device.chats.send(room, forged.model_copy(update={"id": "forged1"}))
    rejected = await bob.wait(AssistantCardRejected, lambda e: e.conversation_id == room)
    assert rejected.sender == alice.name and "not signed by a device of" in rejected.reason

    # 2. Bob claims to speak for Alice's assistant.
    fake = bob.chats.sign_assistant_card(genuine.model_copy(update={"name": "Helpful", "revision": 10}))
    await bob.chats.send(room, fake.model_copy(update={"id": "forged2"}))
    rejected = await alice.wait(AssistantCardRejected, lambda e: e.conversation_id == room and e.sender == bob.name)
    assert "card for" in rejected.reason

    # 3. A genuine signature, but the card tampered with afterwards (the assistant's key swapped).
    tampered = genuine.model_copy(update={"id": "forged3", "assistant_key": b"\x07" * 32})
    await pico.device.chats.send(room, tampered)
    await bob.wait(AssistantCardRejected, lambda e: e.conversation_id == room and "key" in e.reason)

    # 4. A replay of an older card after a rename.
    await pico.manager.rename(None, "Nova")
    await bob.wait(AssistantCardChanged, lambda e: e.conversation_id == room and e.card.name == "Nova")
    await pico.device.chats.send(room, genuine.model_copy(update={"id": "replay4"}))
    await bob.wait(AssistantCardRejected, lambda e: e.conversation_id == room and "older" in e.reason)

    [shown] = await bob.chats.assistants(room)
    assert shown.display_name == f"Nova ({alice.name}'s assistant)"
    assert {c.card.name for c in bob.events(AssistantCardChanged)} == {"Pico", "Nova"}


async def test_an_assistant_is_not_one_of_its_owners_devices(helpers: Helpers) -> None:
    alice, bob = await helpers.people.person("alice"), await helpers.people.person("bob")
    await alice.chats.start_dm(bob.name)
    before = await bob.chats.safety_number(alice.name)
    pico, _ = await helpers.assistant(alice, "Pico")
    # Bob adds Alice to a room: her devices come along, her assistant does not.
    room = await bob.chats.create_room("bobs", [alice.name])
    people = {p.username: p for p in await bob.chats.members(room.id)}
    assert pico.device_id not in people[alice.name].device_ids and people[alice.name].assistants == ()
    assert await bob.chats.assistants(room.id) == []
    # Her safety number does not change because she made an assistant.
    assert await bob.chats.safety_number(alice.name) == before
    # Added without a card, it shows as unverified — never under a name it picked.
    await alice.chats.add_assistant(room.id, pico.device_id)
    joined = await bob.wait(MemberJoined, lambda e: e.conversation_id == room.id and e.assistant)
    assert joined.device_id == pico.device_id
    assert not [e for e in bob.events(ContactKeysChanged) if e.username == alice.name]
    members = await bob.chats.assistants(room.id)
    if not members[0].verified:  # its runtime may already have posted its card
        assert members[0].display_name == f"{alice.name}'s assistant (unverified)"
    await bob.wait(
        AssistantCardChanged, lambda e: e.conversation_id == room.id
    )  # the assistant shows its card on joining
    [member] = await bob.chats.assistants(room.id)
    assert member.verified and member.display_name == f"Pico ({alice.name}'s assistant)"


async def test_room_policy_forbids_assistants_or_requires_an_admin(helpers: Helpers) -> None:
    alice, bob = await helpers.people.person("alice"), await helpers.people.person("bob")
    pico, _ = await helpers.assistant(alice, "Pico")
    closed = await bob.chats.create_room("no bots", [alice.name], assistant_policy=AssistantPolicy.NONE)
    await alice.chats.accept(closed.id)
    with pytest.raises(NotPermitted):
        await pico.manager.add(closed.id)

    room = await bob.chats.create_room("approved", [alice.name], assistant_approval=True)
    assert (await alice.chats.settings(room.id)).assistant_approval
    assert await pico.manager.add(room.id) is False  # asked the admins instead
    asked = await bob.wait(AssistantApprovalRequested, lambda e: e.conversation_id == room.id)
    assert (asked.owner, asked.device_id, asked.card.name) == (alice.name, pico.device_id, "Pico")
    assert await bob.chats.assistants(room.id) == []
    assert await bob.chats.approve_assistant(room.id, asked.owner, asked.device_id)
    await alice.wait(MemberJoined, lambda e: e.conversation_id == room.id and e.assistant and e.by == bob.name)
    await pico.manager.activate(room.id)
    await bob.wait(AssistantCardChanged, lambda e: e.conversation_id == room.id)
    await pico.device.wait(
        MessageReceived, lambda e: e.conversation_id == room.id and e.message.sender_user == alice.name
    )
    await pico.runtime.settled()
    await bob.chats.send_text(room.id, marked("@Pico welcome"))
    reply = await final_reply(bob, room.id)
    assert reply.ai_generated

    # Forbidding assistants later removes the ones present.
    await bob.chats.set_assistant_policy(room.id, AssistantPolicy.NONE)
    gone = await alice.wait(AssistantRemoved, lambda e: e.conversation_id == room.id)
    assert (gone.owner, gone.device_id, gone.by) == (alice.name, pico.device_id, bob.name)
    assert await alice.chats.assistants(room.id) == []
