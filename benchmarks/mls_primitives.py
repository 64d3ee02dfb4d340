"""Cost per call of the RFC 9420 §5 primitives, beside the raw calls they make.

Run: ``.venv/bin/python benchmarks/mls_primitives.py`` (add ``--quick`` for a
rough pass). For suites 0x0001 and 0x0003 it times each labelled operation of
`calpico.mls.crypto.CipherSuite` and, beside it, the bare library call(s) the
operation boils down to, with already-loaded key objects: the physical floor.
The ratio is calpico / floor; the two are timed in alternating rounds and the
best round of each is kept. Nothing is asserted; timings are printed only.

Message protection (PrivateMessage protect/unprotect of a 200-byte message)
is to be added in `message_protection_rows` below, by whoever writes §6.3.
"""

from __future__ import annotations

import argparse
import hmac
import timeit
from collections.abc import Callable
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes, hpke
from cryptography.hazmat.primitives.asymmetric import ed25519, x25519
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand

from calpico.mls.crypto import CipherSuite, get_suite


@dataclass(slots=True)
class Row:
    """One line of the table: an operation, its cost, and the cost of its floor (None if no floor)."""

    suite: str
    operation: str
    calpico: Callable[[], object]
    floor: Callable[[], object] | None
    floor_label: str


def _calls_for(timer: timeit.Timer, seconds: float) -> int:
    number = 1
    while (elapsed := timer.timeit(number)) < 0.005:
        number *= 4
    return max(1, int(number * seconds / elapsed))


def measure(ours: Callable[[], object], floor: Callable[[], object] | None, budget_s: float) -> tuple[float, float]:
    """Microseconds per call of ``ours`` and of ``floor`` (NaN if none): the best of rounds that alternate
    between the two, so that a burst of load from other processes hits both sides alike."""
    rounds = 7
    timers = [timeit.Timer(fn) for fn in (ours, floor) if fn is not None]
    numbers = [_calls_for(timer, budget_s / rounds / len(timers)) for timer in timers]
    best = [float("inf")] * len(timers)
    for _ in range(rounds):
        for i, timer in enumerate(timers):
            best[i] = min(best[i], timer.timeit(numbers[i]) / numbers[i] * 1e6)
    return best[0], best[1] if len(best) > 1 else float("nan")


def primitive_rows(suite: CipherSuite) -> list[Row]:
    """ExpandWithLabel, Sign/VerifyWithLabel, Encrypt/DecryptWithLabel and the AEAD for one suite."""
    tag = f"0x{suite.suite_id:04X}"
    rows: list[Row] = []

    # ExpandWithLabel(secret, "key", 4-byte context, Nk): one HMAC block.
    secret = suite.extract(b"", b"benchmark")
    info = suite.nk.to_bytes(2, "big") + bytes([len(b"MLS 1.0 key")]) + b"MLS 1.0 key" + b"\x04\x00\x00\x00\x07"
    _same(
        "ExpandWithLabel",
        hmac.digest(secret, info + b"\x01", "sha256")[: suite.nk],
        suite.expand_with_label(secret, b"key", b"\x00\x00\x00\x07", suite.nk),
    )
    rows.append(
        Row(
            tag,
            "ExpandWithLabel (Nk bytes)",
            lambda: suite.expand_with_label(secret, b"key", b"\x00\x00\x00\x07", suite.nk),
            lambda: hmac.digest(secret, info + b"\x01", "sha256"),
            "hmac.digest SHA-256, 1 block",
        )
    )
    rows.append(
        Row(
            tag,
            "  ExpandWithLabel vs cryptography's HKDF",
            lambda: suite.expand_with_label(secret, b"key", b"\x00\x00\x00\x07", suite.nk),
            lambda: HKDFExpand(hashes.SHA256(), suite.nk, info).derive(secret),
            "HKDFExpand(info built).derive",
        )
    )

    # SignWithLabel / VerifyWithLabel over a 200-byte FramedContentTBS-sized content.
    sig_priv, sig_pub = suite.generate_signature_key_pair()
    content = bytes(200)
    label = b"FramedContentTBS"
    sign_content = bytes([len(b"MLS 1.0 " + label)]) + b"MLS 1.0 " + label + b"\x40\xc8" + content
    raw_signer = ed25519.Ed25519PrivateKey.from_private_bytes(sig_priv)
    raw_verifier = ed25519.Ed25519PublicKey.from_public_bytes(sig_pub)
    signature = suite.sign_with_label(sig_priv, label, content)
    _same("SignWithLabel", raw_signer.sign(sign_content), signature)
    rows.append(
        Row(
            tag,
            "SignWithLabel (200 B)",
            lambda: suite.sign_with_label(sig_priv, label, content),
            lambda: raw_signer.sign(sign_content),
            "Ed25519PrivateKey.sign",
        )
    )
    rows.append(
        Row(
            tag,
            "VerifyWithLabel (200 B)",
            lambda: suite.verify_with_label(sig_pub, label, content, signature),
            lambda: raw_verifier.verify(signature, sign_content),
            "Ed25519PublicKey.verify",
        )
    )

    # EncryptWithLabel / DecryptWithLabel: a 32-byte path secret under "UpdatePathNode".
    hpke_priv, hpke_pub = suite.generate_hpke_key_pair()
    context = bytes(100)  # about the size of a GroupContext
    plaintext = bytes(32)
    enc_label = b"MLS 1.0 UpdatePathNode"
    enc_info = bytes([len(enc_label)]) + enc_label + b"\x40\x64" + context
    aead = hpke.AEAD.AES_128_GCM if suite.aead_id == 1 else hpke.AEAD.CHACHA20_POLY1305
    raw_suite = hpke.Suite(hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, aead)
    raw_priv = x25519.X25519PrivateKey.from_private_bytes(hpke_priv)
    raw_pub = x25519.X25519PublicKey.from_public_bytes(hpke_pub)
    kem_output, ciphertext = suite.encrypt_with_label(hpke_pub, b"UpdatePathNode", context, plaintext)
    both = kem_output + ciphertext
    _same("DecryptWithLabel", raw_suite.decrypt(both, raw_priv, enc_info), plaintext)
    rows.append(
        Row(
            tag,
            "EncryptWithLabel (32 B)",
            lambda: suite.encrypt_with_label(hpke_pub, b"UpdatePathNode", context, plaintext),
            lambda: raw_suite.encrypt(plaintext, raw_pub, enc_info),
            "hpke.Suite.encrypt",
        )
    )
    rows.append(
        Row(
            tag,
            "DecryptWithLabel (32 B)",
            lambda: suite.decrypt_with_label(hpke_priv, b"UpdatePathNode", context, kem_output, ciphertext),
            lambda: raw_suite.decrypt(both, raw_priv, enc_info),
            "hpke.Suite.decrypt",
        )
    )
    rows.append(
        Row(
            tag,
            "  EncryptWithLabel, injected rng",
            lambda: suite.encrypt_with_label(hpke_pub, b"UpdatePathNode", context, plaintext, rng=_fixed),
            lambda: raw_suite.encrypt(plaintext, raw_pub, enc_info),
            "hpke.Suite.encrypt",
        )
    )

    # The AEAD that message protection will call, on 200 bytes.
    key, nonce, aad = bytes(suite.nk), bytes(suite.nn), bytes(30)
    raw_aead = AESGCM(key) if suite.aead_id == 1 else ChaCha20Poly1305(key)
    sealed = raw_aead.encrypt(nonce, content, aad)
    rows.append(
        Row(
            tag,
            "aead_seal (200 B)",
            lambda: suite.aead_seal(key, nonce, aad, content),
            lambda: raw_aead.encrypt(nonce, content, aad),
            f"{type(raw_aead).__name__}.encrypt",
        )
    )
    rows.append(
        Row(
            tag,
            "aead_open (200 B)",
            lambda: suite.aead_open(key, nonce, aad, sealed),
            lambda: raw_aead.decrypt(nonce, sealed, aad),
            f"{type(raw_aead).__name__}.decrypt",
        )
    )
    return rows


def _same(what: str, floor: bytes, ours: bytes) -> None:
    """Stop if a floor does not compute what the operation computes: its timing would mean nothing."""
    if bytes(floor) != bytes(ours):
        raise SystemExit(f"{what}: the floor computes something else; fix the benchmark")


def _fixed(n: int) -> bytes:
    return bytes([0x42]) * n


def message_protection_rows(rows: list[Row]) -> None:
    """>>> PLACE FOR §6.3 MESSAGE PROTECTION <<<

    Append rows for PrivateMessage protect and unprotect of a 200-byte
    application message (suites 0x0001 and 0x0003), with the floor being the
    raw ``cryptography`` calls they make (AEAD seal/open for sender data and
    content, the signature, the HMACs of the secret-tree ratchet). Leave empty
    until message protection exists.
    """


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="shorter timings, rougher figures")
    args = parser.parse_args()
    budget = 0.2 if args.quick else 1.0

    rows: list[Row] = []
    for suite_id in (0x0001, 0x0003):
        rows.extend(primitive_rows(get_suite(suite_id)))
    message_protection_rows(rows)

    header = f"{'suite':<7} {'operation':<42} {'calpico µs':>10} {'floor µs':>9} {'ratio':>6}  floor"
    print(header)
    print("-" * len(header))
    for row in rows:
        ours, floor = measure(row.calpico, row.floor, budget)
        if row.floor is None:
            print(f"{row.suite:<7} {row.operation:<42} {ours:>10.2f} {'':>9} {'':>6}  -")
            continue
        print(
            f"{row.suite:<7} {row.operation:<42} {ours:>10.2f} {floor:>9.2f} {ours / floor:>5.2f}x  {row.floor_label}"
        )


if __name__ == "__main__":
    main()
