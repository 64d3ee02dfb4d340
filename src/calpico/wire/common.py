"""Types every API schema uses: base64url bytes, identifiers, the error body."""

from __future__ import annotations

import base64
import binascii
import enum
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, WithJsonSchema

__all__ = [
    "API_PREFIX",
    "API_VERSION",
    "B64",
    "ClientMessageId",
    "DeviceId",
    "ErrorBody",
    "ErrorCode",
    "Model",
    "Username",
    "b64decode",
    "b64encode",
]

API_VERSION = 1
API_PREFIX = f"/v{API_VERSION}"


def b64encode(data: bytes) -> str:
    """Unpadded base64url, the encoding of every binary field."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64decode(text: str) -> bytes:
    """Decode unpadded (or padded) base64url; raise `ValueError` on anything else."""
    if not isinstance(text, str) or not text.isascii():
        raise ValueError("expected a base64url string")
    stripped = text.rstrip("=")
    # Every message body passes here, so everything is done by C code: refuse the standard alphabet's
    # "+" and "/", map "-" and "_" onto them, and let strict decoding refuse any other character.
    if "+" in stripped or "/" in stripped:
        raise ValueError("not base64url")
    try:
        return binascii.a2b_base64(stripped.translate(_FROM_URLSAFE) + "=" * (-len(stripped) % 4), strict_mode=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("not base64url") from exc


_FROM_URLSAFE = str.maketrans("-_", "+/")


def _decode_b64(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    return b64decode(value)


B64 = Annotated[
    bytes,
    BeforeValidator(_decode_b64),
    PlainSerializer(b64encode, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "contentEncoding": "base64url", "pattern": "^[A-Za-z0-9_-]*$"}),
]
"""Binary data as unpadded base64url in JSON."""

Username = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")]
DeviceId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]{1,64}$")]
ClientMessageId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]{1,64}$")]


class Model(BaseModel):
    """Base of every API schema: unknown fields are refused, instances are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class ErrorCode(enum.StrEnum):
    """Stable machine-readable error codes; the HTTP status goes with each."""

    BAD_REQUEST = "bad_request"  # 400: malformed JSON, bad base64, bad field
    MALFORMED_MESSAGE = "malformed_message"  # 400: MLS bytes that do not parse
    TOO_LARGE = "too_large"  # 413
    UNAUTHENTICATED = "unauthenticated"  # 401: no token, expired or revoked token
    BAD_SIGNATURE = "bad_signature"  # 401: challenge signature does not verify
    FORBIDDEN = "forbidden"  # 403: authenticated, but not allowed
    NOT_A_MEMBER = "not_a_member"  # 403: the device is not in the group's roster
    BLOCKED = "blocked"  # 403: the target blocked the requester
    CONTACTS_ONLY = "contacts_only"  # 403: the target accepts only existing contacts
    REGISTRATION_CLOSED = "registration_closed"  # 403
    BAD_INVITE = "bad_invite"  # 403
    NOT_FOUND = "not_found"  # 404
    METHOD_NOT_ALLOWED = "method_not_allowed"  # 405
    USERNAME_TAKEN = "username_taken"  # 409
    GROUP_EXISTS = "group_exists"  # 409
    KEY_TAKEN = "key_taken"  # 409: the signature key belongs to another device
    EPOCH_CONFLICT = "epoch_conflict"  # 409: another commit won this epoch; body has current_epoch
    STALE_EPOCH = "stale_epoch"  # 409: message for an epoch that is not the group's current one
    LINK_USED = "link_used"  # 409: a device-link slot that was written already
    INVALID_HANDSHAKE = "invalid_handshake"  # 422: parses, but breaks a rule the server checks
    UNKNOWN_KEY_PACKAGE = "unknown_key_package"  # 422: an Add or Welcome names no known KeyPackage
    NO_KEY_PACKAGES = "no_key_packages"  # 404: the target user has no devices with KeyPackages
    RATE_LIMITED = "rate_limited"  # 429
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"  # 415
    UNAVAILABLE = "unavailable"  # 503: storage failed; retry
    INTERNAL = "internal"  # 500: a bug; never expected


class ErrorBody(Model):
    """Every error response: ``{code, message}`` plus optional details."""

    code: ErrorCode
    message: str
    current_epoch: int | None = Field(default=None, description="set with epoch_conflict and stale_epoch")
    retry_after: float | None = Field(default=None, description="seconds; set with rate_limited")
