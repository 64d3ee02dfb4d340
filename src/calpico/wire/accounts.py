"""Accounts, devices and device authentication (signed challenge → short-lived token)."""

from __future__ import annotations

import enum
from typing import Annotated

from pydantic import Field

from .common import B64, DeviceId, Model, Username

__all__ = [
    "AUTH_CHALLENGE_LABEL",
    "ChallengeRequest",
    "ChallengeResponse",
    "DeviceInfo",
    "DeviceKind",
    "DeviceList",
    "NewDevice",
    "RegisterRequest",
    "RegisterResponse",
    "TokenRequest",
    "TokenResponse",
    "auth_challenge_content",
]

AUTH_CHALLENGE_LABEL = b"calpico auth challenge"
"""The SignWithLabel label (RFC 9420 §5.1.2) of a device's answer to an auth challenge."""

SignatureKey = Annotated[bytes, Field(min_length=1, max_length=256)]


def auth_challenge_content(nonce: bytes, device_id: str, server_name: str) -> bytes:
    """The bytes a device signs to prove it holds its signature key.

    ``vl(nonce) || vl(device_id) || vl(server_name)`` with one-byte-free
    two-byte lengths, so no two distinct triples share an encoding.
    """
    parts = (nonce, device_id.encode("utf-8"), server_name.encode("utf-8"))
    return b"".join(len(p).to_bytes(2, "big") + p for p in parts)


class DeviceKind(enum.StrEnum):
    """What a device is: one of its person's own devices, or an AI assistant member that person owns.

    An assistant is a device of its owner's account (its credential names the
    owner) that the owner's device registers with ``kind="assistant"``. Its
    KeyPackages are never handed out by a plain claim of the owner, so adding
    the owner to a conversation never adds the assistant; only a claim that
    names the device does (see ``POST /v1/users/{u}/key-packages/claim``).
    """

    PERSON = "person"
    ASSISTANT = "assistant"


class NewDevice(Model):
    """A device to add: its MLS signature public key, the cipher suite it uses, and its kind."""

    signature_key: B64 = Field(description="the device's MLS signature public key (raw)")
    cipher_suite: int = Field(ge=1, le=0xFFFF, description="MLS cipher suite of the key")
    name: str = Field(default="", max_length=64)
    kind: DeviceKind = Field(default=DeviceKind.PERSON, description="an account's first device is a person's")


class RegisterRequest(Model):
    """Create an account with its first device."""

    username: Username
    device: NewDevice
    invite: str | None = Field(default=None, max_length=128, description="required when registration is by invite")


class DeviceInfo(Model):
    """A device as the directory shows it."""

    device_id: DeviceId
    username: Username
    signature_key: B64
    cipher_suite: int
    name: str
    created_at: float
    kind: DeviceKind = DeviceKind.PERSON


class RegisterResponse(Model):
    username: Username
    device: DeviceInfo


class DeviceList(Model):
    devices: list[DeviceInfo]


class ChallengeRequest(Model):
    device_id: DeviceId


class ChallengeResponse(Model):
    """Sign `auth_challenge_content(nonce, device_id, server_name)` with `AUTH_CHALLENGE_LABEL`."""

    nonce: B64
    server_name: str
    expires_at: float


class TokenRequest(Model):
    device_id: DeviceId
    nonce: B64
    signature: B64 = Field(description="SignWithLabel(device key, AUTH_CHALLENGE_LABEL, challenge content)")


class TokenResponse(Model):
    """A bearer token for ``Authorization: Bearer <token>``; the server keeps only its hash."""

    token: str
    expires_at: float
    device_id: DeviceId
    username: Username
