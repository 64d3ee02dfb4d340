"""`Assistants`: the owner's side — create an assistant, change its card, add it to conversations, share chats.

::

    chats = Conversations(client)                       # the owner's device
    mine = Assistants(chats)
    made = await mine.create("Pico", path="pico.db", key=KeyFile("pico.key"),
                             provider=ProviderSettings(base_url=..., model=..., api_key=...))
    runtime = AssistantRuntime(made.client, provider=OpenAICompatibleProvider(settings))  # in-process
    await runtime.start()
    await mine.add(room.id, "Pico")                     # mention-only by default
    await mine.rename("Pico", "Nova")                   # a new signed card, shown in every conversation

Creating an assistant: a new device (its own store and signature key) is
prepared, registered by this device with ``kind="assistant"``, activated;
this device signs its card (revision 1, naming the assistant's key) and
makes the owner's private chat with it, where the card is posted first.
Every card change is signed here (revision + 1) and posted into the private
chat and into every conversation the assistant is a member of.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from calpico.client import Account, Client, Conversations
from calpico.client.errors import ApprovalRequired, NotPermitted
from calpico.client.ids import new_message_id, now_ms
from calpico.client.store import ConversationKind, ConversationStatus, KeySource
from calpico.wire.accounts import DeviceKind
from calpico.wire.app import (
    AssistantCard,
    AssistantMode,
    AssistantReply,
    AssistantSettings,
    InferenceLocation,
    SharedChat,
    Text,
    TranscriptEntry,
    TranscriptRole,
    decode_app_message,
    encode_app_message,
)

from .errors import NoSuchAssistant
from .providers.base import ProviderSettings
from .state import AssistantState, OwnedAssistant, OwnedAssistants

__all__ = ["Assistants", "NewAssistant", "describe_card", "where_it_runs"]

DEFAULT_RETENTION = "keeps the chats it is in on its device; the provider gets only each request's prompt"


@dataclass(frozen=True, slots=True)
class NewAssistant:
    """A just-created assistant: the owner's record of it and its device's (unstarted) `Client`."""

    owned: OwnedAssistant
    client: Client


def where_it_runs(card: AssistantCard) -> str:
    """Where the card says inference runs: "on its owner's device", "on a self-hosted server (gpu.lan)", ..."""
    host = f" ({card.inference_host})" if card.inference_host else ""
    return {
        InferenceLocation.ON_DEVICE: "on its owner's device",
        InferenceLocation.SELF_HOSTED: f"on a self-hosted server{host}",
        InferenceLocation.THIRD_PARTY: f"at a third-party API{host}",
    }[card.inference]


def describe_card(card: AssistantCard) -> str:
    """One line for people: who it is, which model, where inference runs, what it keeps."""
    where = where_it_runs(card)
    text = f"{card.name} ({card.owner}'s assistant) · {card.model} via {card.provider} · runs {where}"
    if card.personality:
        text += f" · personality: {card.personality}"
    if card.retention:
        text += f" · keeps: {card.retention}"
    return text + f" · card rev {card.revision}"


class Assistants:
    """The assistants this person owns, managed from one of their own devices."""

    def __init__(self, chats: Conversations) -> None:
        self.chats = chats
        self.client = chats.client
        self.owned = OwnedAssistants(self.client.store)

    # --- creating and finding ---------------------------------------------------------------------

    async def create(
        self,
        name: str,
        *,
        path: Path | str,
        key: KeySource,
        personality: str = "",
        provider: ProviderSettings | None = None,
        retention: str = DEFAULT_RETENTION,
        **account_options: Any,
    ) -> NewAssistant:
        """Make an assistant device of this person (see the module docstring); its `Client` is not started."""
        me = self.client.account.identity
        account = await Account.prepare_device(
            me.server_url, me.username, path, key, device_name=f"{name} (assistant)"[:64], **account_options
        )
        try:
            info = await self.client.add_device(
                account.signature_public_key, account.cipher_suite, f"{name} (assistant)"[:64], DeviceKind.ASSISTANT
            )
            await account.activate(info.device_id)
            state = AssistantState(account.store)
            if provider is not None:
                await state.set_provider(provider)
            card = self.chats.sign_assistant_card(
                AssistantCard(
                    **_stamp(),
                    assistant_device=info.device_id,
                    owner=me.username,
                    name=name,
                    personality=personality,
                    model=provider.model if provider is not None else "none configured",
                    provider=provider.provider if provider is not None else "none",
                    inference=provider.inference if provider is not None else InferenceLocation.ON_DEVICE,
                    inference_host=provider.shown_host if provider is not None else "",
                    retention=retention,
                    revision=1,
                    signer_device=self.client.device_id,
                    assistant_key=account.signature_public_key,
                )
            )
            await state.set_card(card)
        except BaseException:
            await account.close()
            raise
        chat = await self.chats.create_assistant_chat(info.device_id, name=name)
        await self.chats.send(chat.id, card)
        owned = OwnedAssistant(info.device_id, name, chat.id, encode_app_message(card).decode(), str(path))
        await self.owned.put(owned)
        return NewAssistant(owned, Client(account))

    async def all(self) -> list[OwnedAssistant]:
        return await self.owned.all()

    async def get(self, ref: str | None = None) -> OwnedAssistant:
        """Ours by name or device id (the only one, if ``ref`` is None); raises `NoSuchAssistant`."""
        found = await self.owned.all()
        if ref is None and len(found) == 1:
            return found[0]
        matches = [a for a in found if ref in (a.name, a.device_id)]
        if len(matches) != 1:
            names = ", ".join(a.name for a in found) or "none yet (`calpico assistant create`)"
            raise NoSuchAssistant(f"no single assistant of ours called {ref!r} (ours: {names})")
        return matches[0]

    # --- its card -------------------------------------------------------------------------------

    async def update_card(self, ref: str | None = None, **changes: Any) -> AssistantCard:
        """A new card (revision + 1, signed here) posted into its private chat and every conversation it is in."""
        owned = await self.get(ref)
        old = owned.signed_card
        card = self.chats.sign_assistant_card(
            old.model_copy(update={**changes, **_stamp(), "revision": old.revision + 1})
        )
        await self.chats.send(owned.chat_id, card)
        for conversation in await self.chats.all(None):
            if conversation.id == owned.chat_id or conversation.status is ConversationStatus.LEFT:
                continue
            if any(a.device_id == owned.device_id for a in await self.chats.assistants(conversation.id)):
                await self.chats.send(conversation.id, card.model_copy(update=_stamp()))
        await self.owned.put(
            OwnedAssistant(
                owned.device_id, card.name, owned.chat_id, encode_app_message(card).decode(), owned.store_path
            )
        )
        return card

    async def rename(self, ref: str | None, name: str) -> AssistantCard:
        return await self.update_card(ref, name=name)

    async def set_personality(self, ref: str | None, personality: str) -> AssistantCard:
        return await self.update_card(ref, personality=personality)

    # --- conversations ------------------------------------------------------------------------------

    async def add(
        self,
        conversation_id: str,
        ref: str | None = None,
        *,
        mode: AssistantMode = AssistantMode.MENTION,
        instructions: str | None = None,
    ) -> bool:
        """Add it to a conversation (and set its mode there). False: the room's admins were asked to approve it."""
        owned = await self.get(ref)
        try:
            await self.chats.add_assistant(conversation_id, owned.device_id)
        except ApprovalRequired:
            await self.chats.request_assistant(conversation_id, owned.signed_card.model_copy(update=_stamp()))
            return False
        await self.chats.send(conversation_id, owned.signed_card.model_copy(update=_stamp()))  # shown at once
        await self.configure(conversation_id, owned.device_id, mode=mode, instructions=instructions)
        return True

    async def activate(
        self, conversation_id: str, ref: str | None = None, *, mode: AssistantMode = AssistantMode.MENTION
    ) -> None:
        """After an admin approved it into a room: show its card there and switch it on (`configure`)."""
        owned = await self.get(ref)
        await self.chats.send(conversation_id, owned.signed_card.model_copy(update=_stamp()))
        await self.configure(conversation_id, owned.device_id, mode=mode)

    async def remove(self, conversation_id: str, ref: str | None = None) -> bool:
        owned = await self.get(ref)
        return await self.chats.remove_assistant(conversation_id, owned.device_id)

    async def configure(
        self,
        conversation_id: str,
        ref: str | None = None,
        *,
        mode: AssistantMode | None = None,
        instructions: str | None = None,
        away: bool | None = None,
        away_note: str | None = None,
    ) -> None:
        """Its settings in one conversation, as a message every member sees (`AssistantSettings`)."""
        owned = await self.get(ref)
        if not any(a.device_id == owned.device_id for a in await self.chats.assistants(conversation_id)):
            raise NotPermitted(f"{owned.name} is not in this conversation (add it first)")
        settings = AssistantSettings(
            **_stamp(),
            assistant_device=owned.device_id,
            mode=mode,
            instructions=instructions,
            away=away,
            away_note=away_note,
        )
        await self.chats.send(conversation_id, settings)

    async def set_away(self, ref: str | None, away: bool, note: str = "") -> int:
        """Away auto-replies on (or off) in every DM it is in; returns how many DMs."""
        owned = await self.get(ref)
        count = 0
        for conversation in await self.chats.all():
            if conversation.kind is not ConversationKind.DM:
                continue
            if any(a.device_id == owned.device_id for a in await self.chats.assistants(conversation.id)):
                await self.configure(conversation.id, owned.device_id, away=away, away_note=note if away else "")
                count += 1
        return count

    # --- sharing --------------------------------------------------------------------------------------

    async def share(
        self,
        target_id: str,
        ref: str | None = None,
        *,
        last: int = 20,
        message_ids: Sequence[str] = (),
        title: str = "",
    ) -> SharedChat:
        """Forward (part of) the private chat with an assistant into a DM or room, end-to-end encrypted."""
        owned = await self.get(ref)
        messages = await self.chats.messages(owned.chat_id, limit=500)
        if message_ids:
            wanted = set(message_ids)
            messages = [m for m in messages if m.message_id in wanted]
        entries = []
        for message in messages:
            content = decode_app_message(message.content)
            if isinstance(content, Text) and message.sender_device != owned.device_id:
                entries.append(TranscriptEntry(role=TranscriptRole.USER, author=message.sender_user, body=content.body))
            elif isinstance(content, AssistantReply) and message.sender_device == owned.device_id:
                entries.append(TranscriptEntry(role=TranscriptRole.ASSISTANT, author=owned.name, body=content.body))
        entries = entries[-last:] if not message_ids else entries
        if not entries:
            raise NotPermitted("there is nothing to share in that chat yet")
        card = owned.signed_card
        shared = SharedChat(**_stamp(), title=title, assistant=owned.name, model=card.model, entries=tuple(entries))
        await self.chats.send(target_id, shared)
        return shared

    async def continue_shared(self, conversation_id: str, message_id: str, ref: str | None = None) -> str:
        """Bring a transcript someone shared into our own private chat with our assistant; returns that chat's id."""
        owned = await self.get(ref)
        content = decode_app_message((await self.chats.message(conversation_id, message_id)).content)
        if not isinstance(content, SharedChat):
            raise NotPermitted("that message is not a shared chat")
        await self.chats.send(owned.chat_id, content.model_copy(update=_stamp()))
        return owned.chat_id


def _stamp() -> dict[str, Any]:
    return {"id": new_message_id(), "sent_at": now_ms()}
