"""`Conversations`: the conversation API of one device — DMs, rooms, messages, requests, linking.

::

    client = await Client.create(url, "alice", "alice.db", Passphrase("..."))
    chats = Conversations(client)          # attaches the conversation layer (before start)
    events = client.events()
    await client.start()
    dm = await chats.start_dm("bob")
    await chats.send_text(dm.id, "hello")
    room = await chats.create_room("plans", ["bob", "carol"])
    async for event in events: ...         # calpico.client.events

Every call that changes a group (create, invite, remove, rename, settings,
accept, leave) returns once the server has ordered the commit and this device
merged it; a commit that loses the epoch to another one (409) is retried per
`CommitRetryPolicy`. Messages are written to the local store at once and
sent through the outbox, so a send works offline and goes out on reconnect.

Errors: `NoSuchConversation` / `NoSuchMessage` for unknown ids,
`NotPermitted` when the room policy does not allow the change (not an admin,
not the author), `ConversationClosed` for a conversation this device is no
longer in; server and transport errors as in `calpico.client.errors`.

Events: the sender's own actions go through the same code as received
ones, so this device publishes `MessageReceived`, `ReactionChanged`, ...
for its own messages too (one stream for everything shown).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from calpico.wire.app import AppMessage, AssistantCard, AssistantPolicy, Mention, ReceiptKind, decode_app_message

from ..store import Contact, Conversation, ConversationStatus, KeySource, Message
from .assistants import AssistantMember, sign_card
from .model import CommitRetryPolicy, LeavePolicy, LinkOffer, Participant, RoomSettings
from .operations import Engine

if TYPE_CHECKING:
    from ..client import Client

__all__ = ["Conversations"]


class Conversations:
    """The conversation layer of one `Client` (one device). Construct before ``client.start()``."""

    def __init__(
        self,
        client: Client,
        *,
        cipher_suite: int | None = None,
        commit_retry: CommitRetryPolicy | None = None,
        leave_policy: LeavePolicy | None = None,
    ) -> None:
        """Attach to ``client``. New groups use ``cipher_suite`` (default: the device's, suite 1 unless chosen
        at account creation; 0x004D is the post-quantum suite)."""
        self.client = client
        self._engine = Engine(
            client,
            cipher_suite=cipher_suite,
            commit_retry=commit_retry or CommitRetryPolicy(),
            leave_policy=leave_policy or LeavePolicy(),
        )
        client.attach(self._engine)

    # --- reading ------------------------------------------------------------------------------

    async def all(self, status: ConversationStatus | None = ConversationStatus.ACCEPTED) -> list[Conversation]:
        """Conversations, most recently active first (default: accepted ones; ``None`` for all)."""
        return await self.client.store.conversations(status)

    async def requests(self) -> list[Conversation]:
        """DMs and invites from people not accepted yet."""
        return await self.client.store.conversations(ConversationStatus.REQUEST)

    async def get(self, conversation_id: str) -> Conversation:
        """One conversation; raises `NotFound`."""
        return await self._engine.conversation(conversation_id)

    async def settings(self, conversation_id: str) -> RoomSettings:
        """Name, topic, admins, assistant policy and disappearing timer, as the group's extension says."""
        return await self._engine.settings(conversation_id)

    async def members(self, conversation_id: str) -> list[Participant]:
        """The people in the conversation (each with their devices), by username."""
        return await self._engine.members(conversation_id)

    async def messages(self, conversation_id: str, *, limit: int = 50, before: str | None = None) -> list[Message]:
        """The latest ``limit`` messages (before message id ``before``), oldest first; blocked people's hidden."""
        return await self._engine.messages(conversation_id, limit=limit, before=before)

    async def message(self, conversation_id: str, message_id: str) -> Message:
        """One stored message; raises `NotFound`."""
        return await self._engine.message(conversation_id, message_id)

    @staticmethod
    def content(message: Message) -> AppMessage:
        """The decoded content of a stored message (`Unknown` for a type this version cannot read)."""
        return decode_app_message(message.content)

    # --- starting and changing conversations ----------------------------------------------------

    async def start_dm(self, username: str) -> Conversation:
        """The DM with ``username``: an existing one we are in, or a new group with all devices of both people.

        The person becomes an accepted contact. Raises `Blocked`/`ContactsOnly`
        if they do not accept conversations from us, `NoKeyPackages` if they
        have no device to add.
        """
        return await self._engine.start_dm(username)

    async def create_room(
        self,
        name: str,
        members: Sequence[str] = (),
        *,
        topic: str = "",
        admins: Sequence[str] = (),
        assistant_policy: AssistantPolicy = AssistantPolicy.MENTION,
        assistant_approval: bool = False,
    ) -> Conversation:
        """A new room with all devices of ``members`` (and of this person); we are an admin (plus ``admins``).

        ``assistant_policy``: ``none`` forbids assistants, ``mention`` (default)
        lets them answer only when mentioned, ``auto`` also on their own;
        ``assistant_approval``: an assistant joins only when an admin adds it.
        """
        return await self._engine.create_room(
            name,
            list(members),
            topic=topic,
            admins=list(admins),
            assistant_policy=assistant_policy,
            assistant_approval=assistant_approval,
        )

    async def invite(self, conversation_id: str, username: str) -> None:
        """Add every device of ``username`` to a room (admins only)."""
        await self._engine.invite(conversation_id, username)

    async def remove(self, conversation_id: str, username: str) -> None:
        """Remove every device of ``username`` from a room (admins only)."""
        await self._engine.remove(conversation_id, username)

    async def leave(self, conversation_id: str) -> None:
        """Leave: propose removing all of this person's devices; another member commits it (`LeavePolicy`).

        Returns once the proposal is queued; the conversation is marked left
        here at once, and the proposal goes out even if this device then
        goes offline and comes back later.
        """
        await self._engine.leave(conversation_id)

    async def rename(self, conversation_id: str, name: str) -> None:
        """Rename a room (admins only): an encrypted `RoomUpdate`, the server never sees the name."""
        await self._engine.update_settings(conversation_id, name=name)

    async def set_topic(self, conversation_id: str, topic: str) -> None:
        await self._engine.update_settings(conversation_id, topic=topic)

    async def set_admins(self, conversation_id: str, admins: Sequence[str]) -> None:
        """Replace the admin list (admins only)."""
        await self._engine.update_settings(conversation_id, admins=tuple(admins))

    async def set_assistant_policy(self, conversation_id: str, policy: AssistantPolicy) -> None:
        """Admins: ``none`` (no assistants: the ones present are removed), ``mention`` or ``auto``."""
        await self._engine.update_settings(conversation_id, assistant_policy=policy)

    async def set_assistant_approval(self, conversation_id: str, required: bool) -> None:
        """Admins: whether an assistant may join only when an admin adds it (`approve_assistant`)."""
        await self._engine.update_settings(conversation_id, assistant_approval=required)

    async def set_disappearing_timer(self, conversation_id: str, seconds: int) -> None:
        """Messages sent from now on disappear ``seconds`` after they were sent, on every device (0: off)."""
        await self._engine.update_settings(conversation_id, disappearing_seconds=seconds)

    # --- requests and contacts -------------------------------------------------------------------

    async def accept(self, conversation_id: str) -> Conversation:
        """Accept a request: the conversation moves to the list, the inviter becomes a contact."""
        return await self._engine.accept(conversation_id)

    async def decline(self, conversation_id: str, *, block: bool = False) -> None:
        """Decline a request: leave the group; with ``block``, also block the inviter."""
        await self._engine.decline(conversation_id, block=block)

    async def block(self, username: str) -> Contact:
        """Block a person (on the server and here): their messages are hidden, they cannot add us."""
        return await self._engine.block(username)

    async def unblock(self, username: str) -> Contact:
        return await self._engine.unblock(username)

    async def safety_number(self, username: str) -> str:
        """The 60-digit safety number with ``username`` (compare it in person; `verify` records it)."""
        return await self.client.contacts.safety_number(username)

    async def verify(self, username: str, number: str) -> Contact:
        """Record that ``number`` was compared with ``username``; raises `CredentialMismatch` if it differs."""
        return await self.client.contacts.mark_verified(username, number)

    # --- messages --------------------------------------------------------------------------------

    async def send_text(
        self,
        conversation_id: str,
        body: str,
        *,
        reply_to: str | None = None,
        mentions: Sequence[Mention] = (),
    ) -> Message:
        """Send a text message (optionally a reply, with mentions); returns it as stored here."""
        return await self._engine.send_text(conversation_id, body, reply_to=reply_to, mentions=tuple(mentions))

    async def send(self, conversation_id: str, content: AppMessage) -> Message:
        """Send any application message (its ``id`` and ``sent_at`` as given); returns it as stored.

        An `Unknown` is sent as its raw payload (for types newer than this SDK)."""
        return await self._engine.send(conversation_id, content)

    async def retry(self, conversation_id: str, message_id: str) -> Message:
        """Send again a message of this device that the server refused (`SendState.FAILED`).

        Its state goes along in `MessageSendStateChanged` events: ``sending``, then ``sent``
        (or ``failed`` again). Catches up first, then encrypts it for the current epoch; same id.
        Raises `NoSuchMessage`, `NotPermitted` (not this device's message, or not failed),
        `ConversationClosed`.
        """
        return await self._engine.retry(conversation_id, message_id)

    async def react(self, conversation_id: str, message_id: str, emoji: str, *, remove: bool = False) -> None:
        await self._engine.react(conversation_id, message_id, emoji, remove=remove)

    async def edit(self, conversation_id: str, message_id: str, body: str) -> Message:
        """Replace the text of one of this person's own messages (`Forbidden` for anyone else's)."""
        return await self._engine.edit(conversation_id, message_id, body)

    async def delete(self, conversation_id: str, message_id: str) -> None:
        """Delete a message for everyone: its author, or a room admin, may (`Forbidden` otherwise)."""
        await self._engine.delete(conversation_id, message_id)

    async def mark_read(self, conversation_id: str, message_ids: Sequence[str]) -> None:
        """Send a read receipt for these messages."""
        await self._engine.receipt(conversation_id, ReceiptKind.READ, tuple(message_ids))

    async def typing(self, conversation_id: str, active: bool = True) -> None:
        """Tell the others this person is (not) typing; not stored anywhere."""
        await self._engine.typing(conversation_id, active)

    async def send_attachment(
        self,
        conversation_id: str,
        data: bytes,
        *,
        name: str = "",
        media_type: str = "application/octet-stream",
        caption: str | None = None,
    ) -> Message:
        """Encrypt and upload a file, then send the message that shares it."""
        return await self._engine.send_attachment(
            conversation_id, data, name=name, media_type=media_type, caption=caption
        )

    async def download(self, conversation_id: str, message_id: str) -> bytes:
        """Fetch, verify and decrypt the file of an attachment message."""
        return await self._engine.download(conversation_id, message_id)

    # --- assistant members (see `assistants`) ----------------------------------------------------

    async def assistants(self, conversation_id: str) -> list[AssistantMember]:
        """The assistant members of a conversation with their verified cards ("Pico (alice's assistant)")."""
        return await self._engine.assistants(conversation_id)

    async def add_assistant(self, conversation_id: str, device_id: str, *, owner: str | None = None) -> bool:
        """Add an assistant device (ours by default) to a conversation; False if it is there already.

        Raises `NotPermitted` if the conversation forbids assistants or the
        device is not an assistant, `ApprovalRequired` if the room wants an
        admin to add it (ask with `request_assistant`).
        """
        return await self._engine.add_assistant(conversation_id, owner or self.client.username, device_id)

    async def request_assistant(self, conversation_id: str, card: AssistantCard) -> Message:
        """Ask a room's admins to add our assistant: its signed card, which they see (`AssistantApprovalRequested`)."""
        return await self._engine.send(conversation_id, card)

    async def approve_assistant(self, conversation_id: str, owner: str, device_id: str) -> bool:
        """Admins: add ``owner``'s assistant device after its owner asked (`request_assistant`)."""
        return await self._engine.add_assistant(conversation_id, owner, device_id)

    async def remove_assistant(self, conversation_id: str, device_id: str) -> bool:
        """Remove an assistant member (its owner or an admin may); False if it is not there."""
        return await self._engine.remove_assistant(conversation_id, device_id)

    async def create_assistant_chat(self, device_id: str, *, name: str = "") -> Conversation:
        """This person's private chat with their own assistant (kind ``assistant``): only their devices in it."""
        return await self._engine.create_assistant_chat(device_id, name)

    def sign_assistant_card(self, card: AssistantCard) -> AssistantCard:
        """Sign ``card`` with this device's key as ``signer_device`` (a person's device: assistants cannot sign)."""
        identity = self.client.account.identity
        unsigned = card.model_copy(update={"signer_device": self.client.device_id, "signature": b""})
        return sign_card(unsigned, cipher_suite=identity.cipher_suite, private_key=identity.signature_private_key)

    # --- devices --------------------------------------------------------------------------------

    async def offer_link(self, *, ttl: float = 600.0) -> LinkOffer:
        """Start linking a new device: a one-time code to enter on it (then call `complete_link`)."""
        return await self._engine.offer_link(ttl)

    async def complete_link(self, offer: LinkOffer, *, timeout: float = 120.0) -> str:
        """Wait for the new device to answer ``offer``, register it, and add it to every conversation.

        Returns the new device's id. Raises `TimeoutError` if it does not answer in time.
        """
        return await self._engine.complete_link(offer, timeout)

    @staticmethod
    async def link_new_device(
        server_url: str,
        path: Path | str,
        key: KeySource,
        code: str,
        *,
        device_name: str = "",
        timeout: float = 120.0,
        **account_options: Any,
    ) -> Client:
        """On the NEW device: use a one-time code from an existing device; returns its (unstarted) `Client`.

        Attach `Conversations` to it and start it: the Welcomes of every
        conversation the existing device adds it to are waiting.
        """
        from .linking import link_new_device

        return await link_new_device(
            server_url, path, key, code, device_name=device_name, timeout=timeout, **account_options
        )
