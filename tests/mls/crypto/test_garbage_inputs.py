"""Property: garbage handed to the decrypting and verifying functions raises only MLSError.

Inputs are random bytes, of random lengths or of exactly the lengths the suite
expects (so the checks past the length tests run too). A call may also succeed,
which for random input it essentially never does; what must never happen is
any other exception escaping (ValueError, InvalidTag, IndexError, ...).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from calpico.mls.crypto import SUITES, CipherSuite
from calpico.mls.errors import MLSError

SUITE_IDS = sorted(SUITES)
FUZZ = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def sized(*lengths: int) -> st.SearchStrategy[bytes]:
    """Random bytes: of any small length, or of one of ``lengths`` exactly."""
    return st.one_of(st.binary(max_size=80), *(st.binary(min_size=n, max_size=n) for n in lengths))


def only_mls_errors(call: Callable[[], Any]) -> None:
    """Run ``call``; an MLSError is an accepted outcome, anything else fails the test."""
    with contextlib.suppress(MLSError):
        call()


def _keys(suite: CipherSuite) -> tuple[int, int, int]:
    sig_pub = len(suite.generate_signature_key_pair().public_key)
    return suite.kem.n_sk, suite.hpke_enc_length, sig_pub


@pytest.mark.parametrize("suite_id", SUITE_IDS, ids=lambda s: f"cs{s}")
def test_decrypt_with_label(suite_id: int) -> None:
    suite = SUITES[suite_id]
    n_sk, n_enc, _ = _keys(suite)
    valid_priv = suite.generate_hpke_key_pair().private_key

    @FUZZ
    @given(priv=st.one_of(sized(n_sk), st.just(valid_priv)), kem_output=sized(n_enc), ciphertext=sized(16, 17))
    def check(priv: bytes, kem_output: bytes, ciphertext: bytes) -> None:
        only_mls_errors(lambda: suite.decrypt_with_label(priv, b"L", b"ctx", kem_output, ciphertext))
        only_mls_errors(lambda: suite.hpke_export_from(priv, kem_output, b"", b"ctx", suite.nh))

    check()


@pytest.mark.parametrize("suite_id", SUITE_IDS, ids=lambda s: f"cs{s}")
def test_verify_with_label(suite_id: int) -> None:
    suite = SUITES[suite_id]
    _, _, n_pub = _keys(suite)
    valid_pub = suite.generate_signature_key_pair().public_key
    sig_lengths = {"ed25519": 64, "ed448": 114}.get(suite.signature_scheme, 72)

    @FUZZ
    @given(
        pub=st.one_of(
            sized(n_pub), st.just(valid_pub), st.binary(min_size=n_pub, max_size=n_pub).map(lambda b: b"\x04" + b[1:])
        ),
        content=st.binary(max_size=100),
        signature=sized(sig_lengths),
    )
    def check(pub: bytes, content: bytes, signature: bytes) -> None:
        only_mls_errors(lambda: suite.verify_with_label(pub, b"LeafNodeTBS", content, signature))

    check()


@pytest.mark.parametrize("suite_id", SUITE_IDS, ids=lambda s: f"cs{s}")
def test_aead_open_and_verify_mac(suite_id: int) -> None:
    suite = SUITES[suite_id]

    @FUZZ
    @given(key=sized(suite.nk), nonce=sized(suite.nn), aad=st.binary(max_size=40), ciphertext=sized(16, 40))
    def check(key: bytes, nonce: bytes, aad: bytes, ciphertext: bytes) -> None:
        only_mls_errors(lambda: suite.aead_open(key, nonce, aad, ciphertext))
        only_mls_errors(lambda: suite.verify_mac(key, aad, ciphertext))

    check()


@pytest.mark.parametrize("suite_id", SUITE_IDS, ids=lambda s: f"cs{s}")
def test_encrypt_to_garbage_public_keys(suite_id: int) -> None:
    suite = SUITES[suite_id]

    @FUZZ
    @given(pub=sized(suite.kem.n_pk), native=st.booleans())
    def check(pub: bytes, native: bool) -> None:
        # Both HPKE paths: native (no rng) and hand-written (injected rng).
        rng = None if native else (lambda n: b"\x07" * n)
        only_mls_errors(lambda: suite.encrypt_with_label(pub, b"L", b"", b"pt", rng=rng))
        only_mls_errors(lambda: suite.hpke_export_to(pub, b"", b"ctx", 16, rng=rng))

    check()
