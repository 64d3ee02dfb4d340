"""End to end: three people and two assistants (each owner's own) in one room, and an away auto-reply in a DM.

Alice's Pico and Bob's Nova join the room "trip" with Carol. Carol asks
both; each answers as itself, streamed and marked AI-generated; each sees
the other's answer labelled as the other owner's assistant; each one's card
is shown to everyone. Then Alice turns on away replies: when Carol writes
to Alice directly, Pico answers on Alice's behalf, labelled as such. Every
text carries the server-scan marker: the server never holds one in clear.
"""

from __future__ import annotations

from calpico.client.events import (
    AssistantCardChanged,
    ConversationAdded,
    MessageEdited,
    MessageReceived,
)
from calpico.client.store import Message
from calpico.wire.app import AssistantReply, Mention, decode_app_message

from ..client.conversations.conftest import Device
from .conftest import Helper, Helpers, marked
from .test_runtime import final_reply


def _final_from(device: Device, conversation_id: str, sender_device: str) -> list[AssistantReply]:
    out = []
    for event in device.seen:
        if isinstance(event, MessageReceived | MessageEdited) and event.conversation_id == conversation_id:
            message: Message = event.message
            content = decode_app_message(message.content)
            if isinstance(content, AssistantReply) and content.final and message.sender_device == sender_device:
                out.append(content)
    return out


async def _wait_final(device: Device, conversation_id: str, helper: Helper) -> AssistantReply:
    def done(event: MessageReceived | MessageEdited) -> bool:
        content = decode_app_message(event.message.content)
        return (
            event.conversation_id == conversation_id
            and event.message.sender_device == helper.device_id
            and isinstance(content, AssistantReply)
            and content.final
        )

    event = await device.wait((MessageReceived, MessageEdited), done)  # type: ignore[arg-type]
    content = decode_app_message(event.message.content)
    assert isinstance(content, AssistantReply)
    return content


async def test_three_people_two_assistants_and_an_away_reply(helpers: Helpers) -> None:
    alice, bob, carol = [await helpers.people.person(n) for n in ("alice", "bob", "carol")]
    pico, _ = await helpers.assistant(alice, "Pico", personality="cheerful")
    nova, _ = await helpers.assistant(bob, "Nova", personality="precise")
    await bob.chats.start_dm(alice.name)  # Alice and Bob know each other
    room = await alice.chats.create_room("trip", [bob.name, carol.name], admins=[bob.name])
    await bob.wait(ConversationAdded, lambda e: e.conversation.id == room.id)
    assert await pico.manager.add(room.id)
    assert await nova.manager.add(room.id)
    for member in (alice, bob, carol):
        for owner in (alice.name, bob.name):
            await member.wait(AssistantCardChanged, lambda e, o=owner: e.conversation_id == room.id and e.owner == o)
        shown = {a.display_name for a in await member.chats.assistants(room.id)}
        assert shown == {f"Pico ({alice.name}'s assistant)", f"Nova ({bob.name}'s assistant)"}
    await pico.runtime.settled()
    await nova.runtime.settled()

    await carol.chats.send_text(room.id, marked("@Pico where should we go?"))
    from_pico = await _wait_final(carol, room.id, pico)
    await carol.chats.send_text(
        room.id, marked("and you, what do you say?"), mentions=[Mention(username=bob.name, device_id=nova.device_id)]
    )
    from_nova = await _wait_final(carol, room.id, nova)
    assert from_pico.ai_generated and from_nova.ai_generated
    for member in (alice, bob):
        await _wait_final(member, room.id, pico)
        await _wait_final(member, room.id, nova)
    # Each answered exactly once, as itself; Nova's prompt shows Pico's answer labelled as Alice's AI.
    assert len(_final_from(carol, room.id, pico.device_id)) == 1
    assert len(_final_from(carol, room.id, nova.device_id)) == 1
    nova_prompt = next(r for r in reversed(helpers.llm.chats()) if "You are Nova" in r.system)
    assert f"[Pico ({alice.name}'s assistant), AI]: " in nova_prompt.text
    assert "precise" in nova_prompt.system and "cheerful" not in nova_prompt.system

    # Away: Pico answers Carol's DM to Alice on Alice's behalf, each reply labelled.
    dm = await carol.chats.start_dm(alice.name)
    await alice.wait(ConversationAdded, lambda e: e.conversation.id == dm.id)  # Carol is a contact by now
    assert await pico.manager.add(dm.id)
    assert await pico.manager.set_away(None, True, "hiking until Sunday") == 1
    await carol.wait(AssistantCardChanged, lambda e: e.conversation_id == dm.id)
    await pico.device.wait(
        MessageReceived, lambda e: e.conversation_id == dm.id and e.message.sender_user == alice.name
    )
    await pico.runtime.settled()
    await carol.chats.send_text(dm.id, marked("are you coming on Friday?"))
    away = await final_reply(carol, dm.id)
    assert away.away and away.ai_generated
    prompt = helpers.llm.chats()[-1]
    assert "is away (hiking until Sunday)" in prompt.system and marked("are you coming on Friday?") in prompt.text
