"""Calpico's HTTP/WebSocket API schemas, shared by the server and the client SDK.

Pydantic models only: no logic, no I/O. Binary fields (MLS messages, keys,
signatures) travel as unpadded base64url strings. Every path lives under the
API version prefix `API_PREFIX`; a breaking change gets a new prefix.

Modules: `common` (ids, errors), `accounts` (registration, devices, auth),
`directory` (device lookup, KeyPackages, blocking, contact policy), `groups`
(conversations, sending), `delivery` (inbox, acks, notifications), `push`
(WebSocket frames), `attachments`.
"""

from __future__ import annotations

from .common import API_PREFIX, API_VERSION, ErrorBody, ErrorCode

__all__ = ["API_PREFIX", "API_VERSION", "ErrorBody", "ErrorCode"]
