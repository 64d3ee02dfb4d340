"""The Calpico GroupContext extension (room settings) and the room policy every client enforces.

Every conversation's GroupContext carries one private-use extension,
`CALPICO_SETTINGS` (0xF0CA, RFC 9420 §17.3 "private use"), whose payload is
a small versioned JSON object::

    {"v":1,"kind":"room","admins":["alice"],"assistant_policy":"mention","disappearing":0}

(plus ``"assistant_approval":true`` when admins must approve assistants;
left out otherwise, so older encodings stay byte-identical and older
clients, which ignore keys they do not know, still read it). ``kind`` is
``dm``, ``room`` or ``assistant`` (a person's private chat with their own
assistant, whose members are that person's devices only).

The room's *name and topic are not in it*: GroupContextExtensions travel in
PublicMessage commits, which the server reads (it follows the roster), so
anything in the extension is visible to the server. Names and topics are
content; they travel in encrypted `RoomUpdate` application messages
(`content`), accepted from admins. The extension holds the policy: the kind,
the admins (usernames, which the server knows anyway), the assistant policy
and the disappearing timer (a number the server can see change).

The type is listed in the group's ``required_capabilities`` (§11.1), so only
devices whose leaves list it can join, and every member processes changes
to it. It changes only through GroupContextExtensions commits.

`RoomPolicy` is the `GroupPolicy` hook (`calpico.mls.group.config`): every
client runs it on every proposal and commit it creates or receives, so a
commit breaking the rules is refused by all honest members. The rules:

- only members send proposals and commits (no external senders);
- Add: an admin adds anyone; anyone adds devices of their own person (a
  newly linked device);
- Remove: an admin removes anyone; anyone removes their own devices (leaving
  is a self-remove); anyone removes a person who announced leaving
  (``departed``: their self-remove proposal was seen but lost to a
  concurrent commit, so someone else removes them by value);
- GroupContextExtensions (admins, assistant policy, timer):
  admins only, and the Calpico extension must stay present and valid;
- Update: anyone, for their own leaf; PSK, ReInit, ExternalInit: refused.

Admins are the usernames listed in the extension *that still have a device
in the group*; if none is left, every member counts as an admin, so a room
never becomes unmanageable. In a DM both people are admins.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

from calpico.mls.credentials import Credential
from calpico.mls.errors import ProtocolError
from calpico.mls.extensions import Extension, RequiredCapabilities, find_extension
from calpico.mls.framing import Sender, SenderType
from calpico.mls.group import PolicyContext, ProposalInContext
from calpico.mls.proposals import ProposalType
from calpico.mls.tree.ratchet_tree import RatchetTree
from calpico.wire.app import AssistantPolicy

from ..errors import CredentialMismatch
from ..identity import DeviceIdentity
from ..keypackages import CALPICO_SETTINGS_EXTENSION, device_capabilities
from .model import KINDS, RoomSettings

__all__ = [
    "CALPICO_SETTINGS",
    "RoomPolicy",
    "capabilities",
    "decode_settings",
    "encode_settings",
    "group_extensions",
    "settings_of",
    "username_of",
]

CALPICO_SETTINGS = CALPICO_SETTINGS_EXTENSION
"""The private-use ExtensionType of the Calpico settings extension."""


capabilities = device_capabilities


def encode_settings(settings: RoomSettings) -> bytes:
    obj: dict[str, object] = {
        "v": 1,
        "kind": settings.kind,
        "admins": sorted(set(settings.admins)),
        "assistant_policy": settings.assistant_policy.value,
        "disappearing": settings.disappearing_seconds,
    }
    if settings.assistant_approval:
        obj["assistant_approval"] = True
    return json.dumps(obj, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode("utf-8")


def decode_settings(data: bytes) -> RoomSettings:
    """Raises `ProtocolError` for a payload that is not a valid version-1 settings object."""
    try:
        obj = json.loads(data)
        if not isinstance(obj, dict) or obj.get("v") != 1 or obj.get("kind") not in KINDS:
            raise ValueError("not version-1 settings")
        admins = obj.get("admins", [])
        disappearing = obj.get("disappearing", 0)
        if not isinstance(admins, list) or not all(isinstance(a, str) for a in admins):
            raise ValueError("admins")
        if type(disappearing) is not int or not 0 <= disappearing <= 366 * 86_400:
            raise ValueError("disappearing")
        approval = obj.get("assistant_approval", False)
        if type(approval) is not bool:
            raise ValueError("assistant_approval")
        return RoomSettings(
            kind=obj["kind"],
            admins=tuple(admins),
            assistant_policy=AssistantPolicy(obj.get("assistant_policy", "mention")),
            disappearing_seconds=disappearing,
            assistant_approval=approval,
        )
    except (ValueError, TypeError, UnicodeDecodeError) as exc:
        raise ProtocolError(f"the Calpico settings extension is malformed: {exc}", section="12.2") from None


def group_extensions(settings: RoomSettings) -> tuple[Extension, ...]:
    """The GroupContext extensions of a conversation: required_capabilities + the settings."""
    required = Extension.of(RequiredCapabilities(extension_types=(CALPICO_SETTINGS,)))
    return required, Extension(CALPICO_SETTINGS, encode_settings(settings))


def settings_of(extensions: Iterable[Extension]) -> RoomSettings:
    """The settings in a GroupContext's extensions; raises `ProtocolError` if absent or malformed."""
    ext = find_extension(extensions, CALPICO_SETTINGS)
    if ext is None:
        raise ProtocolError("the group has no Calpico settings extension", section="12.2")
    return decode_settings(ext.extension_data)


def with_settings(extensions: Sequence[Extension], settings: RoomSettings) -> tuple[Extension, ...]:
    """``extensions`` with the settings extension replaced (others kept in place)."""
    new = Extension(CALPICO_SETTINGS, encode_settings(settings))
    return tuple(new if e.extension_type == CALPICO_SETTINGS else e for e in extensions)


def username_of(credential: Credential) -> str:
    """The person a leaf belongs to; raises `ProtocolError` for a credential that names no Calpico device."""
    try:
        return DeviceIdentity.from_credential(credential).username
    except CredentialMismatch as exc:
        raise ProtocolError(str(exc), section="5.3.1") from None


def _usernames(tree: RatchetTree) -> dict[int, str]:
    return {int(i): username_of(leaf.credential) for i, leaf in tree.members()}


def effective_admins(settings: RoomSettings, members: Iterable[str]) -> frozenset[str]:
    """The listed admins still in the group; everyone if none is left."""
    present = set(members)
    listed = present & set(settings.admins)
    return frozenset(listed or present)


@dataclass(slots=True)
class RoomPolicy:
    """The `GroupPolicy` of one conversation (see the module docstring).

    ``departed`` holds the usernames whose self-remove proposals this device
    has seen: the engine adds to it as they arrive and keeps it with the
    conversation, so removing them by value stays allowed on every member.
    """

    departed: set[str] = field(default_factory=set)

    def _sender(self, names: dict[int, str], sender: Sender) -> str:
        if sender.sender_type is not SenderType.member or sender.leaf_index is None:
            raise ProtocolError("only members may propose or commit in a Calpico group", section="12.2")
        name = names.get(sender.leaf_index)
        if name is None:
            raise ProtocolError("the sender's leaf is empty", section="12.2")
        return name

    def _check(self, context: PolicyContext, names: dict[int, str], item: ProposalInContext) -> None:
        sender = self._sender(names, item.sender)
        proposal = item.proposal
        kind = proposal.proposal_type
        admins = effective_admins(settings_of(context.old_extensions), names.values())
        if kind is ProposalType.add:
            assert proposal.add is not None
            added = username_of(proposal.add.key_package.leaf_node.credential)
            if sender not in admins and added != sender:
                raise ProtocolError(f"{sender} is not an admin and may only add their own devices", section="12.2")
        elif kind is ProposalType.remove:
            assert proposal.remove is not None
            removed = names.get(proposal.remove.removed)
            if removed is None:
                return  # the RFC's own checks refuse a blank leaf
            if sender not in admins and removed != sender and removed not in self.departed:
                raise ProtocolError(f"{sender} is not an admin and may not remove {removed}", section="12.2")
        elif kind is ProposalType.group_context_extensions:
            if sender not in admins:
                raise ProtocolError(f"{sender} is not an admin and may not change the room", section="12.2")
            assert proposal.group_context_extensions is not None
            settings_of(proposal.group_context_extensions.extensions)
        elif kind is ProposalType.update:
            return
        else:
            raise ProtocolError(f"{kind.name} proposals are not used in Calpico groups", section="12.2")

    def check_proposal(self, context: PolicyContext, proposal: ProposalInContext) -> None:
        self._check(context, _usernames(context.tree), proposal)

    def check_commit(self, context: PolicyContext, committer: Sender, proposals: Sequence[ProposalInContext]) -> None:
        names = _usernames(context.tree)
        self._sender(names, committer)
        for item in proposals:
            self._check(context, names, item)
        settings_of(context.new_extensions)


def changed(settings: RoomSettings, **changes: object) -> RoomSettings:
    """``settings`` with some fields replaced (names as in `RoomSettings`)."""
    return replace(settings, **changes)  # type: ignore[arg-type]
