"""Leaving a conversation: a self-remove proposal that another member commits (RFC 9420 §12.1.3).

A member cannot commit its own removal, so a person leaves by *proposing*
the removal of each of their devices (their own leaf: ``propose_leave``;
their other devices: ``propose_remove``). The proposals go through the
outbox, so they are sent even if the device is offline when leaving; the
conversation is marked left at once.

Every other member notes the departure (`RoomPolicy.departed`, kept with
the conversation) and the committer is chosen deterministically: the
remaining devices ranked by leaf index, the leaver's excluded; rank 0
commits at once, rank ``r`` after ``r × LeavePolicy.fallback_delay``
seconds if the leaver is still in the group then — so the leave completes
even if the first choice is offline. If a concurrent commit voids the
proposals (they only live one epoch), the chosen member removes the leaver
by value, which the room policy allows for announced departures. A leaver
still in the group after a commit (its proposals were lost) proposes again.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from typing import TYPE_CHECKING

from calpico.mls.group import ProposalReceived
from calpico.mls.proposals import ProposalType

from ..ids import new_client_id
from ..store import ConversationStatus, OutboxItem, Transaction
from .settings import username_of
from .state import Live

if TYPE_CHECKING:
    from .engine import EngineCore as Engine

__all__ = ["after_commit", "leave", "note_departure", "propose_leave_again"]

PROPOSAL = "proposal"


def _queue_proposals(engine: Engine, tx: Transaction, live: Live) -> None:
    group = live.group
    own = group.own_leaf_index
    messages = [group.propose_leave()]
    messages += [group.propose_remove(leaf) for leaf in live.people().get(engine.me, []) if leaf != own]
    live.message_dirty = True
    live.policy.departed.add(engine.me)
    live.conversation_dirty = True
    for message in messages:
        tx.put_outbox(
            OutboxItem(
                client_id=new_client_id(),
                group_id=live.conversation.group_id,
                kind=PROPOSAL,
                message=message.encode(),
                context=json.dumps({"conversation": live.id, "leave": True, "epoch": group.epoch}).encode(),
                created_at=engine.now(),
            )
        )


async def leave(engine: Engine, conversation_id: str) -> None:
    async with engine.transaction() as tx:
        live = await engine.live(tx, conversation_id)
        _queue_proposals(engine, tx, live)
        live.set_conversation(replace(live.conversation, status=ConversationStatus.LEFT, updated_at=engine.now()))
    await engine.flush_outbox_quietly()


async def propose_leave_again(engine: Engine, tx: Transaction, group_id: bytes, epoch: int) -> None:
    """Our leave proposals were refused as stale: propose again if our group has moved on since."""
    live = await engine.groups.get(tx, group_id)
    if live is None or not live.group.is_active or live.group.epoch <= epoch:
        return
    if live.conversation.status is ConversationStatus.LEFT and not await _pending_leave(tx, group_id):
        _queue_proposals(engine, tx, live)


async def _pending_leave(tx: Transaction, group_id: bytes) -> bool:
    return any(i.group_id == group_id and i.kind == PROPOSAL for i in await tx.outbox())


def note_departure(engine: Engine, tx: Transaction, live: Live, processed: ProposalReceived) -> None:
    """A member proposed removing its own person's device: they are leaving."""
    remove = processed.proposal.remove
    if remove is None or processed.sender_member is None:
        return
    sender = username_of(processed.sender_member.credential)
    if live.names.get(remove.removed) != sender:
        return
    if sender not in live.policy.departed:
        live.policy.departed.add(sender)
        live.conversation_dirty = True
    _schedule(engine, tx, live)


async def after_commit(engine: Engine, tx: Transaction, live: Live) -> None:
    """After every new epoch: forget departures that completed, re-propose our own, schedule others'."""
    present = set(live.people())
    gone = live.policy.departed - present
    if gone:
        live.policy.departed -= gone
        live.conversation_dirty = True
    if live.conversation.status is ConversationStatus.LEFT and engine.me in present:
        if not await _pending_leave(tx, live.conversation.group_id):
            _queue_proposals(engine, tx, live)
            tx.on_commit(lambda: engine.spawn(engine.flush_outbox_quietly()))
        return
    _schedule(engine, tx, live)


def _schedule(engine: Engine, tx: Transaction, live: Live) -> None:
    people = live.people()
    leaving = [n for n in live.policy.departed if n in people and n != engine.me]
    if not leaving or engine.me in live.policy.departed:
        return
    candidates = sorted(leaf for leaf, name in live.names.items() if name not in live.policy.departed)
    own = live.group.own_leaf_index
    if own not in candidates:
        return
    delay = candidates.index(own) * engine.leave_policy.fallback_delay
    conversation_id, group_id = live.id, live.conversation.group_id

    def start() -> None:
        old = engine.leave_timers.pop(group_id, None)
        if old is not None:
            old.cancel()
        loop = asyncio.get_running_loop()
        engine.leave_timers[group_id] = loop.call_later(
            delay, lambda: engine.spawn(commit_departures(engine, conversation_id))
        )

    tx.on_commit(start)


async def commit_departures(engine: Engine, conversation_id: str) -> None:
    from .engine import CommitPlan

    def plan(live: Live) -> CommitPlan:
        people = live.people()
        names = tuple(sorted(n for n in live.policy.departed if n in people and n != engine.me))
        if not names or engine.me in live.policy.departed:
            return CommitPlan()
        pending = {
            p.proposal.remove.removed
            for p in live.group.pending_proposals
            if p.proposal.proposal_type is ProposalType.remove and p.proposal.remove is not None
        }
        targets = tuple(leaf for name in names for leaf in people[name] if leaf not in pending)
        return CommitPlan(remove=targets, departed=names, pending=True)

    await engine.commit(conversation_id, plan)
