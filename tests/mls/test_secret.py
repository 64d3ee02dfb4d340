"""The Secret type: redacted everywhere it could be printed, constant-time equality."""

from __future__ import annotations

import pickle

import pytest

from calpico.mls.secret import Secret


def test_secret_never_shows_its_bytes() -> None:
    s = Secret(b"\x01\x02topsecret")
    for text in (repr(s), str(s), f"{s}", f"{s!r}", f"{s}", repr([s]), repr({"k": s})):
        assert "topsecret" not in text
        assert "redacted" in text


def test_secret_equality() -> None:
    assert Secret(b"abc") == Secret(b"abc")
    assert Secret(b"abc") == b"abc"
    assert Secret(b"abc") != Secret(b"abd")
    assert Secret(b"abc") != b"ab"
    assert Secret(b"abc") != "abc"


def test_secret_is_not_hashable() -> None:
    with pytest.raises(TypeError):
        hash(Secret(b"abc"))


def test_secret_is_usable_as_bytes_and_survives_pickling() -> None:
    s = Secret(b"key")
    assert s + b"!" == b"key!"
    assert len(s) == 3
    assert Secret.zero(4) == bytes(4)
    restored = pickle.loads(pickle.dumps(s))
    assert isinstance(restored, Secret) and restored == s
