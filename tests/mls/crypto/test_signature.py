"""Signature schemes: key formats, deterministic signing, and typed failures."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from calpico.mls.crypto.signature import ECDSA_P256_SHA256, ECDSA_P384_SHA384, ECDSA_P521_SHA512, ED448, ED25519
from calpico.mls.errors import UsageError, VerificationError

from .conftest import seeded_rng

ECDSA = [ECDSA_P256_SHA256, ECDSA_P384_SHA384, ECDSA_P521_SHA512]


@pytest.mark.parametrize("scheme", [ED25519, ED448, *ECDSA], ids=lambda s: s.name)
def test_signing_is_deterministic_and_keys_come_from_the_rng(scheme: Any) -> None:
    priv = scheme.generate(seeded_rng(1))
    assert priv == scheme.generate(seeded_rng(1)) != scheme.generate(seeded_rng(2))
    assert scheme.sign(priv, b"m") == scheme.sign(priv, b"m") != scheme.sign(priv, b"n")
    scheme.verify(scheme.public_key(priv), b"m", scheme.sign(priv, b"m"))


@pytest.mark.parametrize("scheme", ECDSA, ids=lambda s: s.name)
def test_ecdsa_formats(scheme: Any) -> None:
    priv = scheme.generate(seeded_rng(3))
    pub = scheme.public_key(priv)
    assert len(priv) == scheme.scalar_length and 0 < int.from_bytes(priv, "big") < scheme.order
    assert pub[0] == 0x04 and len(pub) == 2 * scheme.scalar_length + 1
    signature = scheme.sign(priv, b"message")
    r, s = decode_dss_signature(signature)  # DER
    assert 0 < r < scheme.order and 0 < s < scheme.order
    # An independent verifier accepts it.
    curve = {32: ec.SECP256R1(), 48: ec.SECP384R1(), 66: ec.SECP521R1()}[scheme.scalar_length]
    algorithm = {32: hashes.SHA256(), 48: hashes.SHA384(), 66: hashes.SHA512()}[scheme.scalar_length]
    ec.EllipticCurvePublicKey.from_encoded_point(curve, pub).verify(signature, b"message", ec.ECDSA(algorithm))
    # Compressed points are not allowed (RFC 9420 §5.1.1).
    compressed = ec.EllipticCurvePublicKey.from_encoded_point(curve, pub).public_bytes(
        Encoding.X962, PublicFormat.CompressedPoint
    )
    with pytest.raises(VerificationError):
        scheme.verify(compressed, b"message", signature)
    with pytest.raises(VerificationError):
        scheme.verify(pub, b"message", b"\x30\x00")  # not a valid DER signature
    with pytest.raises(UsageError):
        scheme.sign(bytes(scheme.scalar_length), b"m")  # the scalar 0


def test_rejection_sampling_retries_out_of_range_scalars() -> None:
    draws = iter([b"\xff" * 32, b"\x00" * 32, b"\x01" * 32])
    priv = ECDSA_P256_SHA256.generate(lambda n: next(draws))
    assert priv == b"\x01" * 32
