"""People, their assistants, a real Calpico server and a local OpenAI-compatible server, for the assistant's tests.

The Calpico server is the conversation tests' (`tests.client.conversations.conftest`):
real HTTP and WebSocket on loopback, its database files and logs scanned
afterwards for the plaintext marker. `FakeLLM` records every prompt.
`Helpers.assistant(owner, "Pico")` creates an assistant the way an owner
does (`Assistants.create`) and runs it in-process (`AssistantRuntime`),
wrapped as a `Device` so tests can wait for its events too.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio

from calpico.assistant import (
    AssistantRuntime,
    Assistants,
    OpenAICompatibleProvider,
    ProviderSettings,
    RuntimeOptions,
    WebSearch,
)
from calpico.client import Conversations
from calpico.client.store import Passphrase
from calpico.wire.app import InferenceLocation

from ..client.conftest import FAST_KDF, QUICK_RETRY, SMALL_BATCH
from ..client.conversations.conftest import MARKER, WAIT, Device, People, people, server  # noqa: F401 (fixtures)
from .fake_llm import FakeLLM

FAST = RuntimeOptions(update_interval=0.05, auto_replies=5, auto_window=60.0, judge_gap=0.0, confirm_ttl=60.0)


@dataclass(eq=False)
class Helper:
    """An assistant as the tests run it: its owner's manager, its runtime and its device's events."""

    name: str
    owner: Device
    manager: Assistants
    runtime: AssistantRuntime
    device: Device

    @property
    def device_id(self) -> str:
        return self.runtime.device_id


class Helpers:
    def __init__(self, crowd: People, llm: FakeLLM, tmp: Path) -> None:
        self.people = crowd
        self.llm = llm
        self.tmp = tmp
        self.runtimes: list[AssistantRuntime] = []

    def settings(self, inference: InferenceLocation = InferenceLocation.SELF_HOSTED) -> ProviderSettings:
        return ProviderSettings(
            base_url=self.llm.base_url, model="fake-7b", api_key="sk-test", inference=inference, host="llm.test"
        )

    async def assistant(
        self,
        owner: Device,
        name: str = "Pico",
        *,
        provider: bool = True,
        inference: InferenceLocation = InferenceLocation.SELF_HOSTED,
        web: bool = False,
        options: RuntimeOptions = FAST,
        personality: str = "",
    ) -> tuple[Helper, str]:
        """Create ``owner``'s assistant and run it in-process; returns it and the id of the owner's private chat."""
        manager = Assistants(owner.chats)
        path = self.tmp / f"{owner.name}-{name}-{uuid.uuid4().hex[:6]}.db"
        settings = self.settings(inference) if provider else None
        made = await manager.create(
            name,
            path=path,
            key=Passphrase("pw", FAST_KDF),
            personality=personality,
            provider=settings,
            retry=QUICK_RETRY,
            key_package_policy=SMALL_BATCH,
        )
        client = made.client
        chats = Conversations(client)
        runtime = AssistantRuntime(
            client,
            chats,
            provider=OpenAICompatibleProvider(settings) if settings is not None else None,
            options=options,
            web=WebSearch(self.llm.search_url) if web else None,
        )
        device = Device(client, chats, path)
        device.follow(client.events())
        await runtime.start()
        await client.wait_connected(WAIT)
        self.runtimes.append(runtime)
        return Helper(name, owner, manager, runtime, device), made.owned.chat_id

    async def close(self) -> None:
        for runtime in self.runtimes:
            await runtime.close()


@pytest.fixture(scope="module")
def llm() -> Iterator[FakeLLM]:
    fake = FakeLLM().start()
    try:
        yield fake
    finally:
        fake.stop()


@pytest_asyncio.fixture
async def helpers(people: People, llm: FakeLLM, tmp_path: Path) -> AsyncIterator[Helpers]:  # noqa: F811
    llm.requests.clear()
    made = Helpers(people, llm, tmp_path)
    yield made
    await made.close()


def marked(text: str) -> str:
    """A plaintext carrying the server-scan marker."""
    return f"{MARKER.decode()}{text}"
