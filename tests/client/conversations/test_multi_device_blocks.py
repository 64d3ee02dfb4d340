"""A block made on one of a person's devices applies on their other devices too (via the server's block list)."""

from __future__ import annotations

from calpico.client.events import ContactsChanged, ConversationAdded, MessageReceived

from .conftest import People


async def test_a_block_on_one_device_hides_messages_on_the_other(people: People) -> None:
    alice = await people.person("alice")
    alice2 = await people.second_device(alice)
    bob = await people.person("bob")
    carol = await people.person("carol")
    for device in (bob, carol):
        await device.chats.start_dm(alice.name)
    room = await alice.chats.create_room("club", [bob.name, carol.name])
    await alice2.wait(ConversationAdded, lambda e: e.conversation.id == room.id)
    before = await carol.chats.send_text(room.id, "before the block MARK-before")
    await alice2.wait(MessageReceived, lambda e: e.message.message_id == before.message_id)

    await alice.chats.block(carol.name)
    changes = await alice2.client.sync_contacts()  # what the live device does on connecting and every minute
    assert changes.blocked == (carol.name,) and changes.unblocked == ()
    assert (await alice2.wait(ContactsChanged)).blocked == (carol.name,)
    hidden = await carol.chats.send_text(room.id, "after the block MARK-after")
    shown = await bob.chats.send_text(room.id, "still visible MARK-visible")
    await alice2.wait(MessageReceived, lambda e: e.message.message_id == shown.message_id)
    assert hidden.message_id not in [e.message.message_id for e in alice2.events(MessageReceived)]
    visible = [m.message_id for m in await alice2.chats.messages(room.id)]
    assert shown.message_id in visible and hidden.message_id not in visible and before.message_id not in visible

    # The unblock travels the same way, here at the next connection (a restart).
    await alice.chats.unblock(carol.name)
    alice2 = await people.reopen(alice2)
    unblocked = await alice2.wait(ContactsChanged)
    assert unblocked.unblocked == (carol.name,) and unblocked.blocked == ()
    visible = [m.message_id for m in await alice2.chats.messages(room.id)]
    assert hidden.message_id in visible and before.message_id in visible
    again = await carol.chats.send_text(room.id, "seen again MARK-again")
    await alice2.wait(MessageReceived, lambda e: e.message.message_id == again.message_id)
