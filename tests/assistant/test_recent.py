"""The assistant follows a conversation's latest messages in memory: prompts stay what the store holds.

Against the real server and the local OpenAI-compatible server: after the
first reply, later prompts are built without reading the store, yet they
hold new messages, edits, the assistant's own streamed replies (whole),
and lose deleted messages. And a reply's first part goes out at its first
token, whatever the update interval.
"""

from __future__ import annotations

import dataclasses

from calpico.client.events import AssistantCardChanged, MessageDeleted, MessageEdited, MessageReceived
from calpico.wire.app import AssistantReply, decode_app_message

from ..client.conversations.conftest import Device
from .conftest import FAST, Helpers, marked
from .test_runtime import handled, room_with


async def answer_to(device: Device, conversation_id: str, message_id: str) -> AssistantReply:
    """The final reply (whole, or the last streamed part) to one message, as ``device`` shows it."""

    def final(event: MessageReceived | MessageEdited) -> bool:
        content = decode_app_message(event.message.content)
        return (
            event.conversation_id == conversation_id
            and isinstance(content, AssistantReply)
            and content.final
            and content.reply_to == message_id
        )

    event = await device.wait((MessageReceived, MessageEdited), final)  # type: ignore[arg-type]
    reply = decode_app_message(event.message.content)
    assert isinstance(reply, AssistantReply)
    return reply


async def test_prompts_follow_new_edited_and_deleted_messages_without_store_reads(helpers: Helpers) -> None:
    bob = await helpers.people.person("bob")
    _alice, pico, room = await room_with(helpers, bob)
    asked = await bob.chats.send_text(room, marked("@Pico first question"))
    first = await answer_to(bob, room, asked.message_id)
    await pico.runtime.settled()
    reads = pico.runtime.recent.reads

    typo = await bob.chats.send_text(room, marked("we leave on Fridy"))
    await handled(pico, typo)
    await bob.chats.edit(room, typo.message_id, marked("we leave on Friday"))
    await pico.device.wait(MessageEdited, lambda e: e.message.message_id == typo.message_id)
    secret = await bob.chats.send_text(room, marked("my old door code is 4711"))
    await handled(pico, secret)
    await bob.chats.delete(room, secret.message_id)
    await pico.device.wait(MessageDeleted, lambda e: e.message_id == secret.message_id)
    await pico.runtime.settled()
    again = await bob.chats.send_text(room, marked("@Pico second question"))
    await answer_to(bob, room, again.message_id)
    await pico.runtime.settled()

    prompt = helpers.llm.chats()[-1]
    assert marked("@Pico second question") in prompt.text
    assert marked("we leave on Friday") in prompt.text and "Fridy" not in prompt.text
    assert "4711" not in prompt.text  # deleted for everyone: gone from the next prompt
    # its own earlier reply is an assistant turn with the whole streamed text, not only the first part
    assert {"role": "assistant", "content": first.body} in prompt.messages
    # the deletion made it read the store once more; the new messages and the edit did not
    assert pico.runtime.recent.reads == reads + 1


async def test_mentions_read_nothing_from_the_store(helpers: Helpers) -> None:
    bob = await helpers.people.person("bob")
    _alice, pico, room = await room_with(helpers, bob)
    plain = await bob.chats.send_text(room, marked("anyone up for a hike?"))
    await handled(pico, plain)  # not for it, but it reads the conversation ahead, while nobody waits
    assert pico.runtime.recent.following(room) and pico.runtime.recent.reads == 1
    for i in range(3):
        asked = await bob.chats.send_text(room, marked(f"@Pico question {i}"))
        await answer_to(bob, room, asked.message_id)
        await pico.runtime.settled()
    assert pico.runtime.recent.reads == 1
    last = helpers.llm.chats()[-1]
    said = "\n".join(m["content"] for m in last.messages if m["role"] == "user")
    assert [marked(f"@Pico question {i}") in said for i in range(3)] == [True, True, True]
    assert len([m for m in last.messages if m["role"] == "assistant"]) == 2


async def test_the_first_token_goes_out_at_once_and_later_parts_wait_for_the_interval(helpers: Helpers) -> None:
    bob = await helpers.people.person("bob")
    alice = await helpers.people.person("alice")
    slow = dataclasses.replace(FAST, update_interval=600.0)  # updates at most every ten minutes
    pico, _ = await helpers.assistant(alice, "Pico", options=slow)
    room = await alice.chats.create_room("slow", [bob.name])
    assert await pico.manager.add(room.id)
    await bob.wait(AssistantCardChanged, lambda e: e.conversation_id == room.id)
    await pico.runtime.settled()
    asked = await bob.chats.send_text(room.id, marked("@Pico quick question"))
    final = await answer_to(bob, room.id, asked.message_id)  # well within the test's wait, not ten minutes
    parts = [
        e
        for e in bob.seen
        if isinstance(e, MessageReceived | MessageEdited) and e.message.sender_device == pico.device_id
    ]
    bodies = [decode_app_message(e.message.content) for e in parts]
    replies = [b for b in bodies if isinstance(b, AssistantReply)]
    # the first part (first token, not final), then straight to the final text: no update in between
    assert [r.final for r in replies] == [False, True] and final.body.startswith(replies[0].body)
