"""Checking group members against the server's directory (the Authentication Service, RFC 9420 §5.3.1).

Every leaf's basic credential names ``username:device_id``
(`calpico.client.identity`); the leaf's signature key must be the one the
directory lists for that device. `Directory.check` verifies that for a
member entering the group (Welcome: every member; commits: every added or
updated leaf) before the conversation or the change is shown. Lookups are
cached per user for ``ttl`` seconds; an unknown device or a different key
refreshes the entry once before the member is refused.

`CredentialFormat` is the synchronous `CredentialValidator` given to the MLS
group: it refuses credentials that do not even name a Calpico device.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from calpico.mls.credentials import Credential
from calpico.mls.errors import ProtocolError
from calpico.wire.accounts import DeviceInfo, DeviceKind

from ..errors import CredentialMismatch
from ..identity import DeviceIdentity
from ..transport import Transport

__all__ = ["CredentialFormat", "Directory"]


class CredentialFormat:
    """`CredentialValidator`: the credential must be a basic ``username:device_id`` one."""

    def validate(self, credential: Credential, signature_key: bytes) -> None:
        try:
            DeviceIdentity.from_credential(credential)
        except CredentialMismatch as exc:
            raise ProtocolError(str(exc), section="5.3.1") from None

    def same_client(self, old: Credential, new: Credential) -> bool:
        return old == new


class Directory:
    """Cached device keys of users, for checking members' leaves."""

    def __init__(self, transport: Transport, *, ttl: float = 30.0, clock: Callable[[], float] = time.monotonic):
        self._transport = transport
        self._ttl = ttl
        self._clock = clock
        self._cache: dict[str, tuple[float, dict[str, bytes]]] = {}
        self._infos: dict[tuple[str, str], DeviceInfo] = {}

    async def _keys(self, username: str, refresh: bool) -> dict[str, bytes]:
        cached = self._cache.get(username)
        if cached is not None and not refresh and self._clock() - cached[0] < self._ttl:
            return cached[1]
        devices = await self._transport.user_devices(username)
        keys = {d.device_id: bytes(d.signature_key) for d in devices}
        for d in devices:
            self._infos[(username, d.device_id)] = d
        self._cache[username] = (self._clock(), keys)
        return keys

    async def info(self, username: str, device_id: str) -> DeviceInfo | None:
        """The directory's entry of an active device (None if it lists no such device)."""
        keys = await self._keys(username, refresh=False)
        if device_id not in keys:
            keys = await self._keys(username, refresh=True)
        return self._infos.get((username, device_id)) if device_id in keys else None

    async def kind(self, identity: DeviceIdentity) -> DeviceKind:
        """Whether a device is its person's own or an assistant member (as registered by the owner's device).

        Kinds never change after registration, so a known answer is kept; an
        unknown (e.g. revoked) device counts as a person's.
        """
        found = self._infos.get((identity.username, identity.device_id))
        if found is None:
            await self._keys(identity.username, refresh=True)
            found = self._infos.get((identity.username, identity.device_id))
        return found.kind if found is not None else DeviceKind.PERSON

    def forget(self, username: str) -> None:
        self._cache.pop(username, None)

    async def check(self, credential: Credential, signature_key: bytes) -> DeviceIdentity:
        """The device a leaf belongs to; raises `CredentialMismatch` if the directory disagrees."""
        identity = DeviceIdentity.from_credential(credential)
        keys = await self._keys(identity.username, refresh=False)
        if keys.get(identity.device_id) != signature_key:
            keys = await self._keys(identity.username, refresh=True)
        if identity.device_id not in keys:
            raise CredentialMismatch(f"{identity} is not a device in the directory")
        if keys[identity.device_id] != signature_key:
            raise CredentialMismatch(f"{identity}'s leaf is signed with a key the directory does not list")
        return identity
