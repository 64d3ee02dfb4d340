"""Joining a group from a Welcome (RFC 9420 §12.4.3.1) and checking who is in it.

The Welcome names our KeyPackage by reference; its private keys come from
the store (`KeyPackages.take`). After joining, every member's leaf is checked
against the directory (`Directory.check`) *before* the conversation is
stored or shown; a member the directory does not vouch for makes the join
fail (the message is skipped with `DeliveryFailed`). The device that sent
the Welcome is the inviter: someone we accepted (or ourselves, adding a
new device of ours) makes the conversation accepted; anyone else's lands in
"requests" (`InviteReceived`, or `MessageRequestReceived` for a DM).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from calpico.mls.group import Group
from calpico.mls.messages import MLSMessage
from calpico.mls.welcome import Welcome
from calpico.wire.accounts import DeviceKind
from calpico.wire.delivery import Delivered

from ..errors import CredentialMismatch
from ..events import Event
from ..identity import DeviceIdentity
from ..store import ConversationStatus, Transaction
from .settings import RoomPolicy
from .state import group_config

if TYPE_CHECKING:
    from .engine import EngineCore as Engine

__all__ = ["join_from_welcome"]


async def join_from_welcome(engine: Engine, tx: Transaction, delivered: Delivered) -> list[Event]:
    body = MLSMessage.decode(delivered.body).body
    if not isinstance(body, Welcome):
        raise CredentialMismatch("a Welcome delivery that holds no Welcome")
    existing = await tx.conversation_for_group(delivered.group_id)
    if existing is not None and existing.status is not ConversationStatus.LEFT:
        live = await engine.groups.get(tx, delivered.group_id)
        if live is not None and live.group.is_active:
            return []  # already in it (a Welcome for another of our KeyPackages)
    for secrets in body.secrets:
        key_package = await tx.key_package(bytes(secrets.new_member))
        if key_package is not None:
            break
    else:
        raise CredentialMismatch("a Welcome for none of this device's KeyPackages")
    bundle = engine.bundle(key_package.key_package, key_package.init_private_key, key_package.encryption_private_key)
    policy = RoomPolicy()
    signature_key = engine.client.account.identity.signature_private_key
    group = Group.join(body, bundle, signature_key, config=group_config(policy))
    if group.group_id != delivered.group_id:
        raise CredentialMismatch("a Welcome for another group than the server said")
    inviter = None
    assistants: list[str] = []
    for member in group.members():
        identity = await engine.directory.check(member.credential, member.signature_key)
        if identity.device_id == delivered.sender:
            inviter = identity.username
        if await engine.directory.kind(identity) is DeviceKind.ASSISTANT:
            assistants.append(identity.device_id)
    if inviter is None:
        raise CredentialMismatch(f"the Welcome's sender {delivered.sender} is not in the group")
    me = DeviceIdentity.from_credential(group.member(group.own_leaf_index).credential)  # type: ignore[union-attr]
    if me != engine.client.account.device_identity:
        raise CredentialMismatch("the Welcome put someone else in our leaf")
    if not key_package.last_resort:
        tx.delete_key_package(key_package.ref)
    return await engine.conversation_for_welcome(tx, group, policy, inviter, tuple(sorted(assistants)))
