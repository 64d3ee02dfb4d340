"""A typed async client of the server's HTTP API (`calpico.wire`), over httpx with keep-alive.

Authentication: the device signs the server's challenge with its MLS
signature key (SignWithLabel, label ``"calpico auth challenge"``) and gets a
short-lived bearer token. `Transport` logs in on first use, logs in again
shortly before the token expires, and once more (then retries the call) when
the server answers 401. The server's name, which goes into the signed
content, is pinned: a server calling itself something else than at the first
login is refused (`ServerMismatch`), so a challenge cannot be relayed from
another server.

Retries: idempotent calls (reads, PUT/DELETE, acks, and sends, which are
idempotent by ``client_id``) are retried with exponential backoff and full
jitter on connection failures, timeouts, 5xx and 429 (honouring
``retry_after``). Others (registration, claims, uploads) are not: their
caller decides.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

import calpico
from calpico.mls.crypto import get_suite
from calpico.mls.errors import MLSError
from calpico.mls.secret import Secret
from calpico.wire.accounts import (
    AUTH_CHALLENGE_LABEL,
    ChallengeRequest,
    ChallengeResponse,
    DeviceInfo,
    DeviceList,
    NewDevice,
    RegisterRequest,
    RegisterResponse,
    TokenRequest,
    TokenResponse,
    auth_challenge_content,
)
from calpico.wire.attachments import AttachmentCreated
from calpico.wire.common import API_PREFIX, ErrorBody, ErrorCode, b64encode
from calpico.wire.delivery import Ack, AckRequest, Inbox, Notification
from calpico.wire.directory import (
    BlockList,
    ClaimResponse,
    ContactList,
    ContactPolicy,
    ContactPolicyBody,
    KeyPackageCount,
    KeyPackageUpload,
    KeyPackageUploadResult,
    UserDevices,
)
from calpico.wire.groups import CreateGroupRequest, GroupInfoResponse, SendRequest, SendResult
from calpico.wire.links import LinkCreated, LinkPayload, NewDeviceSlot

from .errors import (
    BadResponse,
    Offline,
    RateLimited,
    ServerError,
    ServerMismatch,
    ServerUnavailable,
    Timeout,
    TransportError,
    Unauthorized,
    UsageError,
    server_error,
)

__all__ = ["DeviceKey", "RetryPolicy", "Transport"]

log = logging.getLogger("calpico.client.transport")
M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class DeviceKey:
    """What a device logs in with: its id and MLS signature key."""

    device_id: str
    cipher_suite: int
    signature_private_key: Secret = field(repr=False)

    def sign_challenge(self, nonce: bytes, server_name: str) -> bytes:
        """SignWithLabel(key, "calpico auth challenge", auth_challenge_content(...)) (RFC 9420 §5.1.2)."""
        content = auth_challenge_content(nonce, self.device_id, server_name)
        try:
            suite = get_suite(self.cipher_suite)
            return suite.sign_with_label(self.signature_private_key, AUTH_CHALLENGE_LABEL, content)
        except MLSError as exc:
            raise UsageError(f"cannot sign the login challenge: {exc}") from exc


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with full jitter: attempt ``n`` waits up to ``min(max_delay, base_delay * 2**n)``."""

    attempts: int = 4
    base_delay: float = 0.25
    max_delay: float = 8.0
    max_retry_after: float = 30.0

    def delay(self, attempt: int) -> float:
        ceiling = min(self.max_delay, self.base_delay * (2 ** min(attempt, 30)))
        return ceiling * (secrets.randbelow(1001) / 1000)


def _transport_error(exc: httpx.TransportError, what: str) -> TransportError:
    if isinstance(exc, httpx.TimeoutException) and not isinstance(exc, httpx.ConnectTimeout):
        return Timeout(f"the server did not answer in time ({what})")
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout):
        return Offline(f"cannot reach the server ({what}): {exc or type(exc).__name__}")
    return TransportError(f"connection to the server failed ({what}): {exc or type(exc).__name__}")


class Transport:
    """The server API for one device. Use as ``async with``, or call `aclose`.

    ``device`` may be ``None`` for the unauthenticated calls (registration)
    and set later with `set_device`. ``server_name`` pins the name the server
    gave at the first login; ``on_server_name`` is called when it gets pinned.
    """

    def __init__(
        self,
        server_url: str,
        *,
        device: DeviceKey | None = None,
        server_name: str | None = None,
        on_server_name: Callable[[str], None] | None = None,
        http: httpx.AsyncClient | None = None,
        retry: RetryPolicy | None = None,
        timeout: float = 30.0,
        clock: Callable[[], float] = time.time,
        refresh_margin: float = 60.0,
    ) -> None:
        self.server_url = server_url.rstrip("/")
        self._device = device
        self.server_name = server_name
        self.on_server_name = on_server_name
        self._owns_http = http is None
        self._http = http or httpx.AsyncClient(
            base_url=self.server_url,
            timeout=timeout,
            limits=httpx.Limits(max_keepalive_connections=8, keepalive_expiry=30.0),
            headers={"User-Agent": f"calpico/{calpico.__version__}"},
        )
        self.retry = retry or RetryPolicy()
        self._clock = clock
        self._refresh_margin = refresh_margin
        self._token: str | None = None
        self._token_refresh_at = 0.0
        self._login_lock = asyncio.Lock()

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> Transport:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    @property
    def device(self) -> DeviceKey | None:
        return self._device

    def set_device(self, device: DeviceKey) -> None:
        """Log in as ``device`` from now on (after registration, or when a linked device is activated)."""
        self._device = device
        self.invalidate_token()

    # --- authentication ---------------------------------------------------------------

    def invalidate_token(self) -> None:
        """Forget the token; the next authenticated call logs in again."""
        self._token = None

    async def token(self) -> str:
        """A valid bearer token, logging in if there is none or it is about to expire."""
        if self._token is not None and self._clock() < self._token_refresh_at:
            return self._token
        async with self._login_lock:
            if self._token is not None and self._clock() < self._token_refresh_at:
                return self._token
            await self.login()
            assert self._token is not None
            return self._token

    async def login(self) -> TokenResponse:
        """Sign a fresh challenge and take a new token.

        Raises `Unauthorized` (the key does not verify, or the device is
        revoked), `ServerMismatch`, `UsageError` without a device.
        """
        device = self._device
        if device is None:
            raise UsageError("this transport has no device to log in with")
        challenge = await self._call(
            "POST",
            "/auth/challenge",
            ChallengeResponse,
            json=ChallengeRequest(device_id=device.device_id),
            auth=False,
            idempotent=True,
        )
        if self.server_name is None:
            self.server_name = challenge.server_name
            if self.on_server_name is not None:
                self.on_server_name(challenge.server_name)
        elif challenge.server_name != self.server_name:
            raise ServerMismatch(
                f"the server at {self.server_url} calls itself {challenge.server_name!r},"
                f" but this device registered with {self.server_name!r}"
            )
        signature = device.sign_challenge(challenge.nonce, challenge.server_name)
        request = TokenRequest(device_id=device.device_id, nonce=challenge.nonce, signature=signature)
        issued = self._clock()
        answer = await self._call("POST", "/auth/token", TokenResponse, json=request, auth=False)
        lifetime = max(0.0, answer.expires_at - issued)
        self._token = answer.token
        self._token_refresh_at = answer.expires_at - min(self._refresh_margin, lifetime / 10)
        return answer

    # --- the request loop -------------------------------------------------------------

    async def _send(
        self,
        method: str,
        path: str,
        *,
        json: BaseModel | None = None,
        content: bytes | None = None,
        params: dict[str, Any] | None = None,
        auth: bool = True,
        idempotent: bool = False,
    ) -> httpx.Response:
        """One API call with login, re-login on 401, and retries (see the module docstring)."""
        url = API_PREFIX + path
        body = json.model_dump_json(exclude_none=True).encode() if json is not None else content
        headers = {"Content-Type": "application/json" if json is not None else "application/octet-stream"}
        attempt = 0
        relogged = False
        while True:
            if auth:
                headers["Authorization"] = f"Bearer {await self.token()}"
            failure: TransportError | ServerError
            try:
                response = await self._http.request(method, url, content=body, params=params, headers=headers)
            except httpx.TransportError as exc:
                failure = _transport_error(exc, f"{method} {path}")
                failure.__cause__ = exc
            else:
                if response.status_code < 400:
                    return response
                failure = self._error(response)
                # An expired or revoked token: log in once more and repeat the call.
                if (
                    isinstance(failure, Unauthorized)
                    and failure.code is ErrorCode.UNAUTHENTICATED
                    and auth
                    and not relogged
                ):
                    relogged = True
                    self.invalidate_token()
                    continue
            if not idempotent or attempt + 1 >= self.retry.attempts or not _retryable(failure):
                raise failure
            delay = self.retry.delay(attempt)
            if isinstance(failure, RateLimited) and failure.retry_after is not None:
                delay = max(delay, min(failure.retry_after, self.retry.max_retry_after))
            log.debug("retrying %s %s in %.2fs after: %s", method, path, delay, failure)
            attempt += 1
            await asyncio.sleep(delay)

    async def _call(self, method: str, path: str, expect: type[M], **kw: Any) -> M:
        response = await self._send(method, path, **kw)
        try:
            return expect.model_validate_json(response.content)
        except ValidationError as exc:
            raise BadResponse(f"unexpected answer to {method} {path}") from exc

    @staticmethod
    def _error(response: httpx.Response) -> ServerError:
        try:
            body: ErrorBody | None = ErrorBody.model_validate_json(response.content)
        except ValidationError:
            body = None
        retry_after: float | None = None
        header = response.headers.get("Retry-After")
        if header is not None:
            try:
                retry_after = float(header)
            except ValueError:
                retry_after = None
        return server_error(response.status_code, body, retry_after=retry_after)

    # --- accounts and devices -----------------------------------------------------------

    async def register(self, username: str, device: NewDevice, invite: str | None = None) -> RegisterResponse:
        """Create an account with its first device (not retried: a lost answer means "try logging in")."""
        request = RegisterRequest(username=username, device=device, invite=invite)
        return await self._call("POST", "/accounts", RegisterResponse, json=request, auth=False)

    async def devices(self) -> list[DeviceInfo]:
        """This account's active devices."""
        return (await self._call("GET", "/devices", DeviceList, idempotent=True)).devices

    async def add_device(self, device: NewDevice) -> DeviceInfo:
        """Register another device of this account by its signature key."""
        return await self._call("POST", "/devices", DeviceInfo, json=device)

    async def revoke_device(self, device_id: str) -> None:
        await self._send("DELETE", f"/devices/{device_id}", idempotent=True)

    async def user_devices(self, username: str) -> list[DeviceInfo]:
        """A user's active devices and their signature keys."""
        return (await self._call("GET", f"/users/{username}/devices", UserDevices, idempotent=True)).devices

    # --- key packages -------------------------------------------------------------------

    async def upload_key_packages(
        self, key_packages: Sequence[bytes], last_resort: bytes | None = None
    ) -> KeyPackageUploadResult:
        request = KeyPackageUpload(key_packages=list(key_packages), last_resort=last_resort)
        return await self._call("POST", "/key-packages", KeyPackageUploadResult, json=request)

    async def key_package_count(self) -> KeyPackageCount:
        return await self._call("GET", "/key-packages", KeyPackageCount, idempotent=True)

    async def claim_key_packages(self, username: str, device_id: str | None = None) -> ClaimResponse:
        """One KeyPackage per person device of ``username``, or of ``device_id`` only (consumes them: not retried).

        An assistant device is handed out only when named by ``device_id``.
        """
        params = {"device_id": device_id} if device_id is not None else None
        return await self._call("POST", f"/users/{username}/key-packages/claim", ClaimResponse, params=params)

    # --- blocking, contacts, policy -----------------------------------------------------

    async def blocks(self) -> list[str]:
        return (await self._call("GET", "/blocks", BlockList, idempotent=True)).blocked

    async def block(self, username: str) -> None:
        await self._send("PUT", f"/blocks/{username}", idempotent=True)

    async def unblock(self, username: str) -> None:
        await self._send("DELETE", f"/blocks/{username}", idempotent=True)

    async def contacts(self) -> list[str]:
        return (await self._call("GET", "/contacts", ContactList, idempotent=True)).contacts

    async def add_contact(self, username: str) -> None:
        await self._send("PUT", f"/contacts/{username}", idempotent=True)

    async def remove_contact(self, username: str) -> None:
        await self._send("DELETE", f"/contacts/{username}", idempotent=True)

    async def contact_policy(self) -> ContactPolicy:
        return (await self._call("GET", "/contact-policy", ContactPolicyBody, idempotent=True)).policy

    async def set_contact_policy(self, policy: ContactPolicy) -> None:
        await self._call(
            "PUT", "/contact-policy", ContactPolicyBody, json=ContactPolicyBody(policy=policy), idempotent=True
        )

    # --- groups and messages ------------------------------------------------------------

    async def create_group(self, group_id: bytes, cipher_suite: int) -> GroupInfoResponse:
        request = CreateGroupRequest(group_id=group_id, cipher_suite=cipher_suite)
        return await self._call("POST", "/groups", GroupInfoResponse, json=request)

    async def group_info(self, group_id: bytes) -> GroupInfoResponse:
        return await self._call("GET", f"/groups/{b64encode(group_id)}", GroupInfoResponse, idempotent=True)

    async def send(self, group_id: bytes, client_id: str, message: bytes, welcome: bytes | None = None) -> SendResult:
        """Send an MLSMessage; retried safely (the server deduplicates by ``client_id``).

        Raises `EpochConflict` (carrying ``current_epoch``) when another commit won.
        """
        request = SendRequest(client_id=client_id, message=message, welcome=welcome)
        path = f"/groups/{b64encode(group_id)}/messages"
        return await self._call("POST", path, SendResult, json=request, idempotent=True)

    async def inbox(self, limit: int = 500) -> Inbox:
        """Messages after this device's cursors, in order per group."""
        return await self._call("GET", "/inbox", Inbox, params={"limit": limit}, idempotent=True)

    async def ack(self, acks: Sequence[Ack]) -> None:
        """Move this device's cursors (everything up to each seq was processed)."""
        for start in range(0, len(acks), 1000):
            request = AckRequest(acks=list(acks[start : start + 1000]))
            await self._send("POST", "/inbox/ack", json=request, idempotent=True)

    async def notifications(self) -> Notification:
        return await self._call("GET", "/notifications", Notification, idempotent=True)

    # --- attachments --------------------------------------------------------------------

    async def upload_attachment(self, blob: bytes) -> AttachmentCreated:
        return await self._call("POST", "/attachments", AttachmentCreated, content=blob)

    async def fetch_attachment(self, capability: str) -> bytes:
        return (await self._send("GET", f"/attachments/{capability}", idempotent=True)).content

    # --- device links (calpico.wire.links) ---------------------------------------------------

    async def create_link(self) -> LinkCreated:
        """Open a device-link mailbox owned by this device."""
        return await self._call("POST", "/links", LinkCreated)

    async def put_link_new(self, link_id: str, slot: NewDeviceSlot, payload: bytes) -> None:
        """As the new device (no session): write the request or the ready note."""
        await self._send("PUT", f"/links/{link_id}/new/{slot.value}", json=LinkPayload(payload=payload), auth=False)

    async def get_link_new(self, link_id: str, slot: NewDeviceSlot) -> bytes:
        """As the owner: what the new device wrote; raises `NotFound` until it did."""
        return (await self._call("GET", f"/links/{link_id}/new/{slot.value}", LinkPayload, idempotent=True)).payload

    async def put_link_answer(self, link_id: str, payload: bytes) -> None:
        await self._send("PUT", f"/links/{link_id}/answer", json=LinkPayload(payload=payload), idempotent=True)

    async def get_link_answer(self, link_id: str) -> bytes:
        """As the new device: the owner's answer; raises `NotFound` until it is there."""
        return (await self._call("GET", f"/links/{link_id}/answer", LinkPayload, auth=False, idempotent=True)).payload

    # --- push ---------------------------------------------------------------------------

    def websocket_url(self, notify_only: bool = False) -> str:
        """The URL of ``GET /v1/ws`` for this server (ws:// or wss://)."""
        base = self.server_url.replace("https://", "wss://", 1).replace("http://", "ws://", 1)
        return f"{base}{API_PREFIX}/ws" + ("?mode=notify" if notify_only else "")


def _retryable(failure: TransportError | ServerError) -> bool:
    if isinstance(failure, TransportError):
        return not isinstance(failure, BadResponse | ServerMismatch)
    return isinstance(failure, ServerUnavailable | RateLimited)
