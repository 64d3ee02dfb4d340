"""People with devices on the real server (loopback), for the conversation layer's end-to-end tests.

The module's server is scanned after its tests: neither its database files
(SQLite with its WAL) nor its log records may contain the marker that every
plaintext sent in these tests carries (`MARKER`).

`Device` is one started `Client` with `Conversations` attached and a record
of every event it published; `Device.wait` waits (with a timeout, never a
sleep) for an event that matches. `People.person()` makes a new account;
`People.second_device(person)` links another device of that person.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest
import pytest_asyncio

from calpico.client import Account, Client, Conversations, LinkOffer
from calpico.client.events import Event, Subscription
from calpico.client.store import Passphrase

from ..conftest import FAST_KDF, QUICK_RETRY, SMALL_BATCH
from ..server import ThreadServer

E = TypeVar("E", bound=Event)
WAIT = 15.0


@dataclass(eq=False)
class Device:
    client: Client
    chats: Conversations
    path: Path
    seen: list[Event] = field(default_factory=list)
    _changed: asyncio.Event = field(default_factory=asyncio.Event)
    _task: asyncio.Task[None] | None = None

    @property
    def name(self) -> str:
        return self.client.username

    def follow(self, subscription: Subscription) -> None:
        async def drain() -> None:
            async for event in subscription:
                self.seen.append(event)
                self._changed.set()

        self._task = asyncio.get_running_loop().create_task(drain())

    async def wait(self, kind: type[E], where: Callable[[E], bool] = lambda e: True, timeout: float = WAIT) -> E:
        """The first event (ever seen) of ``kind`` that matches ``where``; waits for it if needed."""
        async with asyncio.timeout(timeout):
            while True:
                for event in self.seen:
                    if isinstance(event, kind) and where(event):
                        return event
                self._changed.clear()
                await self._changed.wait()

    def events(self, kind: type[E]) -> list[E]:
        return [e for e in self.seen if isinstance(e, kind)]

    async def close(self) -> None:
        await self.client.close()
        if self._task is not None:
            self._task.cancel()


class People:
    def __init__(self, server: ThreadServer, tmp: Path) -> None:
        self.server = server
        self.tmp = tmp
        self.devices: list[Device] = []

    def key(self) -> Passphrase:
        return Passphrase("pw", FAST_KDF)

    async def start(self, client: Client, path: Path, *, push: bool = True, **options: Any) -> Device:
        chats = Conversations(client, **options)
        device = Device(client, chats, path)
        device.follow(client.events())
        await client.start(push=push)
        if push:
            await client.wait_connected(WAIT)
        self.devices.append(device)
        return device

    async def person(self, prefix: str = "p", **options: Any) -> Device:
        name = f"{prefix}{uuid.uuid4().hex[:10]}"
        path = self.tmp / f"{name}.db"
        account = await Account.create(
            self.server.url, name, path, self.key(), retry=QUICK_RETRY, key_package_policy=SMALL_BATCH
        )
        client = Client(account, expiry_interval=0.2)
        return await self.start(client, path, **options)

    async def reopen(self, device: Device, *, push: bool = True, **options: Any) -> Device:
        """Open a device again from its store (a restart), closing it first if it still runs.

        ``push=False``: no live connection, so nothing arrives until ``client.sync()``.
        """
        await self.offline(device)
        account = await Account.open(device.path, self.key(), retry=QUICK_RETRY, key_package_policy=SMALL_BATCH)
        client = Client(account, expiry_interval=0.2)
        return await self.start(client, device.path, push=push, **options)

    async def second_device(self, device: Device, **options: Any) -> Device:
        """Link a new device of ``device``'s person with a one-time code; it is added to every conversation."""
        path = self.tmp / f"{device.name}-{len(self.devices)}.db"
        offer = await device.chats.offer_link()
        client, _ = await asyncio.gather(
            Conversations.link_new_device(
                self.server.url,
                path,
                self.key(),
                offer.code,
                device_name="second",
                retry=QUICK_RETRY,
                key_package_policy=SMALL_BATCH,
            ),
            device.chats.complete_link(offer, timeout=WAIT),
        )
        client = Client(client.account, expiry_interval=0.2)
        return await self.start(client, path, **options)

    async def second_device_with_code(self, device: Device, offer: LinkOffer, code: str) -> None:
        """Answer ``offer`` with another code (a forgery): the existing device must refuse it."""
        path = self.tmp / f"{device.name}-forged.db"
        waiting = asyncio.get_running_loop().create_task(device.chats.complete_link(offer, timeout=WAIT))
        new = asyncio.get_running_loop().create_task(
            Conversations.link_new_device(self.server.url, path, self.key(), code, timeout=2.0, retry=QUICK_RETRY)
        )
        try:
            await waiting
        finally:
            new.cancel()
            with contextlib.suppress(BaseException):
                await new

    async def offline(self, device: Device) -> None:
        """Close a device (it is gone until `reopen`)."""
        if device in self.devices:
            await device.close()
            self.devices.remove(device)

    async def close(self) -> None:
        for device in self.devices:
            await device.close()


MARKER = b"MARK-"
"""Every plaintext the tests send carries this marker; the server must never hold or log it."""


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadServer]:
    """The module's server; after its tests, its database files and logs must hold no plaintext marker."""
    data = tmp_path_factory.mktemp("server") / "data"
    records = _Records()
    loggers = [logging.getLogger(name) for name in ("calpico.server", "uvicorn", "uvicorn.error", "sqlalchemy")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.addHandler(records)
        lg.setLevel(logging.DEBUG)
    srv = ThreadServer(data).start()
    try:
        yield srv
    finally:
        srv.stop()
        for lg, level in zip(loggers, levels, strict=True):
            lg.removeHandler(records)
            lg.setLevel(level)
    scan_for_plaintext(data, records.lines)


def scan_for_plaintext(data: Path, log_lines: list[str]) -> None:
    files = [p for p in data.rglob("*") if p.is_file()]
    assert files and sum(p.stat().st_size for p in files) > 0, "the server stored nothing: the scan would prove nothing"
    leaked = [p.name for p in files if MARKER in p.read_bytes()]
    assert not leaked, f"plaintext markers in the server's files: {leaked}"
    assert log_lines, "no server log lines were captured"
    assert not [line for line in log_lines if MARKER.decode() in line], "plaintext markers in the server's logs"


@pytest_asyncio.fixture
async def people(server: ThreadServer, tmp_path: Path) -> AsyncIterator[People]:
    made = People(server, tmp_path)
    yield made
    await made.close()
