"""What an assistant device keeps, sealed in its own store (`calpico.client.store.AppData`).

Namespace ``assistant``: its current card (``card``), its provider settings
(``provider``: base URL, key, model — the key never leaves the store), and
per conversation the owner's settings (``room:<id>``: mode, instructions,
away). Namespace ``assistant.memory``: the owner's personal memory, one
entry per fact. Memory is read only when building the prompt of the
owner's private chat (`prompt.build_prompt` takes it only there), so it
never reaches a DM's or a room's context.

The owner's own devices keep, under ``assistants.owned``, one record per
assistant they own (`OwnedAssistant`).
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace

from calpico.client.store import AppData, Store
from calpico.wire.app import AssistantCard, AssistantMode, decode_app_message, encode_app_message

from .providers.base import ProviderSettings

__all__ = ["AssistantState", "Memory", "OwnedAssistant", "OwnedAssistants", "RoomState"]

NAMESPACE = "assistant"
MEMORY = "assistant.memory"
OWNED = "assistants.owned"


@dataclass(frozen=True, slots=True)
class RoomState:
    """The owner's settings for the assistant in one conversation (from `AssistantSettings` messages)."""

    mode: AssistantMode = AssistantMode.MENTION
    instructions: str = ""
    away: bool = False
    away_note: str = ""
    active: bool = False  # added by its owner, or configured by them here

    def encode(self) -> bytes:
        return json.dumps({**asdict(self), "mode": self.mode.value}).encode()

    @classmethod
    def decode(cls, data: bytes) -> RoomState:
        obj = json.loads(data)
        obj["mode"] = AssistantMode(obj.get("mode", "mention"))
        return cls(**obj)


class _Values:
    def __init__(self, store: Store, namespace: str, clock: Callable[[], float]) -> None:
        self._store = store
        self._namespace = namespace
        self._clock = clock

    async def get(self, key: str) -> bytes | None:
        found = await self._store.app_data(self._namespace, key)
        return None if found is None else found.value

    async def put(self, key: str, value: bytes) -> None:
        async with self._store.transaction() as tx:
            tx.put_app_data(AppData(self._namespace, key, value, self._clock()))

    async def delete(self, key: str) -> None:
        async with self._store.transaction() as tx:
            tx.delete_app_data(self._namespace, key)

    async def items(self) -> list[tuple[str, bytes]]:
        return [(d.key, d.value) for d in await self._store.app_data_all(self._namespace)]


class AssistantState:
    """The assistant device's own settings (see the module docstring)."""

    def __init__(self, store: Store, clock: Callable[[], float] = time.time) -> None:
        self._values = _Values(store, NAMESPACE, clock)

    async def card(self) -> AssistantCard | None:
        raw = await self._values.get("card")
        card = decode_app_message(raw) if raw is not None else None
        return card if isinstance(card, AssistantCard) else None

    async def set_card(self, card: AssistantCard) -> None:
        await self._values.put("card", encode_app_message(card))

    async def provider(self) -> ProviderSettings | None:
        raw = await self._values.get("provider")
        return ProviderSettings.decode(raw) if raw is not None else None

    async def set_provider(self, settings: ProviderSettings) -> None:
        await self._values.put("provider", settings.encode())

    async def room(self, conversation_id: str) -> RoomState:
        raw = await self._values.get(f"room:{conversation_id}")
        return RoomState.decode(raw) if raw is not None else RoomState()

    async def set_room(self, conversation_id: str, state: RoomState) -> None:
        await self._values.put(f"room:{conversation_id}", state.encode())

    async def update_room(self, conversation_id: str, **changes: object) -> RoomState:
        state = replace(await self.room(conversation_id), **changes)  # type: ignore[arg-type]
        await self.set_room(conversation_id, state)
        return state


class Memory:
    """The owner's personal memory: facts the private chat asked the assistant to keep."""

    def __init__(self, store: Store, clock: Callable[[], float] = time.time) -> None:
        self._values = _Values(store, MEMORY, clock)

    async def facts(self) -> list[str]:
        return [value.decode("utf-8") for _, value in await self._values.items()]

    async def remember(self, fact: str) -> str:
        key = f"{int(time.time() * 1000):015d}-{secrets.token_hex(4)}"
        await self._values.put(key, fact.strip()[:1000].encode("utf-8"))
        return key

    async def forget(self, containing: str = "") -> int:
        """Forget the facts containing ``containing`` (all of them when empty); return how many."""
        gone = 0
        for key, value in await self._values.items():
            if containing.lower() in value.decode("utf-8").lower():
                await self._values.delete(key)
                gone += 1
        return gone


@dataclass(frozen=True, slots=True)
class OwnedAssistant:
    """An assistant this person owns, as their own devices remember it."""

    device_id: str
    name: str
    chat_id: str  # the owner's private chat with it
    card: str  # the current signed card (JSON)
    store_path: str = ""  # where its device's store is, when it runs on this machine

    @property
    def signed_card(self) -> AssistantCard:
        card = decode_app_message(self.card.encode("utf-8"))
        assert isinstance(card, AssistantCard)
        return card


class OwnedAssistants:
    """The owner's records of their assistants (`OwnedAssistant`), in the owner's store."""

    def __init__(self, store: Store, clock: Callable[[], float] = time.time) -> None:
        self._values = _Values(store, OWNED, clock)

    async def all(self) -> list[OwnedAssistant]:
        return [OwnedAssistant(**json.loads(value)) for _, value in await self._values.items()]

    async def put(self, owned: OwnedAssistant) -> None:
        await self._values.put(owned.device_id, json.dumps(asdict(owned)).encode())

    async def delete(self, device_id: str) -> None:
        await self._values.delete(device_id)
