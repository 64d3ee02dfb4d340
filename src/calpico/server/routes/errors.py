"""The error responses every route may give, for the OpenAPI document."""

from __future__ import annotations

from typing import Any

from calpico.wire.common import ErrorBody

__all__ = ["ERRORS"]

ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": text}
    for status, text in (
        (400, "malformed request"),
        (401, "missing, invalid or expired token"),
        (403, "not allowed"),
        (404, "not found"),
        (409, "conflict"),
        (413, "too large"),
        (422, "well-formed but refused"),
        (429, "rate limited"),
    )
}
