"""Conversations: group records, the roster, and ordering handshake messages — RFC 9420 §12, §14.

Application messages (PrivateMessage) are checked against a cached roster —
the authenticated device must be a member — and handed to the
`MessageWriter`. Handshake messages (PublicMessage) run in their own
transaction:

1. ``UPDATE groups SET epoch = epoch + 1 ... WHERE epoch = :e RETURNING``
   for a commit (``epoch`` unchanged for a proposal). At most one commit per
   (group, epoch) can match, in any number of processes sharing the
   database; the loser gets `EpochConflict` with the current epoch.
2. The sender leaf must be the authenticated device (`NotAMember`).
3. A proposal is stored under its ProposalRef for the epoch; a commit's
   proposals (inline or by reference) update the roster with
   `roster.apply_commit`; Adds resolve to devices by KeyPackageRef; a user
   who blocked the committer (or accepts only contacts) cannot be added.
4. The commit goes into the log, then its Welcome (only for the devices it
   names), and memberships change: removed devices read up to the commit,
   added ones from just after it.

Any failure rolls the whole transaction back, epoch included.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from calpico.wire.common import ErrorCode, b64encode
from calpico.wire.delivery import MessageKind
from calpico.wire.groups import GroupMember

from ..config import ServerConfig
from ..db.models import devices, groups, key_packages, memberships, messages, proposals, users, welcome_targets
from ..errors import (
    BadRequest,
    Conflict,
    EpochConflict,
    InvalidHandshake,
    NotAMember,
    NotFound,
    PayloadTooLarge,
    StaleEpoch,
)
from . import metrics
from .auth import Principal
from .delivery import MessageWriter, PendingSend, SendOutcome
from .directory import may_contact
from .events import KIND_CODES, encode_event, message_frame
from .handshake import ContentType, InspectedMessage, inspect_message, inspect_welcome, summarise_stored_proposal
from .roster import apply_commit

__all__ = ["GroupService", "GroupState"]

_PROPOSAL = KIND_CODES[MessageKind.PROPOSAL]
_COMMIT = KIND_CODES[MessageKind.COMMIT]
_WELCOME = KIND_CODES[MessageKind.WELCOME]


@dataclass(frozen=True, slots=True)
class GroupState:
    group_id: bytes
    cipher_suite: int
    epoch: int
    devices: frozenset[str]


class GroupService:
    def __init__(
        self,
        engine: AsyncEngine,
        config: ServerConfig,
        writer: MessageWriter,
        publish: Callable[[bytes], Awaitable[None]],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._engine = engine
        self._config = config
        self._writer = writer
        self._publish = publish
        self._clock = clock
        self._cache: dict[bytes, GroupState] = {}

    # --- roster cache ---------------------------------------------------------

    def invalidate(self, group_id: bytes) -> None:
        """Forget the cached roster (every process does this on a roster-change event)."""
        self._cache.pop(group_id, None)

    async def state(self, group_id: bytes) -> GroupState:
        cached = self._cache.get(group_id)
        if cached is not None:
            return cached
        async with self._engine.connect() as conn:
            g = (
                await conn.execute(select(groups.c.cipher_suite, groups.c.epoch).where(groups.c.group_id == group_id))
            ).first()
            if g is None:
                raise NotFound("no such group")
            devs = (
                await conn.execute(
                    select(memberships.c.device_id).where(
                        memberships.c.group_id == group_id, memberships.c.left_seq.is_(None)
                    )
                )
            ).scalars()
            state = GroupState(group_id, int(g.cipher_suite), int(g.epoch), frozenset(devs))
        if len(self._cache) > 50_000:
            self._cache.clear()
        self._cache[group_id] = state
        return state

    # --- records ------------------------------------------------------------------

    async def create(self, principal: Principal, group_id: bytes, cipher_suite: int) -> GroupState:
        """A new group at epoch 0 whose only member (leaf 0) is the calling device."""
        now = self._clock()
        try:
            async with self._engine.begin() as conn:
                await conn.execute(
                    insert(groups).values(
                        group_id=group_id, cipher_suite=cipher_suite, epoch=0, last_seq=0, created_at=now
                    )
                )
                await conn.execute(
                    insert(memberships).values(
                        group_id=group_id,
                        device_id=principal.device_id,
                        leaf_index=0,
                        joined_seq=0,
                        left_seq=None,
                        acked_seq=0,
                    )
                )
        except IntegrityError:
            raise Conflict("a group with this id exists", code=ErrorCode.GROUP_EXISTS) from None
        self.invalidate(group_id)
        # The creator's live push connection joins the group at once (as an Add's roster item does for
        # added devices); without it the creator saw nothing of the group until it reconnected.
        await self._publish(encode_event([["r", b64encode(group_id), 0, [[principal.device_id, 0]], []]]))
        return GroupState(group_id, cipher_suite, 0, frozenset({principal.device_id}))

    async def info(self, principal: Principal, group_id: bytes) -> tuple[GroupState, list[GroupMember]]:
        """The group's epoch and roster; only for members."""
        async with self._engine.connect() as conn:
            g = (
                await conn.execute(select(groups.c.cipher_suite, groups.c.epoch).where(groups.c.group_id == group_id))
            ).first()
            if g is None:
                raise NotFound("no such group")
            rows = (
                await conn.execute(
                    select(memberships.c.leaf_index, memberships.c.device_id, users.c.username)
                    .join(devices, devices.c.id == memberships.c.device_id)
                    .join(users, users.c.id == devices.c.user_id)
                    .where(memberships.c.group_id == group_id, memberships.c.left_seq.is_(None))
                    .order_by(memberships.c.leaf_index)
                )
            ).all()
        if principal.device_id not in {r.device_id for r in rows}:
            raise NotAMember("you are not a member of this group")
        members = [GroupMember(leaf_index=r.leaf_index, device_id=r.device_id, username=r.username) for r in rows]
        return GroupState(group_id, int(g.cipher_suite), int(g.epoch), frozenset(r.device_id for r in rows)), members

    # --- sending ---------------------------------------------------------------------

    async def send(
        self, principal: Principal, group_id: bytes, client_id: str, message: bytes, welcome: bytes | None
    ) -> SendOutcome:
        """Accept one MLSMessage for the group and wait until it is stored (rules: module docstring)."""
        return await await_outcome(await self.submit(principal, group_id, client_id, message, welcome))

    async def submit(
        self, principal: Principal, group_id: bytes, client_id: str, message: bytes, welcome: bytes | None
    ) -> asyncio.Future[SendOutcome]:
        """Check a message and queue it; the returned future resolves once it is stored.

        Application messages are queued in call order, so a device that
        pipelines sends over its WebSocket keeps its order. Handshake messages
        are processed before this returns.
        """
        if len(message) > self._config.max_message_size or (welcome and len(welcome) > self._config.max_message_size):
            raise PayloadTooLarge("message too large")
        state = await self.state(group_id)
        inspected = inspect_message(message, state.cipher_suite)
        if inspected.group_id != group_id:
            raise BadRequest("the message is for another group")
        if inspected.content_type is ContentType.application:
            if principal.device_id not in state.devices:
                raise NotAMember("you are not a member of this group")
            if welcome is not None:
                raise BadRequest("a Welcome goes with the commit that adds its members")
            return self._writer.submit(PendingSend(group_id, inspected.epoch, principal.device_id, client_id, message))
        try:
            outcome, event = await self._handshake(principal, state, inspected, client_id, message, welcome)
        except Exception as exc:
            metrics.HANDSHAKES.labels(inspected.content_type.name, type(exc).__name__).inc()
            raise
        metrics.HANDSHAKES.labels(inspected.content_type.name, "accepted").inc()
        self.invalidate(group_id)
        if event is not None:
            await self._publish(event)
        done: asyncio.Future[SendOutcome] = asyncio.get_running_loop().create_future()
        done.set_result(outcome)
        return done

    async def _handshake(
        self,
        principal: Principal,
        state: GroupState,
        msg: InspectedMessage,
        client_id: str,
        body: bytes,
        welcome: bytes | None,
    ) -> tuple[SendOutcome, bytes | None]:
        group_id = state.group_id
        is_commit = msg.content_type is ContentType.commit
        if welcome is not None and not is_commit:
            raise BadRequest("a Welcome goes with the commit that adds its members")
        now = self._clock()
        async with self._engine.begin() as conn:
            dup = (
                await conn.execute(
                    select(messages.c.seq, messages.c.epoch).where(
                        messages.c.group_id == group_id,
                        messages.c.sender == principal.device_id,
                        messages.c.client_id == client_id,
                    )
                )
            ).first()
            if dup is not None:
                return SendOutcome(int(dup.seq), int(dup.epoch), duplicate=True), None
            count = 2 if welcome is not None else 1
            values: dict[str, Any] = {"last_seq": groups.c.last_seq + count}
            if is_commit:
                values["epoch"] = groups.c.epoch + 1
            row = (
                await conn.execute(
                    update(groups)
                    .where(groups.c.group_id == group_id, groups.c.epoch == msg.epoch)
                    .values(**values)
                    .returning(groups.c.last_seq, groups.c.epoch)
                )
            ).first()
            if row is None:
                current = int(
                    (await conn.execute(select(groups.c.epoch).where(groups.c.group_id == group_id))).scalar_one()
                )
                if is_commit:
                    raise EpochConflict(
                        f"epoch {msg.epoch} already has a commit; the group is at epoch {current}",
                        current_epoch=current,
                    )
                raise StaleEpoch(f"the group is at epoch {current}", current_epoch=current)
            seq = int(row.last_seq) - count + 1
            new_epoch = int(row.epoch)
            roster = {
                int(r.leaf_index): r.device_id
                for r in await conn.execute(
                    select(memberships.c.leaf_index, memberships.c.device_id).where(
                        memberships.c.group_id == group_id, memberships.c.left_seq.is_(None)
                    )
                )
            }
            if msg.sender_leaf is None or roster.get(msg.sender_leaf) != principal.device_id:
                raise NotAMember("the message's sender leaf is not your device")
            kind = _COMMIT if is_commit else _PROPOSAL
            rows = [_row(group_id, seq, kind, msg.epoch, principal.device_id, client_id, body, now)]
            targets: list[str] = []
            added: dict[int, str] = {}
            removed: dict[int, str] = {}
            if not is_commit:
                assert msg.proposal_ref is not None and msg.proposal_body is not None
                try:
                    async with conn.begin_nested():
                        await conn.execute(
                            insert(proposals).values(
                                group_id=group_id,
                                epoch=msg.epoch,
                                ref=msg.proposal_ref,
                                sender_leaf=msg.sender_leaf,
                                body=msg.proposal_body,
                            )
                        )
                except IntegrityError:
                    raise InvalidHandshake("this proposal was already sent in this epoch") from None
            else:
                added, removed = await self._apply_commit(conn, principal, state, msg, roster, seq)
                if welcome is not None:
                    targets = await self._welcome_targets(conn, state, welcome, set(added.values()))
                    welcome_id = f"{client_id}:welcome"[:64]
                    rows.append(
                        _row(group_id, seq + 1, _WELCOME, new_epoch, principal.device_id, welcome_id, welcome, now)
                    )
                    await conn.execute(
                        insert(welcome_targets),
                        [{"group_id": group_id, "seq": seq + 1, "device_id": d} for d in targets],
                    )
                elif added:
                    raise InvalidHandshake("a commit that adds members must bring their Welcome")
                await conn.execute(
                    delete(proposals).where(proposals.c.group_id == group_id, proposals.c.epoch <= msg.epoch)
                )
            await conn.execute(insert(messages), rows)
        g = b64encode(group_id)
        me = principal.device_id
        items: list[list[Any]] = [["m", g, rows[0]["seq"], _frame(g, rows[0]), None, me]]
        if is_commit:
            items.append(["r", g, new_epoch, [[d, seq] for d in added.values()], list(removed.values())])
        if len(rows) > 1:
            items.append(["m", g, rows[1]["seq"], _frame(g, rows[1]), targets, me])
        return SendOutcome(seq, new_epoch), encode_event(items)

    async def _apply_commit(
        self,
        conn: AsyncConnection,
        principal: Principal,
        state: GroupState,
        msg: InspectedMessage,
        roster: dict[int, str],
        seq: int,
    ) -> tuple[dict[int, str], dict[int, str]]:
        assert msg.commit is not None
        summaries = list(msg.commit.inline)
        for ref in msg.commit.references:
            stored = (
                await conn.execute(
                    select(proposals.c.body).where(
                        proposals.c.group_id == state.group_id, proposals.c.epoch == msg.epoch, proposals.c.ref == ref
                    )
                )
            ).first()
            if stored is None:
                raise InvalidHandshake("the commit references a proposal this server has not seen in this epoch")
            summaries.append(summarise_stored_proposal(stored.body, state.cipher_suite))
        removes = [s.remove for s in summaries if s.remove is not None]
        if msg.sender_leaf in removes:
            raise InvalidHandshake("a commit cannot remove its own sender (RFC 9420 §12.2)")
        add_refs = [s.add_ref for s in summaries if s.add_ref is not None]
        add_devices: list[str] = []
        if add_refs:
            found = {
                r.ref: r
                for r in await conn.execute(
                    select(key_packages.c.ref, key_packages.c.device_id, devices.c.user_id)
                    .join(devices, devices.c.id == key_packages.c.device_id)
                    .where(key_packages.c.ref.in_(add_refs), devices.c.revoked_at.is_(None))
                )
            }
            for ref in add_refs:
                hit = found.get(ref)
                if hit is None:
                    raise InvalidHandshake(
                        "an Add carries a KeyPackage no active device uploaded", code=ErrorCode.UNKNOWN_KEY_PACKAGE
                    )
                await may_contact(conn, int(hit.user_id), principal.user_id)
                add_devices.append(hit.device_id)
        try:
            change = apply_commit(roster, removes, add_devices)
        except ValueError as exc:
            raise InvalidHandshake(str(exc)) from None
        for device_id in change.removed.values():
            await conn.execute(
                update(memberships)
                .where(
                    memberships.c.group_id == state.group_id,
                    memberships.c.device_id == device_id,
                    memberships.c.left_seq.is_(None),
                )
                .values(left_seq=seq, leaf_index=None)
            )
        if change.added:
            await conn.execute(
                insert(memberships),
                [
                    {
                        "group_id": state.group_id,
                        "device_id": device_id,
                        "leaf_index": leaf,
                        "joined_seq": seq,
                        "left_seq": None,
                        "acked_seq": seq,
                    }
                    for leaf, device_id in change.added.items()
                ],
            )
        return change.added, change.removed

    async def _welcome_targets(
        self, conn: AsyncConnection, state: GroupState, welcome: bytes, added: set[str]
    ) -> list[str]:
        suite, refs = inspect_welcome(welcome)
        if suite != state.cipher_suite:
            raise InvalidHandshake("the Welcome's cipher suite is not the group's")
        if not refs:
            raise InvalidHandshake("the Welcome names no new member")
        found = dict(
            (r.ref, r.device_id)
            for r in await conn.execute(
                select(key_packages.c.ref, key_packages.c.device_id).where(key_packages.c.ref.in_(refs))
            )
        )
        targets = []
        for ref in refs:
            device_id = found.get(ref)
            if device_id is None or device_id not in added:
                raise InvalidHandshake(
                    "the Welcome is for a KeyPackage this commit does not add", code=ErrorCode.UNKNOWN_KEY_PACKAGE
                )
            targets.append(device_id)
        return sorted(set(targets))


def _row(
    group_id: bytes, seq: int, kind: int, epoch: int, sender: str, client_id: str, body: bytes, now: float
) -> dict[str, Any]:
    return {
        "group_id": group_id,
        "seq": seq,
        "kind": kind,
        "epoch": epoch,
        "sender": sender,
        "client_id": client_id,
        "body": body,
        "created_at": now,
    }


def _frame(g: str, r: dict[str, Any]) -> str:
    return message_frame(g, r["seq"], r["epoch"], r["kind"], r["sender"], r["client_id"], r["body"], r["created_at"])


async def await_outcome(future: asyncio.Future[SendOutcome]) -> SendOutcome:
    return await future
