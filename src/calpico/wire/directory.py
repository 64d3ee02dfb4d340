"""The key directory: devices of a user, KeyPackages, blocking and contact policy."""

from __future__ import annotations

import enum
from typing import Annotated

from pydantic import Field

from .accounts import DeviceInfo
from .common import B64, DeviceId, Model, Username

__all__ = [
    "BlockList",
    "ClaimResponse",
    "ClaimedKeyPackage",
    "ContactList",
    "ContactPolicy",
    "ContactPolicyBody",
    "KeyPackageCount",
    "KeyPackageUpload",
    "KeyPackageUploadResult",
    "UserDevices",
]

KeyPackageBytes = Annotated[B64, Field(min_length=1, max_length=64 * 1024)]


class KeyPackageUpload(Model):
    """KeyPackages of the authenticated device: a batch, plus optionally one last-resort KeyPackage.

    Each is an MLSMessage-wrapped or bare KeyPackage (RFC 9420 §10) whose leaf
    carries this device's signature key. The last-resort one is handed out
    when the batch is used up and is never consumed; a new one replaces it.
    """

    key_packages: list[KeyPackageBytes] = Field(default_factory=list, max_length=100)
    last_resort: KeyPackageBytes | None = None


class KeyPackageUploadResult(Model):
    refs: list[B64] = Field(description="KeyPackageRef of each uploaded batch entry, in order")
    last_resort_ref: B64 | None = None
    available: int


class KeyPackageCount(Model):
    available: int = Field(description="unclaimed batch KeyPackages of this device")
    has_last_resort: bool


class ClaimedKeyPackage(Model):
    device_id: DeviceId
    key_package: B64
    key_package_ref: B64
    last_resort: bool


class ClaimResponse(Model):
    """One KeyPackage per device of the target user (devices without any are left out)."""

    username: Username
    key_packages: list[ClaimedKeyPackage]


class UserDevices(Model):
    username: Username
    devices: list[DeviceInfo]


class ContactPolicy(enum.StrEnum):
    ANYONE = "anyone"
    CONTACTS = "contacts"


class ContactPolicyBody(Model):
    """Who may claim your KeyPackages and start conversations with you."""

    policy: ContactPolicy


class BlockList(Model):
    blocked: list[Username]


class ContactList(Model):
    contacts: list[Username]
