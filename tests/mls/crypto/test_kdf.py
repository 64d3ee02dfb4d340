"""HKDF (RFC 5869) on the standard library's HMAC, checked against cryptography's HKDF."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF, HKDFExpand

from calpico.mls.crypto.kdf import HKDF_SHA256, HKDF_SHA384, HKDF_SHA512, Kdf
from calpico.mls.errors import UsageError
from calpico.mls.secret import Secret


def test_rfc5869_case_1() -> None:
    ikm = bytes.fromhex("0b" * 22)
    salt = bytes.fromhex("000102030405060708090a0b0c")
    info = bytes.fromhex("f0f1f2f3f4f5f6f7f8f9")
    prk = HKDF_SHA256.extract(salt, ikm)
    assert prk.hex() == "077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5"
    okm = HKDF_SHA256.expand(prk, info, 42)
    assert okm.hex() == ("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865")
    assert isinstance(okm, Secret)


@pytest.mark.parametrize("kdf", [HKDF_SHA256, HKDF_SHA384, HKDF_SHA512], ids=lambda k: k.hash_name)
@pytest.mark.parametrize("length", [0, 1, 31, 32, 48, 64, 65, 200])
def test_matches_cryptography(kdf: Kdf, length: int) -> None:
    algorithm = {"sha256": hashes.SHA256(), "sha384": hashes.SHA384(), "sha512": hashes.SHA512()}[kdf.hash_name]
    prk = kdf.extract(b"salt", b"input keying material")
    if length:
        expected = HKDF(algorithm, length, b"salt", b"info").derive(b"input keying material")
        assert kdf.expand(prk, b"info", length) == expected
        assert kdf.expand(prk, b"info", length) == HKDFExpand(algorithm, length, b"info").derive(prk)
    else:
        assert kdf.expand(prk, b"info", 0) == b""
    # An empty salt is Nh zero bytes.
    assert kdf.extract(b"", b"ikm") == kdf.extract(bytes(kdf.nh), b"ikm")


def test_length_limits() -> None:
    with pytest.raises(UsageError):
        HKDF_SHA256.expand(bytes(32), b"", 255 * 32 + 1)
    assert len(HKDF_SHA256.expand(bytes(32), b"", 255 * 32)) == 255 * 32
    with pytest.raises(UsageError):
        HKDF_SHA256.labeled_expand(b"KEM\x00\x20", bytes(32), b"x", b"", 70000)
