"""FIPS 203 ML-KEM-768 encapsulation (derandomized), checked against cryptography's decapsulation."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import mlkem as native_mlkem

from calpico.mls.crypto import mlkem
from calpico.mls.errors import ProtocolError

from .conftest import seeded_rng


@pytest.mark.parametrize("seed", range(3))
def test_encaps_internal_is_decapsulated_by_openssl(seed: int) -> None:
    rng = seeded_rng(seed)
    sk = native_mlkem.MLKEM768PrivateKey.from_seed_bytes(rng(64))
    ek = sk.public_key().public_bytes_raw()
    m = rng(32)
    shared, ciphertext = mlkem.encaps_internal(ek, m)
    assert len(ciphertext) == mlkem.CIPHERTEXT_LENGTH == 1088
    assert sk.decapsulate(ciphertext) == shared
    assert mlkem.encaps_internal(ek, m) == (shared, ciphertext)
    assert mlkem.encaps_internal(ek, rng(32))[1] != ciphertext


def test_encapsulation_key_check() -> None:
    sk = native_mlkem.MLKEM768PrivateKey.from_seed_bytes(bytes(64))
    ek = sk.public_key().public_bytes_raw()
    with pytest.raises(ProtocolError, match="modulus"):
        mlkem.encaps_internal(b"\xff\xff" + ek[2:], bytes(32))
    with pytest.raises(ProtocolError):
        mlkem.encaps_internal(ek[:-1], bytes(32))
