"""Linking a new device: a small mailbox for the one-time-code exchange between two devices of a person.

An existing device opens a link (``POST /v1/links``) and shows its id with a
secret as a one-time code. The new device, which has no account session
yet, writes its sealed request under the id and later a sealed "ready"
note; the existing device reads them and writes a sealed answer, which the
new device reads. Every payload is sealed by the clients with a key derived
from the code's secret, so the server relays bytes it cannot read; the id
(24 random bytes) is the capability for the new device's side. Each slot is
written once; links expire after ``LINK_TTL`` seconds.
"""

from __future__ import annotations

import enum
from typing import Annotated

from pydantic import Field

from .common import B64, Model

__all__ = ["LINK_TTL", "LinkCreated", "LinkPayload", "NewDeviceSlot"]

LINK_TTL = 600.0


class NewDeviceSlot(enum.StrEnum):
    """The slots the new device writes (without a session) and the existing device reads."""

    REQUEST = "request"
    READY = "ready"


class LinkCreated(Model):
    id: str = Field(description="the link's id: the new device's capability for its side")
    expires_at: float


class LinkPayload(Model):
    payload: Annotated[B64, Field(min_length=1, max_length=64 * 1024)]
