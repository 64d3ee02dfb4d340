"""Assistant members as every member's client sees them (ARCHITECTURE §5): who is one, whose, and its card.

An assistant is a device of its owner's account (its credential names the
owner, ``alice:<device>``) that one of the owner's own devices registered
with ``kind="assistant"`` in the directory (`calpico.wire.accounts.DeviceKind`).
It is *not* one of Alice's devices to the others: a plain claim of Alice's
KeyPackages never hands it out, so it is in exactly the conversations it
was added to by name; its leaf is listed apart from Alice's devices
(`Participant.assistants`), its arrival is ``MemberJoined(assistant=True)``
and it never changes Alice's safety number.

**The card** (`calpico.wire.app.AssistantCard`) is what members show:
"Pico (Alice's assistant)", its model, provider, where inference runs, what
it retains. A card is accepted only if all of this holds (`check_card`):

1. it was sent by its owner: by the assistant device itself or by one of
   the owner's person devices (a card about Alice's assistant from Bob is
   a forgery);
2. the device it names is an assistant of that owner in the directory, and
   ``assistant_key`` is that device's signature key — and, when the device
   is in the group, its leaf's key;
3. ``signer_device`` is one of the owner's *person* devices and the
   signature (SignWithLabel ``"calpico assistant card"`` with that
   device's key, over `card_content`) verifies: an assistant cannot sign
   its own card, so a compromised assistant host cannot rename itself;
4. its ``revision`` is newer than the card accepted before (an equal
   revision with the same content is a repeat and ignored; anything older,
   or different content under the same revision, is refused).

A refused card changes nothing and is reported (`AssistantCardRejected`).
Until a card is accepted, the leaf shows as "Alice's assistant
(unverified)", never under a name it chose itself. Since the owner's person
devices are what a safety-number comparison covers, a verified contact's
assistant is verified through that chain, not by trusting the server.

**Admission** (`check_admission`): every member refuses a commit that adds
an assistant to a conversation whose policy is ``none``, an assistant added
by a non-admin where the room requires approval, or an assistant whose owner
is not in the conversation.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

from calpico.mls.crypto import get_suite
from calpico.mls.errors import MLSError
from calpico.wire.accounts import DeviceKind
from calpico.wire.app import AssistantCard, AssistantPolicy, decode_app_message

from ..errors import ApprovalRequired, CardRejected, CredentialMismatch, NotPermitted
from ..identity import DeviceIdentity
from .directory import Directory
from .state import Live

__all__ = [
    "ASSISTANT_CARD_LABEL",
    "AssistantMember",
    "card_content",
    "check_admission",
    "check_card",
    "sign_card",
]

ASSISTANT_CARD_LABEL = b"calpico assistant card"
"""The SignWithLabel label (RFC 9420 §5.1.2) of the owner device's signature over a card."""

_ENVELOPE = {"v", "type", "id", "sent_at", "signature"}


@dataclass(frozen=True, slots=True)
class AssistantMember:
    """An assistant member of a conversation: its device, its owner, and its verified card (if any yet)."""

    device_id: str
    owner: str
    card: AssistantCard | None = None

    @property
    def verified(self) -> bool:
        return self.card is not None

    @property
    def display_name(self) -> str:
        """How members show it: ``Pico (alice's assistant)``, or ``alice's assistant (unverified)``."""
        if self.card is None:
            return f"{self.owner}'s assistant (unverified)"
        return f"{self.card.name} ({self.owner}'s assistant)"


def card_content(card: AssistantCard) -> bytes:
    """The signed bytes of a card: its fields but the envelope and the signature, as sorted compact JSON."""
    fields = card.model_dump(mode="json", exclude=_ENVELOPE, exclude_none=True)
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def sign_card(card: AssistantCard, *, cipher_suite: int, private_key: bytes) -> AssistantCard:
    """``card`` with its ``signature`` made by the device whose private signature key this is."""
    signature = get_suite(cipher_suite).sign_with_label(private_key, ASSISTANT_CARD_LABEL, card_content(card))
    return card.model_copy(update={"signature": signature})


def _leaf_key(live: Live, identity: DeviceIdentity) -> bytes | None:
    wanted = identity.encode()
    for member in live.group.members():
        if member.credential.identity == wanted:
            return bytes(member.signature_key)
    return None


def current_card(live: Live, device_id: str) -> AssistantCard | None:
    """The card accepted for an assistant member of this conversation, if any."""
    raw = live.extra.card(device_id)
    if raw is None:
        return None
    card = decode_app_message(raw.encode("utf-8"))
    return card if isinstance(card, AssistantCard) else None


async def check_card(
    directory: Directory, live: Live, sender: str, sender_device: str, card: AssistantCard
) -> AssistantCard | None:
    """Check a card received in ``live`` (see the module docstring); return the card it replaces.

    Returns the previous card unchanged (identity) when ``card`` merely repeats
    it. Raises `CardRejected` naming the failed check.
    """
    owner = card.owner
    if sender != owner:
        raise CardRejected(f"{sender} sent a card for {owner}'s assistant")
    try:
        assistant = DeviceIdentity(owner, card.assistant_device)
    except CredentialMismatch as exc:  # not even a device name
        raise CardRejected(f"the card names no valid device: {exc}") from None
    if sender_device != card.assistant_device:
        sender_kind = await directory.kind(DeviceIdentity(owner, sender_device))
        if sender_kind is not DeviceKind.PERSON:
            raise CardRejected("a card may be sent only by the assistant itself or by its owner's own devices")
    listed = await directory.info(owner, card.assistant_device)
    if listed is None or listed.kind is not DeviceKind.ASSISTANT:
        raise CardRejected(f"{assistant} is not an assistant device of {owner}")
    if card.assistant_key is None or bytes(card.assistant_key) != bytes(listed.signature_key):
        raise CardRejected(f"the card does not carry the key of {assistant}")
    leaf = _leaf_key(live, assistant)
    if leaf is not None and leaf != bytes(card.assistant_key):
        raise CardRejected(f"the card's key is not the one of {assistant}'s leaf")
    signer = await directory.info(owner, card.signer_device)
    if signer is None or signer.kind is not DeviceKind.PERSON:
        raise CardRejected(f"the card is not signed by a device of {owner} (signer {card.signer_device})")
    try:
        get_suite(signer.cipher_suite).verify_with_label(
            bytes(signer.signature_key), ASSISTANT_CARD_LABEL, card_content(card), bytes(card.signature)
        )
    except MLSError:
        raise CardRejected(f"the card's signature does not verify with {owner}'s device {signer.device_id}") from None
    previous = current_card(live, card.assistant_device)
    if previous is not None:
        if card.revision < previous.revision:
            raise CardRejected(f"an older card (revision {card.revision} < {previous.revision})")
        if card.revision == previous.revision:
            if card_content(card) == card_content(previous):
                return previous
            raise CardRejected(f"a different card under the same revision {card.revision}")
    return previous


def changed_fields(old: AssistantCard | None, new: AssistantCard) -> tuple[str, ...]:
    """The card fields a member would see change (empty for a first card)."""
    if old is None:
        return ()
    names = ("name", "personality", "model", "provider", "inference", "inference_host", "retention")
    return tuple(n for n in names if getattr(old, n) != getattr(new, n))


def members_of(live: Live) -> list[AssistantMember]:
    """The assistant members of a conversation, with their accepted cards."""
    found = []
    present = set(live.extra.assistants)
    for member in live.group.members():
        identity = DeviceIdentity.from_credential(member.credential)
        if identity.device_id in present:
            found.append(AssistantMember(identity.device_id, identity.username, current_card(live, identity.device_id)))
    return sorted(found, key=lambda m: (m.owner, m.device_id))


def check_admission(live: Live, committer: str, added: Iterable[DeviceIdentity], owners_after: set[str]) -> None:
    """Refuse adding assistants against the room's policy; raises `NotPermitted` / `ApprovalRequired`.

    ``owners_after``: usernames with a person device in the group after the commit.
    """
    added = list(added)
    if not added:
        return
    settings = live.settings
    if settings.assistant_policy is AssistantPolicy.NONE:
        raise NotPermitted("this conversation does not allow assistants")
    if settings.assistant_approval and committer not in live.admins():
        raise ApprovalRequired("an admin must approve assistants in this room")
    for identity in added:
        if identity.username not in owners_after:
            raise NotPermitted(f"{identity.username}'s assistant cannot be in a conversation without its owner")
