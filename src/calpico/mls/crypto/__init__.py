"""RFC 9420 §5 — the MLS cipher suites, on ``cryptography``.

The only part of Calpico that touches ``cryptography``. Everything else asks a
`CipherSuite` (from `SUITES` or `get_suite`) for the operation it needs::

    suite = get_suite(CipherSuiteId.MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519)
    priv, pub = suite.generate_signature_key_pair()
    signature = suite.sign_with_label(priv, b"LeafNodeTBS", tbs)
    suite.verify_with_label(pub, b"LeafNodeTBS", tbs, signature)   # raises VerificationError

Supported: the seven suites of RFC 9420 §17.1 (0x0001-0x0007) and OpenMLS's
0x004D, MLS_256_XWING_CHACHA20POLY1305_SHA256_Ed25519 (X-Wing KEM, HPKE kem_id
0x647a). Module map: `suite` (the §5 API), `hpke` (RFC 9180 base mode),
`dhkem` and `xwing` (the KEMs; `mlkem` holds the derandomized ML-KEM
encapsulation X-Wing needs), `kdf`, `aead`, `signature`.
"""

from __future__ import annotations

from .kem import Rng
from .suite import SUITES, CipherSuite, CipherSuiteId, KeyPair, get_suite

__all__ = ["SUITES", "CipherSuite", "CipherSuiteId", "KeyPair", "Rng", "get_suite"]
