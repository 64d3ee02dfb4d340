"""The exceptions `calpico.client` raises.

Every failure is raised, never returned. All errors derive from `CalpicoError`,
whose ``str()`` is one line a person can read (the CLI prints exactly that)::

    CalpicoError                        root; str(e) is a one-line reason
    ├── ServerError                     the server refused: .status, .code (wire ErrorCode)
    │   ├── BadRequest                  400, 413, 415: we sent something it cannot take
    │   │   └── PayloadTooLarge         413
    │   ├── Unauthorized                401: no valid token, or the challenge did not verify
    │   ├── Forbidden                   403
    │   │   ├── Blocked                 the other user blocked you
    │   │   ├── ContactsOnly            the other user accepts only contacts
    │   │   ├── NotAMember              this device is not in the group
    │   │   └── RegistrationRefused     registration closed, or a bad invite
    │   ├── NotFound                    404
    │   │   └── NoKeyPackages           the user has no device that can be added
    │   ├── Conflict                    409
    │   │   ├── UsernameTaken
    │   │   └── EpochConflict           another commit won the epoch: .current_epoch
    │   │       └── StaleEpoch          message for an epoch that is not current
    │   ├── Rejected                    422: well-formed, but breaks a rule the server checks
    │   ├── RateLimited                 429: .retry_after seconds
    │   └── ServerUnavailable           5xx: the server failed; retry later
    ├── TransportError                  could not talk to the server properly
    │   ├── Offline                     no connection (refused, DNS, network down)
    │   ├── Timeout                     connected, but no answer in time
    │   ├── BadResponse                 the answer does not match the API schema
    │   └── ServerMismatch              the server names itself differently than before
    ├── StoreError                      the local store
    │   ├── StoreInUse                  another process has this device's store open
    │   ├── StoreLocked                 no key to unlock it (keyring entry or key file missing)
    │   │   ├── WrongPassphrase         the passphrase or key does not unlock it
    │   │   └── UnsafeKeyFile           the key file is readable by other users
    │   ├── StoreCorrupt                a row fails authentication, or the file is damaged
    │   └── StoreVersionError           written by a newer Calpico than this one
    ├── IntegrityError                  data from elsewhere failed verification
    │   ├── AttachmentCorrupt           a blob whose hash or tag does not match
    │   ├── CredentialMismatch          a credential or KeyPackage that does not match the directory
    │   └── CardRejected                an assistant card not signed by a device of its owner (or stale)
    └── UsageError                      the caller asked for something impossible
        ├── AccountExists               a store already exists at that path
        ├── NoAccount                   no store at that path, or registration never finished
        ├── NoSuchConversation          no conversation with that id on this device
        ├── NoSuchMessage               no message with that id in the conversation
        ├── NotPermitted                the room policy does not allow it (not an admin, not the author)
        │   └── ApprovalRequired        an assistant may join this room only if an admin adds it
        └── ConversationClosed          we left or were removed: the group can no longer send

Third-party exceptions (httpx, websockets, sqlite3, argon2, keyring) are wrapped
where they cross into the SDK; the original is kept as ``__cause__``.
"""

from __future__ import annotations

from calpico.wire.common import ErrorBody, ErrorCode

__all__ = [
    "AccountExists",
    "ApprovalRequired",
    "AttachmentCorrupt",
    "BadRequest",
    "BadResponse",
    "Blocked",
    "CalpicoError",
    "CardRejected",
    "Conflict",
    "ContactsOnly",
    "ConversationClosed",
    "CredentialMismatch",
    "EpochConflict",
    "Forbidden",
    "IntegrityError",
    "NoAccount",
    "NoKeyPackages",
    "NoSuchConversation",
    "NoSuchMessage",
    "NotAMember",
    "NotFound",
    "NotPermitted",
    "Offline",
    "PayloadTooLarge",
    "RateLimited",
    "RegistrationRefused",
    "Rejected",
    "ServerError",
    "ServerMismatch",
    "ServerUnavailable",
    "StaleEpoch",
    "StoreCorrupt",
    "StoreError",
    "StoreInUse",
    "StoreLocked",
    "StoreVersionError",
    "Timeout",
    "TransportError",
    "Unauthorized",
    "UnsafeKeyFile",
    "UsageError",
    "UsernameTaken",
    "WrongPassphrase",
    "server_error",
]


class CalpicoError(Exception):
    """Root of every error the SDK raises; ``str(error)`` is one human-readable line."""

    def __init__(self, message: str) -> None:
        # One line, always: a multi-line reason would break the CLI's one-line errors.
        self.message = " ".join(message.split())
        super().__init__(self.message)


# --- the server refused --------------------------------------------------------------


class ServerError(CalpicoError):
    """The server answered with an error body ``{code, message}`` and a 4xx/5xx status."""

    def __init__(self, message: str, *, status: int, code: ErrorCode) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class BadRequest(ServerError):
    """The server could not take the request (400, 413, 415)."""


class PayloadTooLarge(BadRequest):
    """The request or attachment is over the server's size limit (413)."""


class Unauthorized(ServerError):
    """401: no valid token, or the device's signed challenge did not verify."""


class Forbidden(ServerError):
    """403: authenticated, but not allowed."""


class Blocked(Forbidden):
    """The other user blocked you."""


class ContactsOnly(Forbidden):
    """The other user accepts conversations only from their contacts."""


class NotAMember(Forbidden):
    """This device is not a member of the group."""


class RegistrationRefused(Forbidden):
    """Registration is closed on the server, or the invite is unknown or used up."""


class NotFound(ServerError):
    """404: no such user, device, group or attachment."""


class NoKeyPackages(NotFound):
    """The user has no device with a KeyPackage to add."""


class Conflict(ServerError):
    """409: the request conflicts with the server's state."""


class UsernameTaken(Conflict):
    """The username is registered already."""


class EpochConflict(Conflict):
    """Another commit was accepted for this epoch first: catch up, then retry.

    ``current_epoch`` is the group's epoch on the server.
    """

    def __init__(self, message: str, *, status: int, code: ErrorCode, current_epoch: int | None) -> None:
        super().__init__(message, status=status, code=code)
        self.current_epoch = current_epoch


class StaleEpoch(EpochConflict):
    """A message for an epoch that is not the group's current one."""


class Rejected(ServerError):
    """422: the request is well-formed but breaks a rule the server checks."""


class RateLimited(ServerError):
    """429: too many requests; ``retry_after`` is how many seconds to wait."""

    def __init__(self, message: str, *, status: int, code: ErrorCode, retry_after: float | None) -> None:
        super().__init__(message, status=status, code=code)
        self.retry_after = retry_after


class ServerUnavailable(ServerError):
    """5xx: the server failed or is overloaded; the request may be retried."""


_BY_CODE: dict[ErrorCode, type[ServerError]] = {
    ErrorCode.BAD_REQUEST: BadRequest,
    ErrorCode.MALFORMED_MESSAGE: BadRequest,
    ErrorCode.TOO_LARGE: PayloadTooLarge,
    ErrorCode.UNSUPPORTED_MEDIA_TYPE: BadRequest,
    ErrorCode.METHOD_NOT_ALLOWED: BadRequest,
    ErrorCode.UNAUTHENTICATED: Unauthorized,
    ErrorCode.BAD_SIGNATURE: Unauthorized,
    ErrorCode.FORBIDDEN: Forbidden,
    ErrorCode.NOT_A_MEMBER: NotAMember,
    ErrorCode.BLOCKED: Blocked,
    ErrorCode.CONTACTS_ONLY: ContactsOnly,
    ErrorCode.REGISTRATION_CLOSED: RegistrationRefused,
    ErrorCode.BAD_INVITE: RegistrationRefused,
    ErrorCode.NOT_FOUND: NotFound,
    ErrorCode.NO_KEY_PACKAGES: NoKeyPackages,
    ErrorCode.USERNAME_TAKEN: UsernameTaken,
    ErrorCode.GROUP_EXISTS: Conflict,
    ErrorCode.LINK_USED: Conflict,
    ErrorCode.KEY_TAKEN: Conflict,
    ErrorCode.EPOCH_CONFLICT: EpochConflict,
    ErrorCode.STALE_EPOCH: StaleEpoch,
    ErrorCode.INVALID_HANDSHAKE: Rejected,
    ErrorCode.UNKNOWN_KEY_PACKAGE: Rejected,
    ErrorCode.RATE_LIMITED: RateLimited,
    ErrorCode.UNAVAILABLE: ServerUnavailable,
    ErrorCode.INTERNAL: ServerUnavailable,
}

_BY_STATUS: dict[int, type[ServerError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    413: PayloadTooLarge,
    422: Rejected,
    429: RateLimited,
}


def server_error(status: int, body: ErrorBody | None, *, retry_after: float | None = None) -> ServerError:
    """The `ServerError` for an error response: by the body's code, else by the HTTP status.

    ``retry_after`` (from the ``Retry-After`` header) is used when the body has none.
    """
    if body is not None:
        cls = _BY_CODE.get(body.code) or _BY_STATUS.get(status, ServerUnavailable)
        code, message = body.code, body.message
    else:
        cls = _BY_STATUS.get(status, ServerUnavailable if status >= 500 else BadRequest)
        code = next((c for c, k in _BY_CODE.items() if k is cls), ErrorCode.INTERNAL)
        message = f"HTTP {status}"
    text = f"server refused ({code.value}): {message}"
    if issubclass(cls, EpochConflict):
        return cls(text, status=status, code=code, current_epoch=body.current_epoch if body else None)
    if issubclass(cls, RateLimited):
        after = body.retry_after if body is not None and body.retry_after is not None else retry_after
        return cls(text, status=status, code=code, retry_after=after)
    return cls(text, status=status, code=code)


# --- transport -------------------------------------------------------------------------


class TransportError(CalpicoError):
    """The server could not be reached, or did not answer properly."""


class Offline(TransportError):
    """No connection to the server (refused, unreachable, name not resolved)."""


class Timeout(TransportError):
    """The server did not answer in time."""


class BadResponse(TransportError):
    """The server's answer does not match the API schema."""


class ServerMismatch(TransportError):
    """The server's name differs from the one this device registered with: a different server."""


# --- the local store -----------------------------------------------------------------


class StoreError(CalpicoError):
    """The device's local store cannot be used."""


class StoreInUse(StoreError):
    """Another process has this store open."""


class StoreLocked(StoreError):
    """The key that unlocks the store is not available."""


class WrongPassphrase(StoreLocked):
    """The passphrase (or key) does not unlock this store."""


class UnsafeKeyFile(StoreLocked):
    """The key file can be read or written by other users; refuse to use it."""


class StoreCorrupt(StoreError):
    """A row fails authentication or the file is damaged."""


class StoreVersionError(StoreError):
    """The store was written by a newer version of Calpico."""


# --- verification ----------------------------------------------------------------------


class IntegrityError(CalpicoError):
    """Data from the server or another member failed verification."""


class AttachmentCorrupt(IntegrityError):
    """An attachment's ciphertext does not match its hash, or does not decrypt."""


class CredentialMismatch(IntegrityError):
    """A credential, KeyPackage or device key that does not match what the directory says."""


class CardRejected(IntegrityError):
    """An assistant card that fails its checks: signer not a device of the owner, bad signature, wrong key, stale."""


# --- usage -----------------------------------------------------------------------------


class UsageError(CalpicoError):
    """The caller asked for something the SDK's state does not allow."""


class AccountExists(UsageError):
    """A store (an account on this device) already exists at that path."""


class NoAccount(UsageError):
    """No usable account at that path."""


class NoSuchConversation(UsageError):
    """No conversation with that id on this device."""


class NoSuchMessage(UsageError):
    """No message with that id in the conversation."""


class NotPermitted(UsageError):
    """The conversation's policy does not allow this (only admins, only the author, ...)."""


class ApprovalRequired(NotPermitted):
    """The room requires an admin to approve assistants: ask one (`Conversations.request_assistant`)."""


class ConversationClosed(UsageError):
    """This device left or was removed from the conversation; it can no longer send there."""
