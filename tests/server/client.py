"""A small test client for the server API: registration, auth, sending, reading."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import FastAPI

from calpico.server.config import ServerConfig
from calpico.wire.common import b64decode, b64encode

from . import mls_messages as mls


@dataclass
class Device:
    """A registered, authenticated device as the tests drive it."""

    username: str
    device_id: str
    keys: mls.DeviceKeys
    token: str
    http: httpx.AsyncClient
    key_packages: list[bytes] = field(default_factory=list)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    async def get(self, path: str, **kw: Any) -> httpx.Response:
        return await self.http.get(path, headers=self.headers, **kw)

    async def post(self, path: str, **kw: Any) -> httpx.Response:
        return await self.http.post(path, headers=self.headers, **kw)

    async def put(self, path: str, **kw: Any) -> httpx.Response:
        return await self.http.put(path, headers=self.headers, **kw)

    async def delete(self, path: str, **kw: Any) -> httpx.Response:
        return await self.http.delete(path, headers=self.headers, **kw)

    async def upload_key_packages(self, n: int = 2, last_resort: bool = True) -> list[bytes]:
        batch = [mls.key_package(self.keys, self.username.encode()) for _ in range(n)]
        body: dict[str, Any] = {"key_packages": [b64encode(k) for k in batch]}
        if last_resort:
            last = mls.key_package(self.keys, self.username.encode())
            body["last_resort"] = b64encode(last)
        r = await self.post("/v1/key-packages", json=body)
        assert r.status_code == 200, r.text
        self.key_packages.extend(batch)
        return batch

    async def claim(self, username: str) -> httpx.Response:
        return await self.post(f"/v1/users/{username}/key-packages/claim")

    async def create_group(self, group_id: bytes) -> None:
        r = await self.post("/v1/groups", json={"group_id": b64encode(group_id), "cipher_suite": mls.SUITE})
        assert r.status_code == 201, r.text

    async def send(
        self, group_id: bytes, message: bytes, welcome: bytes | None = None, client_id: str | None = None
    ) -> httpx.Response:
        body: dict[str, Any] = {"client_id": client_id or uuid.uuid4().hex, "message": b64encode(message)}
        if welcome is not None:
            body["welcome"] = b64encode(welcome)
        return await self.post(f"/v1/groups/{b64encode(group_id)}/messages", json=body)

    async def inbox(self) -> list[dict[str, Any]]:
        r = await self.get("/v1/inbox", params={"limit": 1000})
        assert r.status_code == 200, r.text
        messages: list[dict[str, Any]] = r.json()["messages"]
        return messages

    async def ack(self, group_id: bytes, seq: int) -> httpx.Response:
        return await self.post("/v1/inbox/ack", json={"acks": [{"group_id": b64encode(group_id), "seq": seq}]})


def body_of(message: dict[str, Any]) -> bytes:
    return b64decode(message["body"])


class ApiClient:
    """Registers users and devices against one app (in process, or a URL)."""

    def __init__(self, app: FastAPI | None, config: ServerConfig, base_url: str = "http://testserver") -> None:
        transport = httpx.ASGITransport(app=app) if app is not None else None
        self.http = httpx.AsyncClient(transport=transport, base_url=base_url, timeout=30)
        self.config = config
        self.app = app

    async def aclose(self) -> None:
        await self.http.aclose()

    async def register(self, username: str | None = None, invite: str | None = None) -> Device:
        username = username or f"u{uuid.uuid4().hex[:10]}"
        keys = mls.DeviceKeys.generate()
        body: dict[str, Any] = {
            "username": username,
            "device": {"signature_key": b64encode(keys.public_key), "cipher_suite": mls.SUITE, "name": "test"},
        }
        if invite is not None:
            body["invite"] = invite
        r = await self.http.post("/v1/accounts", json=body)
        assert r.status_code == 201, r.text
        device_id = r.json()["device"]["device_id"]
        return await self.login(username, device_id, keys)

    async def login(self, username: str, device_id: str, keys: mls.DeviceKeys) -> Device:
        r = await self.http.post("/v1/auth/challenge", json={"device_id": device_id})
        assert r.status_code == 200, r.text
        ch = r.json()
        signature = keys.sign_challenge(b64decode(ch["nonce"]), device_id, ch["server_name"])
        r = await self.http.post(
            "/v1/auth/token", json={"device_id": device_id, "nonce": ch["nonce"], "signature": b64encode(signature)}
        )
        assert r.status_code == 200, r.text
        return Device(username, device_id, keys, r.json()["token"], self.http)

    async def add_device(self, owner: Device) -> Device:
        keys = mls.DeviceKeys.generate()
        r = await owner.post(
            "/v1/devices",
            json={"signature_key": b64encode(keys.public_key), "cipher_suite": mls.SUITE, "name": "second"},
        )
        assert r.status_code == 201, r.text
        return await self.login(owner.username, r.json()["device_id"], keys)


async def make_group(creator: Device, *others: Device, group_id: bytes | None = None) -> bytes:
    """A group of ``creator`` plus one device of each other user, added by one commit (epoch 0 → 1)."""
    group_id = group_id or uuid.uuid4().bytes
    await creator.create_group(group_id)
    if not others:
        return group_id
    kps = []
    for other in others:
        if not other.key_packages:
            await other.upload_key_packages(1)
        kps.append(other.key_packages.pop(0))
    r = await creator.send(group_id, mls.commit(group_id, 0, 0, adds=tuple(kps)), welcome=mls.welcome(*kps))
    assert r.status_code == 200, r.text
    return group_id
