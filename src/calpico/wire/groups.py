"""Conversations (MLS groups) and sending into them."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from .common import B64, ClientMessageId, DeviceId, Model, Username

__all__ = [
    "CreateGroupRequest",
    "GroupInfoResponse",
    "GroupMember",
    "SendRequest",
    "SendResult",
]

GroupIdBytes = Annotated[B64, Field(min_length=1, max_length=255)]


class CreateGroupRequest(Model):
    """Register a new group whose only member (leaf 0, epoch 0) is the calling device."""

    group_id: GroupIdBytes
    cipher_suite: int = Field(ge=1, le=0xFFFF)


class GroupMember(Model):
    leaf_index: int
    device_id: DeviceId
    username: Username


class GroupInfoResponse(Model):
    group_id: B64
    cipher_suite: int
    epoch: int
    members: list[GroupMember]


class SendRequest(Model):
    """An MLSMessage for the group; a commit may bring the Welcome for the devices it adds.

    ``client_id`` makes a resend idempotent: sending the same id from the
    same device to the same group again returns the first result.
    """

    client_id: ClientMessageId
    message: B64 = Field(description="MLSMessage: PrivateMessage (application) or PublicMessage (proposal/commit)")
    welcome: B64 | None = Field(default=None, description="MLSMessage(Welcome), only with a commit that adds members")


class SendResult(Model):
    group_id: B64
    seq: int = Field(description="position of the message in the group's log")
    epoch: int = Field(description="the group's epoch after this message")
    duplicate: bool = Field(default=False, description="true when client_id was seen before")
