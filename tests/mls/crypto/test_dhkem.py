"""RFC 9180 §4.1 DHKEM and §7.1.3 DeriveKeyPair, against the MLS key-schedule vectors."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from calpico.mls.crypto import get_suite
from calpico.mls.crypto.dhkem import DHKEM_P256, DHKEM_P384, DHKEM_P521, DHKEM_X448, DHKEM_X25519
from calpico.mls.errors import DecryptionError, ProtocolError, UsageError

from ...vectors import case_params, load
from .conftest import seeded_rng


@pytest.mark.parametrize("index", case_params("key-schedule.json"))
def test_derive_key_pair_gives_external_pub(index: int | None) -> None:
    """Every epoch of key-schedule.json: external_pub = DeriveKeyPair(external_secret).public."""
    case = load("key-schedule.json")[index]
    suite = get_suite(case["cipher_suite"])
    assert case["epochs"]
    for epoch in case["epochs"]:
        priv, pub = suite.derive_key_pair(bytes.fromhex(epoch["external_secret"]))
        assert pub.hex() == epoch["external_pub"]
        assert suite.hpke_public_key(priv) == pub
        assert len(priv) == suite.kem.n_sk


@pytest.mark.parametrize("kem", [DHKEM_P256, DHKEM_P384, DHKEM_P521], ids=lambda k: k.name)
def test_curve_orders(kem: Any) -> None:
    """The order constants used for rejection sampling are the curves' orders: (n-1)·G = -G."""
    curve, order = kem.curve, kem.order
    g = ec.derive_private_key(1, curve).public_key().public_numbers()
    minus_g = ec.derive_private_key(order - 1, curve).public_key().public_numbers()
    assert (minus_g.x, minus_g.y) == (g.x, curve_prime(curve) - g.y)
    with pytest.raises(ValueError):
        ec.derive_private_key(order, curve)


def curve_prime(curve: ec.EllipticCurve) -> int:
    return {
        256: 2**256 - 2**224 + 2**192 + 2**96 - 1,
        384: 2**384 - 2**128 - 2**96 + 2**32 - 1,
        521: 2**521 - 1,
    }[curve.key_size]


@pytest.mark.parametrize("kem", [DHKEM_X25519, DHKEM_X448, DHKEM_P256, DHKEM_P384, DHKEM_P521], ids=repr)
def test_encap_decap_and_sizes(kem: Any) -> None:
    k = kem
    sk, pk = k.generate_key_pair()
    assert (len(sk), len(pk)) == (k.n_sk, k.n_pk)
    for rng in (None, seeded_rng(5)):
        shared, enc = k.encap(pk, rng)
        assert len(enc) == k.n_enc and len(shared) == k.n_secret
        assert k.decap(enc, sk) == shared
    assert k.derive_key_pair(b"a") == k.derive_key_pair(b"a") != k.derive_key_pair(b"b")


def test_rejection_sampling_masks_the_p521_top_byte() -> None:
    for i in range(20):
        sk, _ = DHKEM_P521.derive_key_pair(bytes([i]))
        assert sk[0] <= 0x01


def test_x25519_small_order_points_are_refused() -> None:
    sk, _ = DHKEM_X25519.generate_key_pair()
    zero_point = bytes(32)
    with pytest.raises(ProtocolError):
        DHKEM_X25519.encap(zero_point)
    with pytest.raises(DecryptionError):
        DHKEM_X25519.decap(zero_point, sk)


@pytest.mark.parametrize("kem", [DHKEM_P256, DHKEM_P384, DHKEM_P521], ids=repr)
def test_nist_public_keys_must_be_uncompressed_points_on_the_curve(kem: Any) -> None:
    sk, pk = kem.generate_key_pair()
    compressed = ec.EllipticCurvePublicKey.from_encoded_point(kem.curve, pk).public_bytes(
        Encoding.X962, PublicFormat.CompressedPoint
    )
    off_curve = pk[:-1] + bytes([pk[-1] ^ 1])
    for bad in (compressed, off_curve, b"\x04" + bytes(len(pk) - 1)):
        with pytest.raises(ProtocolError):
            kem.encap(bad)
        with pytest.raises(DecryptionError):
            kem.decap(bad, sk)
    with pytest.raises(UsageError):
        kem.public_key(bytes(kem.n_sk))  # the scalar 0
    with pytest.raises(UsageError):
        kem.public_key(b"\xff" * kem.n_sk)  # above the order
