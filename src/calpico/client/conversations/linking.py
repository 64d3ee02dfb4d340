"""Linking a new device with a one-time code from an existing one.

The code is ``username:link_id:secret`` (``secret`` 16 random bytes,
base64url). Every payload of the exchange is sealed with ChaCha20-Poly1305
under ``SHA-256("calpico device link v1" ‖ secret)``, its slot and the
link id as associated data, so the server's mailbox (`calpico.wire.links`)
relays what it cannot read or forge::

    existing device                     server mailbox                 new device
    offer_link() ── POST /links ──────────>  id
    shows the code  ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─>  link_new_device(code)
                                        <─── PUT new/request ───────  sealed {signature key, suite, name}
    complete_link(): reads the request,
    registers the key (device-add) ─────── PUT answer ──────────────>  sealed {device id}
                                                                       logs in, publishes KeyPackages
                                        <─── PUT new/ready ──────────  sealed note
    claims the new device's KeyPackage, commits Add in every conversation (Welcomes wait for it)

Only someone holding the code can send a request the existing device
accepts (the seal); the existing device registers exactly the key in it.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from calpico.mls.crypto import get_suite
from calpico.mls.errors import MLSError
from calpico.mls.secret import Secret
from calpico.wire.common import b64decode, b64encode
from calpico.wire.links import NewDeviceSlot

from ..account import Account
from ..errors import CredentialMismatch, NotFound, UsageError
from ..events import DeviceLinked
from ..store import DeviceLink, KeySource
from .model import LinkOffer

if TYPE_CHECKING:
    from ..client import Client
    from .operations import Engine

__all__ = ["complete_link", "link_new_device", "offer_link", "parse_code"]

T = TypeVar("T")
_AEAD = get_suite(3)  # ChaCha20-Poly1305
_NONCE = 12


def parse_code(code: str) -> tuple[str, str, bytes]:
    """``(username, link_id, secret)`` of a one-time code; raises `UsageError` if it is not one."""
    parts = code.strip().split(":")
    if len(parts) != 3:
        raise UsageError("not a device-link code (expected username:link:secret)")
    try:
        secret = b64decode(parts[2])
    except ValueError:
        raise UsageError("not a device-link code (bad secret)") from None
    if len(secret) != 16:
        raise UsageError("not a device-link code (bad secret)")
    return parts[0], parts[1], secret


def _key(secret: bytes) -> Secret:
    return Secret(hashlib.sha256(b"calpico device link v1" + secret).digest())


def _seal(secret: bytes, link_id: str, slot: str, obj: dict[str, Any]) -> bytes:
    nonce = os.urandom(_NONCE)
    aad = f"{link_id}/{slot}".encode()
    return nonce + _AEAD.aead_seal(_key(secret), nonce, aad, json.dumps(obj).encode())


def _open(secret: bytes, link_id: str, slot: str, data: bytes) -> dict[str, Any]:
    try:
        plain = _AEAD.aead_open(_key(secret), data[:_NONCE], f"{link_id}/{slot}".encode(), data[_NONCE:])
        obj = json.loads(plain)
    except (MLSError, ValueError):
        raise CredentialMismatch("a device-link message does not open with the code: wrong code, or forged") from None
    if not isinstance(obj, dict):
        raise CredentialMismatch("a device-link message is malformed")
    return obj


async def _poll(read: Callable[[], Awaitable[T]], deadline: float) -> T:
    delay = 0.05
    while True:
        try:
            return await read()
        except NotFound:
            if time.monotonic() + delay > deadline:
                raise TimeoutError("the other device did not answer in time") from None
            await asyncio.sleep(delay)
            delay = min(delay * 1.5, 1.0)


async def offer_link(engine: Engine, ttl: float) -> LinkOffer:
    created = await engine.client.transport.create_link()
    secret = os.urandom(16)
    expires = min(created.expires_at, time.time() + ttl)
    async with engine.client.store.transaction() as tx:
        tx.put_device_link(DeviceLink(created.id, Secret(secret), time.time(), expires))
    code = f"{engine.me}:{created.id}:{b64encode(secret)}"
    return LinkOffer(code, created.id, expires)


async def complete_link(engine: Engine, offer: LinkOffer, timeout: float) -> str:
    client = engine.client
    link = await client.store.device_link(offer.link_id)
    if link is None:
        raise UsageError("no such link offer on this device")
    secret = bytes(link.secret)
    deadline = time.monotonic() + timeout
    sealed = await _poll(lambda: client.transport.get_link_new(link.code_id, NewDeviceSlot.REQUEST), deadline)
    request = _open(secret, link.code_id, "request", sealed)
    key = b64decode(str(request["signature_key"]))
    device = await client.add_device(key, int(request["cipher_suite"]), str(request.get("name", ""))[:64])
    answer = _seal(secret, link.code_id, "answer", {"device_id": device.device_id})
    await client.transport.put_link_answer(link.code_id, answer)
    ready = await _poll(lambda: client.transport.get_link_new(link.code_id, NewDeviceSlot.READY), deadline)
    _open(secret, link.code_id, "ready", ready)
    count = await engine.add_own_device(device.device_id)
    async with client.store.transaction() as tx:
        tx.delete_device_link(link.code_id)
    engine.publish([DeviceLinked(device.device_id, count)])
    return device.device_id


async def link_new_device(
    server_url: str,
    path: Path | str,
    key: KeySource,
    code: str,
    *,
    device_name: str = "",
    timeout: float = 120.0,
    **account_options: Any,
) -> Client:
    from ..client import Client

    username, link_id, secret = parse_code(code)
    account = await Account.prepare_device(server_url, username, path, key, device_name=device_name, **account_options)
    try:
        identity = account.identity
        request = {
            "signature_key": b64encode(identity.signature_public_key),
            "cipher_suite": identity.cipher_suite,
            "name": device_name,
        }
        await account.transport.put_link_new(link_id, NewDeviceSlot.REQUEST, _seal(secret, link_id, "request", request))
        deadline = time.monotonic() + timeout
        sealed = await _poll(lambda: account.transport.get_link_answer(link_id), deadline)
        device_id = str(_open(secret, link_id, "answer", sealed)["device_id"])
        await account.activate(device_id)
        await account.transport.put_link_new(link_id, NewDeviceSlot.READY, _seal(secret, link_id, "ready", {"ok": 1}))
    except BaseException:
        await account.close()
        raise
    return Client(account)
