"""Who a device is inside MLS: its credential identity, ``<username>:<device_id>``.

Every device is one MLS leaf with a basic credential (RFC 9420 §5.3) whose
identity is the UTF-8 text ``username:device_id``, for example
``alice:3q2-Xk9_mPzR1vYt``. Neither part can contain a colon (usernames are
``[a-z0-9][a-z0-9_.-]*``, device ids ``[A-Za-z0-9_-]+``), so the split is
unambiguous. The username groups a person's devices into one person; the
device id ties the leaf to one entry of the server's directory, whose
signature key must be the leaf's (`check_leaf_binding`) — that check is the
Authentication Service's job (§5.3.1) and every client does it. An assistant
runs as a device of its owner's account, so its credential names the owner;
its card (`calpico.wire.app.AssistantCard`) says it is an assistant.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from calpico.mls.credentials import Credential, CredentialType

from .errors import CredentialMismatch

__all__ = ["DeviceIdentity"]

_USERNAME = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")
_DEVICE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


@dataclass(frozen=True, slots=True)
class DeviceIdentity:
    """A device's place in the directory: ``username`` and ``device_id``."""

    username: str
    device_id: str

    def __post_init__(self) -> None:
        if not _USERNAME.fullmatch(self.username) or not _DEVICE_ID.fullmatch(self.device_id):
            raise CredentialMismatch(f"not a valid device identity: {self.username!r}:{self.device_id!r}")

    def encode(self) -> bytes:
        """The credential identity bytes, ``b"username:device_id"``."""
        return f"{self.username}:{self.device_id}".encode("ascii")

    def credential(self) -> Credential:
        """The basic credential carrying this identity."""
        return Credential.basic(self.encode())

    @classmethod
    def parse(cls, identity: bytes) -> DeviceIdentity:
        """Read a credential identity; raises `CredentialMismatch` if it is not ``username:device_id``."""
        try:
            text = identity.decode("ascii")
        except UnicodeDecodeError:
            raise CredentialMismatch("a credential identity is not ASCII") from None
        username, sep, device_id = text.partition(":")
        if not sep:
            raise CredentialMismatch(f"a credential identity is not username:device_id ({text[:80]!r})")
        return cls(username, device_id)

    @classmethod
    def from_credential(cls, credential: Credential) -> DeviceIdentity:
        """The identity of a basic credential; raises `CredentialMismatch` for any other kind."""
        if credential.credential_type is not CredentialType.basic or credential.identity is None:
            raise CredentialMismatch("only basic credentials name Calpico devices")
        return cls.parse(credential.identity)

    def __str__(self) -> str:
        return f"{self.username}:{self.device_id}"
