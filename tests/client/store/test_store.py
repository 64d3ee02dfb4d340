"""The store's records and its transaction API: atomicity, read-your-writes, savepoints, crash safety."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from calpico.client.errors import AccountExists, NoAccount, StoreInUse, UsageError
from calpico.client.store import (
    Contact,
    ContactState,
    Conversation,
    ConversationKind,
    ConversationStatus,
    DeliveryCursor,
    DeviceLink,
    GroupState,
    Identity,
    IdentityStatus,
    KeyPackageSecrets,
    KeySource,
    KnownDevice,
    Message,
    OutboxItem,
    Passphrase,
    ReactionEntry,
    ReceiptEntry,
    Store,
)
from calpico.mls.secret import Secret

from .conftest import FAST

GROUP = b"\x01group-id"


def _message(i: int, conversation: str = "c1", **kw: object) -> Message:
    fields: dict[str, object] = {
        "conversation_id": conversation,
        "message_id": f"m{i}",
        "sender_user": "bob",
        "sender_device": "dev-b",
        "sent_at": 1000.0 + i,
        "received_at": 1001.0 + i,
        "content": f"body {i}".encode(),
        "seq": i,
    }
    fields.update(kw)
    return Message(**fields)  # type: ignore[arg-type]


async def test_every_record_round_trips(store: Store) -> None:
    identity = Identity(
        "http://127.0.0.1:1",
        "alice",
        1,
        Secret(os.urandom(32)),
        os.urandom(32),
        device_id="dev-a",
        server_name="test",
        status=IdentityStatus.ACTIVE,
        created_at=5.5,
    )
    kp = KeyPackageSecrets(b"ref-1", b"kp", Secret(b"i" * 32), Secret(b"e" * 32), last_resort=True, created_at=1)
    state = GroupState(GROUP, 3, Secret(b"state bytes"), 2.0)
    conv = Conversation(
        "c1", ConversationKind.ROOM, GROUP, ConversationStatus.REQUEST, name="Room ✨", peer=None, extra=b"\x00"
    )
    msg = _message(
        1,
        edited_at=3.0,
        expires_at=99.0,
        reactions=(ReactionEntry("carol", "👍"),),
        receipts=(ReceiptEntry("carol", 1.0, None),),
    )
    contact = Contact(
        "bob", ContactState.ACCEPTED, (KnownDevice("dev-b", b"key", 1, 4.0),), safety_number="123", verified=True
    )
    item = OutboxItem("client-1", GROUP, "application", b"mls", welcome=None, context=b"ctx", created_at=1.0)
    link = DeviceLink("code-1", Secret(b"s" * 16), 1.0, 2.0)
    async with store.transaction() as tx:
        tx.set_identity(identity)
        tx.put_key_package(kp)
        tx.put_group_state(state)
        tx.put_conversation(conv)
        tx.put_message(msg)
        tx.put_contact(contact)
        tx.put_outbox(item)
        tx.put_device_link(link)
        tx.mark_processed(GROUP, 7)
        tx.mark_acked(GROUP, 5)
    assert await store.identity() == identity
    got = await store.identity()
    assert got is not None and isinstance(got.signature_private_key, Secret)
    assert await store.key_package(b"ref-1") == kp
    assert await store.key_packages() == [kp]
    assert await store.group_state(GROUP) == state
    assert await store.conversation("c1") == conv
    assert await store.conversation_for_group(GROUP) == conv
    assert await store.conversations(ConversationStatus.REQUEST) == [conv]
    assert await store.conversations(ConversationStatus.ACCEPTED) == []
    assert await store.message("c1", "m1") == msg
    assert await store.contact("bob") == contact
    assert await store.contacts(ContactState.BLOCKED) == []
    assert await store.outbox() == [item]
    assert await store.device_link("code-1") == link
    assert await store.delivery(GROUP) == DeliveryCursor(GROUP, 7, 5)
    assert await store.delivery(b"other") == DeliveryCursor(b"other", 0, 0)


async def test_cursors_never_move_back(store: Store) -> None:
    async with store.transaction() as tx:
        tx.mark_processed(GROUP, 9)
        tx.mark_processed(GROUP, 4)
        tx.mark_acked(GROUP, 3)
        tx.mark_acked(GROUP, 2)
    assert await store.deliveries() == [DeliveryCursor(GROUP, 9, 3)]


async def test_an_exception_mid_transaction_writes_nothing(store: Store) -> None:
    """A crash between 'apply the message' and 'record its seq' must leave neither."""
    async with store.transaction() as tx:
        tx.put_group_state(GroupState(GROUP, 1, Secret(b"epoch 1")))
        tx.mark_processed(GROUP, 1)

    class Crash(Exception):
        pass

    with pytest.raises(Crash):
        async with store.transaction() as tx:
            tx.put_group_state(GroupState(GROUP, 2, Secret(b"epoch 2")))
            tx.put_message(_message(2))
            # A read flushes the writes into SQLite's open transaction: they are seen here...
            assert (await tx.group_state(GROUP)) == GroupState(GROUP, 2, Secret(b"epoch 2"))
            assert (await tx.message("c1", "m2")) is not None
            tx.mark_processed(GROUP, 2)
            raise Crash
    # ...and gone after the rollback.
    assert await store.group_state(GROUP) == GroupState(GROUP, 1, Secret(b"epoch 1"))
    assert await store.message("c1", "m2") is None
    assert (await store.delivery(GROUP)).processed_seq == 1


async def test_uncommitted_writes_are_invisible_outside_the_transaction(store: Store) -> None:
    started, release = asyncio.Event(), asyncio.Event()

    async def writer() -> None:
        async with store.transaction() as tx:
            tx.put_message(_message(1))
            await tx.message("c1", "m1")  # flushed into the open transaction
            started.set()
            await release.wait()

    task = asyncio.create_task(writer())
    await started.wait()
    assert await store.message("c1", "m1") is None
    release.set()
    await task
    assert await store.message("c1", "m1") is not None


async def test_savepoint_undoes_only_its_part(store: Store) -> None:
    committed: list[str] = []
    async with store.transaction() as tx:
        tx.put_message(_message(1))
        tx.on_commit(lambda: committed.append("outer"))
        with pytest.raises(ValueError):
            async with tx.savepoint():
                tx.put_message(_message(2))
                tx.on_commit(lambda: committed.append("inner"))
                raise ValueError
        with pytest.raises(ValueError):
            async with tx.savepoint():
                tx.put_message(_message(3))
                assert len(await tx.messages("c1")) == 2  # flushed: the rollback must happen in SQLite
                raise ValueError
        async with tx.savepoint():
            tx.put_message(_message(4))
        assert not committed
    assert [m.message_id for m in await store.messages("c1")] == ["m1", "m4"]
    assert committed == ["outer"]


async def test_on_commit_is_not_called_on_rollback(store: Store) -> None:
    called: list[int] = []
    with pytest.raises(RuntimeError):
        async with store.transaction() as tx:
            tx.on_commit(lambda: called.append(1))
            raise RuntimeError
    assert called == []


async def test_transactions_do_not_nest_and_end_with_their_block(store: Store) -> None:
    async with store.transaction() as tx:
        with pytest.raises(UsageError):
            async with store.transaction():
                pass
    with pytest.raises(UsageError):
        tx.put_message(_message(1))


async def test_cancelling_a_task_mid_transaction_rolls_back(store: Store) -> None:
    inside = asyncio.Event()

    async def work() -> None:
        async with store.transaction() as tx:
            tx.put_message(_message(1))
            await tx.messages("c1")
            inside.set()
            await asyncio.sleep(30)

    task = asyncio.create_task(work())
    await inside.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await store.messages("c1") == []
    async with store.transaction() as tx:  # the lock was released
        tx.put_message(_message(2))
    assert len(await store.messages("c1")) == 1


async def test_a_rewritten_message_keeps_its_place_and_pages_backwards(store: Store) -> None:
    async with store.transaction() as tx:
        for i in range(5):
            tx.put_message(_message(i))
        tx.put_message(_message(1, content=b"edited", edited_at=9.0))
    page = await store.messages("c1", limit=3)
    assert [m.message_id for m in page] == ["m2", "m3", "m4"]
    older = await store.messages("c1", limit=3, before="m2")
    assert [m.message_id for m in older] == ["m0", "m1"]
    assert older[1].content == b"edited"


async def test_disappearing_messages_expire(store: Store) -> None:
    async with store.transaction() as tx:
        tx.put_message(_message(1, expires_at=10.0))
        tx.put_message(_message(2, expires_at=20.0))
        tx.put_message(_message(3))
    assert await store.expire_messages(15.0) == [("c1", "m1")]
    assert [m.message_id for m in await store.messages("c1")] == ["m2", "m3"]


async def test_deleting_a_conversation_deletes_its_messages(store: Store) -> None:
    async with store.transaction() as tx:
        tx.put_conversation(Conversation("c1", ConversationKind.DM, GROUP, peer="bob"))
        tx.put_message(_message(1))
        tx.put_message(_message(1, conversation="c2"))
    async with store.transaction() as tx:
        tx.delete_conversation("c1")
    assert await store.conversation("c1") is None
    assert await store.messages("c1") == []
    assert len(await store.messages("c2")) == 1


async def test_reopen_keeps_data_and_a_second_opener_is_refused(tmp_path: Path, key_source: KeySource) -> None:
    path = tmp_path / "device.db"
    store = await Store.create(path, key_source)
    async with store.transaction() as tx:
        tx.put_message(_message(1))
    with pytest.raises(StoreInUse):
        await Store.open(path, key_source)
    with pytest.raises(AccountExists):
        await Store.create(path, key_source)
    await store.close()
    async with await Store.open(path, key_source) as again:
        assert await again.message("c1", "m1") == _message(1)
    with pytest.raises(UsageError):
        await again.message("c1", "m1")


async def test_open_without_a_store_says_so(tmp_path: Path, key_source: KeySource) -> None:
    with pytest.raises(NoAccount):
        await Store.open(tmp_path / "nothing.db", key_source)


_CRASHER = """
import asyncio, os, sys
from calpico.client.store import Passphrase, Argon2Params, Store, GroupState
from calpico.mls.secret import Secret

async def main() -> None:
    store = await Store.open(sys.argv[1], Passphrase("pw", Argon2Params(1, 8192, 1)))
    async with store.transaction() as tx:
        tx.put_group_state(GroupState(b"g", 2, Secret(b"epoch 2")))
        await tx.group_state(b"g")   # the write is in SQLite's open transaction now
        tx.mark_processed(b"g", 2)
        await tx.delivery(b"g")
        os._exit(9)                  # the process dies before the commit

asyncio.run(main())
"""


async def test_a_killed_process_leaves_the_last_committed_state(tmp_path: Path) -> None:
    path = tmp_path / "device.db"
    key = Passphrase("pw", FAST)
    async with await Store.create(path, key) as store, store.transaction() as tx:
        tx.put_group_state(GroupState(b"g", 1, Secret(b"epoch 1")))
        tx.mark_processed(b"g", 1)
    src = Path(__file__).resolve().parents[3] / "src"
    env = {**os.environ, "PYTHONPATH": str(src)}
    proc = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-c", textwrap.dedent(_CRASHER), str(path)], env=env, timeout=60
    )
    assert proc.returncode == 9
    async with await Store.open(path, key) as store:
        assert await store.group_state(b"g") == GroupState(b"g", 1, Secret(b"epoch 1"))
        assert (await store.delivery(b"g")).processed_seq == 1
