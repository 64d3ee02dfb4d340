"""The SDK's error tree: every server code maps to a class, every message is one line."""

from __future__ import annotations

import inspect

import pytest

import calpico.client
from calpico.client import errors
from calpico.client.errors import (
    CalpicoError,
    EpochConflict,
    NotFound,
    RateLimited,
    ServerError,
    ServerUnavailable,
    StaleEpoch,
    server_error,
)
from calpico.wire.common import ErrorBody, ErrorCode


@pytest.mark.parametrize("code", list(ErrorCode), ids=lambda c: c.value)
def test_every_server_code_maps_to_an_error_class(code: ErrorCode) -> None:
    error = server_error(409, ErrorBody(code=code, message="line one\nline two"))
    assert isinstance(error, ServerError) and error.code is code
    assert type(error) is not ServerError
    assert "\n" not in str(error) and str(error) == f"server refused ({code.value}): line one line two"


def test_conflicts_carry_the_current_epoch() -> None:
    error = server_error(409, ErrorBody(code=ErrorCode.STALE_EPOCH, message="old", current_epoch=7))
    assert isinstance(error, StaleEpoch) and isinstance(error, EpochConflict) and error.current_epoch == 7


def test_rate_limits_carry_retry_after_from_the_body_or_the_header() -> None:
    body = server_error(429, ErrorBody(code=ErrorCode.RATE_LIMITED, message="slow", retry_after=2.5))
    assert isinstance(body, RateLimited) and body.retry_after == 2.5
    header = server_error(429, None, retry_after=4)
    assert isinstance(header, RateLimited) and header.retry_after == 4


def test_without_a_body_the_status_decides() -> None:
    assert isinstance(server_error(404, None), NotFound)
    assert isinstance(server_error(502, None), ServerUnavailable)
    assert str(server_error(502, None)) == "server refused (unavailable): HTTP 502"


def test_the_tree_has_one_root() -> None:
    classes = [c for _, c in inspect.getmembers(errors, inspect.isclass) if c.__module__ == errors.__name__]
    assert all(issubclass(c, CalpicoError) for c in classes)
    assert set(errors.__all__) == {c.__name__ for c in classes} | {"server_error"}
    # The docstring draws every class.
    assert all(c.__name__ in (errors.__doc__ or "") for c in classes)


def test_the_package_exports_what_it_lists() -> None:
    exported = calpico.client.__all__
    assert len(set(exported)) == len(exported)
    for name in exported:
        assert getattr(calpico.client, name) is not None
    # Everything the package namespace offers that is not a submodule is listed.
    public = {n for n, v in vars(calpico.client).items() if not n.startswith("_") and not inspect.ismodule(v)}
    assert public - {"annotations"} == set(exported)
