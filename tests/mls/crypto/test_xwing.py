"""X-Wing (draft-connolly-cfrg-xwing-kem) against the draft's vectors, and suite 0x004D."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from calpico.mls.crypto import CipherSuiteId, get_suite, xwing
from calpico.mls.errors import DecryptionError, ProtocolError, UsageError

from ...vectors import REPO
from .conftest import seeded_rng

VECTORS = REPO.parent / "shared" / "spec" / "xwing-test-vectors.json"


def xwing_vectors() -> list[Any]:
    if not VECTORS.is_file():
        return [pytest.param(None, id="vectors-missing")]
    cases = json.loads(VECTORS.read_text())
    return [pytest.param(case, id=str(i)) for i, case in enumerate(cases)]


def _path_hint(path: Path) -> str:
    return f"X-Wing test vectors {path} not found (spec/test-vectors.json of draft-connolly-cfrg-xwing-kem)"


@pytest.mark.parametrize("vector", xwing_vectors())
def test_xwing_vector(vector: dict[str, str] | None) -> None:
    if vector is None:
        pytest.skip(_path_hint(VECTORS))
    h = bytes.fromhex
    sk, pk = xwing.generate_key_pair_derand(h(vector["seed"]))
    assert sk == h(vector["sk"])
    assert pk == h(vector["pk"])
    ss, ct = xwing.encapsulate_derand(pk, h(vector["eseed"]))
    assert ct == h(vector["ct"])
    assert ss == h(vector["ss"])
    assert xwing.decapsulate(h(vector["ct"]), h(vector["sk"])) == h(vector["ss"])
    # The same through the HPKE KEM interface: rng supplies eseed.
    ss2, ct2 = xwing.XWING.encap(pk, rng=lambda n: h(vector["eseed"])[:n])
    assert (ss2, ct2) == (ss, ct)
    assert xwing.XWING.decap(ct, sk) == ss


def test_vectors_file_has_the_three_draft_vectors() -> None:
    if not VECTORS.is_file():
        pytest.skip(_path_hint(VECTORS))
    assert len(json.loads(VECTORS.read_text())) == 3


def test_derive_key_pair_is_shake256_then_expand() -> None:
    kem = xwing.XWING
    ikm = b"some input keying material of any length"
    sk, pk = kem.derive_key_pair(ikm)
    assert sk == hashlib.shake_256(ikm).digest(32)
    assert xwing.generate_key_pair_derand(sk) == (sk, pk)
    assert len(pk) == xwing.PUBLIC_KEY_LENGTH == 1216


def test_randomized_encapsulation_round_trips() -> None:
    sk, pk = xwing.XWING.generate_key_pair()
    ss, ct = xwing.encapsulate(pk)
    assert len(ct) == xwing.CIPHERTEXT_LENGTH == 1120
    assert xwing.decapsulate(ct, sk) == ss
    assert xwing.encapsulate(pk)[1] != ct


def test_bad_inputs_raise_typed_errors() -> None:
    sk, pk = xwing.XWING.generate_key_pair(seeded_rng(1))
    _, ct = xwing.encapsulate(pk)
    with pytest.raises(DecryptionError):
        xwing.decapsulate(ct[:-1], sk)
    with pytest.raises(DecryptionError):
        xwing.decapsulate(ct, sk[:-1])
    with pytest.raises(UsageError):
        xwing.generate_key_pair_derand(b"short")
    # An ML-KEM coefficient >= q fails the FIPS 203 §7.2 modulus check on both paths.
    bad_pk = b"\xff\xff" + pk[2:]
    with pytest.raises(ProtocolError):
        xwing.encapsulate(bad_pk)
    with pytest.raises(ProtocolError):
        xwing.encapsulate_derand(bad_pk, bytes(64))
    with pytest.raises(ProtocolError):
        xwing.encapsulate_derand(pk[:-1], bytes(64))
    with pytest.raises(ProtocolError):  # X25519 part of small order
        xwing.encapsulate(pk[:-32] + bytes(32))
    # A ciphertext with a tampered ML-KEM part decapsulates (implicit rejection) to another secret.
    ss, ct = xwing.encapsulate(pk)
    assert xwing.decapsulate(bytes([ct[0] ^ 1]) + ct[1:], sk) != ss


def test_suite_0x004d_round_trips() -> None:
    suite = get_suite(CipherSuiteId.MLS_256_XWING_CHACHA20POLY1305_SHA256_Ed25519)
    assert (suite.kem_id, suite.kdf_id, suite.aead_id, suite.signature_scheme) == (0x647A, 1, 3, "ed25519")
    priv, pub = suite.generate_hpke_key_pair()
    for rng in (None, seeded_rng(2)):
        kem_output, ciphertext = suite.encrypt_with_label(pub, b"Welcome", b"encrypted group info", b"secrets", rng)
        assert len(kem_output) == 1120
        assert suite.decrypt_with_label(priv, b"Welcome", b"encrypted group info", kem_output, ciphertext) == b"secrets"
        # The hand-written HPKE opens it too, whichever path sealed it.
        label, context = b"MLS 1.0 Welcome", b"encrypted group info"
        info = bytes([len(label)]) + label + bytes([len(context)]) + context
        assert suite.hpke.open(kem_output, priv, info, b"", ciphertext) == b"secrets"
        kem_output2, secret = suite.hpke_export_to(pub, b"", b"MLS 1.0 external init secret", 32, rng)
        assert suite.hpke_export_from(priv, kem_output2, b"", b"MLS 1.0 external init secret", 32) == secret
    sig_priv, sig_pub = suite.generate_signature_key_pair()
    suite.verify_with_label(sig_pub, b"GroupInfoTBS", b"x", suite.sign_with_label(sig_priv, b"GroupInfoTBS", b"x"))
