"""Person-level events of a commit: compare the group before and after.

A person's devices show up as one person: the first device of someone
entering the group is "joined" (`MemberJoined`), a further device of someone
already there is `MemberJoined` with its ``device_id`` (a newly linked
device; the client also re-checks that person's keys, which warns with
`ContactKeysChanged`). Someone whose last device is removed "left" if they
proposed it themselves (or announced leaving), and was "removed" by the
committer otherwise. Changes to the settings extension become
`DisappearingTimerChanged` and `RoomUpdated` (names and topics change by
`RoomUpdate` messages instead: `content`).

Assistant members (`assistants`) are not their owner's devices: one
arriving is ``MemberJoined(owner, device_id=…, assistant=True)``, one
leaving is `AssistantRemoved`; they never make their owner "join" or "leave".
"""

from __future__ import annotations

from dataclasses import dataclass

from ..events import (
    AssistantRemoved,
    DisappearingTimerChanged,
    Event,
    MemberJoined,
    MemberLeft,
    MemberRemoved,
    RoomUpdated,
)
from .model import RoomSettings
from .settings import username_of
from .state import Live

__all__ = ["Snapshot", "commit_events", "snapshot"]


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Who was in the group (username → their own device ids; assistants apart) and its settings."""

    devices: dict[str, frozenset[str]]
    settings: RoomSettings
    assistants: dict[str, str]  # assistant device id → owner

    @property
    def device_ids(self) -> frozenset[str]:
        return frozenset(d for ds in self.devices.values() for d in ds) | frozenset(self.assistants)


def snapshot(live: Live) -> Snapshot:
    devices: dict[str, set[str]] = {}
    assistants: dict[str, str] = {}
    known = set(live.extra.assistants)
    for member in live.group.members():
        identity = (member.credential.identity or b"").decode("ascii", "replace")
        name, device = username_of(member.credential), identity.partition(":")[2]
        if device in known:
            assistants[device] = name
        else:
            devices.setdefault(name, set()).add(device)
    return Snapshot({k: frozenset(v) for k, v in devices.items()}, live.settings, assistants)


def commit_events(live: Live, before: Snapshot, committer: str, left: set[str]) -> list[Event]:
    after = snapshot(live)
    cid = live.id
    events: list[Event] = []
    for device, owner in sorted(after.assistants.items()):
        if device not in before.assistants:
            events.append(MemberJoined(cid, owner, by=committer, device_id=device, assistant=True))
    for device, owner in sorted(before.assistants.items()):
        if device not in after.assistants:
            events.append(AssistantRemoved(cid, owner, device, committer))
    for name in sorted(after.devices):
        if name not in before.devices:
            events.append(MemberJoined(cid, name, by=committer))
        else:
            for device in sorted(after.devices[name] - before.devices[name]):
                events.append(MemberJoined(cid, name, by=committer, device_id=device))
    for name in sorted(before.devices):
        if name not in after.devices:
            if name in left or name == committer:
                events.append(MemberLeft(cid, name))
            else:
                events.append(MemberRemoved(cid, name, committer))
    old, new = before.settings, after.settings
    if new.disappearing_seconds != old.disappearing_seconds:
        events.append(DisappearingTimerChanged(cid, new.disappearing_seconds, committer))
    if (set(new.admins), new.assistant_policy) != (set(old.admins), old.assistant_policy):
        topic = live.conversation.topic
        events.append(RoomUpdated(cid, committer, topic, tuple(sorted(new.admins)), new.assistant_policy.value))
    return events


def grown(before: Snapshot, live: Live) -> list[str]:
    """People (already there before) who got a new device."""
    after = snapshot(live)
    return sorted(n for n, d in after.devices.items() if n in before.devices and not d <= before.devices[n])
