"""What the client store costs per delivered message: the floor under the SDK's sync overhead.

    .venv/bin/python benchmarks/client_store.py [--messages 5000]

Applies deliveries through the delivery engine (`calpico.client.sync.Sync.apply`)
with a handler that does what the conversation layer will do per message —
read the group state, write it back, store the message — in batches of
1, 10 and 100 per transaction, on a temporary store (``synchronous=FULL``).
Prints messages per second and microseconds per message, beside the cost of
sealing and encoding one message record alone. Figures only, no assertions;
the issue's ``benchmarks/client_sync.py`` (with MLS) will compare the whole
path with the raw `calpico.mls` unprotect cost.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from calpico.client.events import Event
from calpico.client.store import Argon2Params, GroupState, Message, Passphrase, Store, Transaction
from calpico.client.store.records import encode_record
from calpico.client.sync import Sync
from calpico.mls.secret import Secret
from calpico.wire.delivery import Delivered, MessageKind

GROUP = os.urandom(16)


class Handler:
    """Per message: read and rewrite the group state, store the message (as the conversation layer will)."""

    async def on_delivered(self, tx: Transaction, message: Delivered) -> Sequence[Event]:
        state = await tx.group_state(message.group_id) if message.seq % 50 == 1 else None
        epoch = state.epoch if state is not None else 1
        tx.put_group_state(GroupState(message.group_id, epoch, Secret(b"s" * 2000)))
        tx.put_message(
            Message("conv", f"m{message.seq}", "bob", message.sender, message.sent_at, time.time(), message.body)
        )
        return []

    async def on_sent(self, *args: object) -> Sequence[Event]:
        return []

    async def on_send_failed(self, *args: object) -> Sequence[Event]:
        return []


def deliveries(start: int, n: int) -> list[Delivered]:
    body = os.urandom(180)
    return [
        Delivered(
            group_id=GROUP,
            seq=start + i,
            epoch=1,
            kind=MessageKind.APPLICATION,
            sender="dev-a",
            client_id=f"c{start + i}",
            body=body,
            sent_at=time.time(),
        )
        for i in range(n)
    ]


async def run(total: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = await Store.create(Path(tmp) / "bench.db", Passphrase("pw", Argon2Params(1, 8192, 1)))
        sync = Sync(store, None, Handler(), lambda e: None)  # type: ignore[arg-type]
        seq = 1
        print(f"{'batch':>6} {'messages/s':>12} {'µs/message':>11}")
        for batch in (1, 10, 100):
            n = max(batch, total // (10 if batch == 1 else 1))
            start = time.perf_counter()
            for _ in range(n // batch):
                await sync.apply(deliveries(seq, batch))
                seq += batch
            elapsed = time.perf_counter() - start
            print(f"{batch:>6} {n / elapsed:>12,.0f} {elapsed / n * 1e6:>11.1f}")
        await store.close()
    record = Message("conv", "m1", "bob", "dev-a", 1.0, 2.0, os.urandom(180))
    cipher = store._cipher
    reps = 20_000
    start = time.perf_counter()
    for _ in range(reps):
        cipher.seal("messages", ("conv", "m1"), encode_record(record))
    print(f"encode + seal one message record: {(time.perf_counter() - start) / reps * 1e6:.1f} µs")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--messages", type=int, default=5000)
    asyncio.run(run(parser.parse_args().messages))


if __name__ == "__main__":
    main()
