"""The shared API schemas: base64url fields, error bodies, the challenge encoding."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from calpico.wire.accounts import auth_challenge_content
from calpico.wire.common import ErrorBody, ErrorCode, b64decode, b64encode
from calpico.wire.groups import SendRequest


@given(st.binary(max_size=300))
def test_base64url_round_trips_without_padding(data: bytes) -> None:
    text = b64encode(data)
    assert "=" not in text and "+" not in text and "/" not in text
    assert b64decode(text) == data


@pytest.mark.parametrize("bad", ["a+b", "a/b", "é", "ab cd", "a"])
def test_bad_base64_is_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        b64decode(bad)


def test_send_request_decodes_binary_fields_and_refuses_extras() -> None:
    req = SendRequest.model_validate({"client_id": "c1", "message": b64encode(b"\x00\x01")})
    assert req.message == b"\x00\x01"
    assert req.model_dump(mode="json")["message"] == "AAE"
    with pytest.raises(ValidationError):
        SendRequest.model_validate({"client_id": "c1", "message": "AAE", "extra": 1})
    with pytest.raises(ValidationError):
        SendRequest.model_validate({"client_id": "bad id with spaces", "message": "AAE"})


def test_error_body_carries_a_stable_code() -> None:
    body = ErrorBody(code=ErrorCode.EPOCH_CONFLICT, message="lost", current_epoch=4)
    assert body.model_dump(mode="json", exclude_none=True) == {
        "code": "epoch_conflict",
        "message": "lost",
        "current_epoch": 4,
    }


def test_challenge_content_is_unambiguous() -> None:
    a = auth_challenge_content(b"ab", "c", "d")
    b = auth_challenge_content(b"a", "bc", "d")
    assert a != b
    assert a == b"\x00\x02ab\x00\x01c\x00\x01d"
