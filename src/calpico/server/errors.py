"""The exceptions `calpico.server` raises; each maps to one HTTP status and stable code.

::

    ServerError                     root; ``code`` (wire ErrorCode) and ``status``
    ├── BadRequest                  400 malformed request
    │   └── MalformedMessage        400 MLS bytes that do not parse
    ├── PayloadTooLarge             413
    ├── Unauthenticated             401 missing, unknown, expired or revoked token
    │   └── BadSignature            401 the challenge answer does not verify
    ├── Forbidden                   403
    │   ├── NotAMember              403 the device is not in the group's roster
    │   ├── Blocked                 403 the target blocked the requester
    │   ├── ContactsOnly            403 the target accepts only contacts
    │   └── RegistrationRefused     403 registration closed, or a bad invite
    ├── NotFound                    404
    ├── Conflict                    409
    │   ├── EpochConflict           409 another commit won the epoch (carries current_epoch)
    │   └── StaleEpoch              409 message for a past or future epoch (carries current_epoch)
    ├── InvalidHandshake            422 a handshake message breaks a rule the server checks
    ├── RateLimited                 429 (carries retry_after)
    └── Unavailable                 503 storage failed; the request may be retried

Routes never build error responses by hand: they raise, and one handler in
`calpico.server.app` turns the exception into ``{code, message}``. The
message never contains a token or message content.
"""

from __future__ import annotations

from calpico.wire.common import ErrorBody, ErrorCode

__all__ = [
    "BadRequest",
    "BadSignature",
    "Blocked",
    "Conflict",
    "ContactsOnly",
    "EpochConflict",
    "Forbidden",
    "InvalidHandshake",
    "MalformedMessage",
    "NotAMember",
    "NotFound",
    "PayloadTooLarge",
    "RateLimited",
    "RegistrationRefused",
    "ServerError",
    "StaleEpoch",
    "Unauthenticated",
    "Unavailable",
]


class ServerError(Exception):
    """Root of the server's errors: an HTTP status and a stable `ErrorCode`."""

    status = 500
    code = ErrorCode.INTERNAL

    def __init__(self, message: str, *, code: ErrorCode | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    def body(self) -> ErrorBody:
        """The JSON error body for this exception."""
        return ErrorBody(code=self.code, message=self.message)


class BadRequest(ServerError):
    status = 400
    code = ErrorCode.BAD_REQUEST


class MalformedMessage(BadRequest):
    code = ErrorCode.MALFORMED_MESSAGE


class PayloadTooLarge(ServerError):
    status = 413
    code = ErrorCode.TOO_LARGE


class Unauthenticated(ServerError):
    status = 401
    code = ErrorCode.UNAUTHENTICATED


class BadSignature(Unauthenticated):
    code = ErrorCode.BAD_SIGNATURE


class Forbidden(ServerError):
    status = 403
    code = ErrorCode.FORBIDDEN


class NotAMember(Forbidden):
    code = ErrorCode.NOT_A_MEMBER


class Blocked(Forbidden):
    code = ErrorCode.BLOCKED


class ContactsOnly(Forbidden):
    code = ErrorCode.CONTACTS_ONLY


class RegistrationRefused(Forbidden):
    code = ErrorCode.REGISTRATION_CLOSED


class NotFound(ServerError):
    status = 404
    code = ErrorCode.NOT_FOUND


class Conflict(ServerError):
    status = 409
    code = ErrorCode.GROUP_EXISTS


class EpochConflict(Conflict):
    """Another commit was accepted for this epoch first; fetch it, process it, retry."""

    code = ErrorCode.EPOCH_CONFLICT

    def __init__(self, message: str, *, current_epoch: int) -> None:
        super().__init__(message)
        self.current_epoch = current_epoch

    def body(self) -> ErrorBody:
        return ErrorBody(code=self.code, message=self.message, current_epoch=self.current_epoch)


class StaleEpoch(EpochConflict):
    code = ErrorCode.STALE_EPOCH


class InvalidHandshake(ServerError):
    status = 422
    code = ErrorCode.INVALID_HANDSHAKE


class RateLimited(ServerError):
    status = 429
    code = ErrorCode.RATE_LIMITED

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after

    def body(self) -> ErrorBody:
        return ErrorBody(code=self.code, message=self.message, retry_after=round(self.retry_after, 3))


class Unavailable(ServerError):
    status = 503
    code = ErrorCode.UNAVAILABLE
