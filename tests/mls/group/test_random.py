"""A seeded, reproducible random run: adds, removes, updates, proposals by reference and messages.

The operations are drawn from `random.Random(seed)`, so a failure replays
with the same seed (key material still comes from the OS). After every
commit all members agree on epoch, epoch authenticator, tree hash and
exporter output (`Room.check_agreement`); now and then a member is saved
with ``to_bytes()`` and replaced by the restored copy, which must carry on.

The default run is short; set ``CALPICO_MLS_SOAK=<operations>`` for a soak run and
``CALPICO_MLS_SEEDS=1,2,3`` for more seeds.
"""

from __future__ import annotations

import os
import random

import pytest

from calpico.mls import ApplicationMessage, Group, ProposalReceived, StagedCommit

from .harness import SUITES, Room

OPERATIONS = int(os.environ.get("CALPICO_MLS_SOAK", "240"))


@pytest.mark.parametrize("suite", SUITES, ids=lambda s: f"cs{s:#06x}")
@pytest.mark.parametrize("seed", [int(s) for s in os.environ.get("CALPICO_MLS_SEEDS", "1").split(",")])
def test_random_operations(suite: int, seed: int) -> None:
    rnd = random.Random(seed)
    room = Room.with_members(8, suite)
    counts: dict[str, int] = {}
    names = iter(range(1000, 10**6))
    for _ in range(OPERATIONS):
        members = room.members
        op = rnd.choices(
            ["message", "add", "remove", "update", "propose", "commit_pending", "save_restore"],
            weights=[30, 10, 8, 8, 20, 12, 4],
        )[0]
        actor = rnd.choice(members)
        group = actor.group
        assert group is not None
        if op == "message":
            data = rnd.randbytes(rnd.randrange(1, 300))
            for event in room.deliver(actor, group.protect(data)).values():
                assert isinstance(event, ApplicationMessage) and event.data == data
                assert event.sender.leaf_index == group.own_leaf_index
        elif op == "add" or (op == "remove" and len(members) <= 4):
            joiners = [room.client(f"m{next(names)}") for _ in range(rnd.randrange(1, 3))]
            room.add(actor, joiners)
            op = "add"
        elif op == "remove":
            victim = rnd.choice([m for m in members if m is not actor])
            assert victim.group is not None
            result = group.commit(remove=[victim.group.own_leaf_index])
            room.deliver_commit(actor, result)
            assert not victim.group.is_active
            room.check_agreement()
        elif op == "update":
            room.deliver_commit(actor, group.commit(update=True))
            room.check_agreement()
        elif op == "propose":
            kind = rnd.choice(["update", "remove", "leave", "add"])
            if kind == "update":
                message = group.propose_update()
            elif kind == "add":
                newcomer = room.client(f"m{next(names)}")
                room.clients.append(newcomer)  # joins from the Welcome of whoever commits
                message = group.propose_add(newcomer.key_package().key_package)
            elif kind == "leave" and len(members) > 4:
                message = group.propose_leave()
            else:
                others = [m for m in members if m is not actor]
                target = rnd.choice(others).group
                assert target is not None
                message = group.propose_remove(target.own_leaf_index)
            for event in room.deliver(actor, message).values():
                assert isinstance(event, ProposalReceived)
            counts[f"propose_{kind}"] = counts.get(f"propose_{kind}", 0) + 1
        elif op == "commit_pending":
            commit_pending(room, rnd)
        else:
            restored = Group.from_bytes(group.to_bytes(), config=actor.config)
            assert restored.to_bytes() == group.to_bytes()
            actor.group = restored
        counts[op] = counts.get(op, 0) + 1
    commit_pending(room, rnd)
    assert set(counts) >= {"message", "add", "remove", "update", "commit_pending", "save_restore"}
    assert any(kind.startswith("propose_") for kind in counts)
    assert len(room.members) >= 4


def commit_pending(room: Room, rnd: random.Random) -> None:
    """A member that is not leaving commits every pending proposal; newcomers join from the Welcome."""
    candidates = []
    for member in room.members:
        assert member.group is not None
        me = member.group.own_leaf_index
        leaving = any(
            p.proposal.remove is not None and p.proposal.remove.removed == me for p in member.group.pending_proposals
        )
        if not leaving:
            candidates.append(member)
    committer = rnd.choice(candidates)
    assert committer.group is not None
    result = committer.group.commit()
    staged = room.deliver_commit(committer, result)
    removed = {name for name, s in staged.items() if isinstance(s, StagedCommit) and s.removes_us}
    if result.welcome is not None:
        room.join_waiting(result.welcome)
    room.check_agreement()
    assert all(c.group is not None and not c.group.is_active for c in room.clients if c.name in removed)
