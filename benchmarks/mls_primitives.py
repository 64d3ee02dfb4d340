"""Cost per call of the RFC 9420 §5 primitives, beside the raw calls they make.

Run: ``.venv/bin/python benchmarks/mls_primitives.py`` (add ``--quick`` for a
rough pass). For suites 0x0001 and 0x0003 it times each labelled operation of
`calpico.mls.crypto.CipherSuite` and, beside it, the bare library call(s) the
operation boils down to, with already-loaded key objects: the physical floor.
The ratio is calpico / floor; the two are timed in alternating rounds and the
best round of each is kept. Nothing is asserted; timings are printed only.

`message_protection_rows` adds PrivateMessage protect/unprotect of a 200-byte
application message (§6.3), beside the sum of the raw calls they make.
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
    """PrivateMessage protect and unprotect of a 200-byte application message, suites 0x0001 and 0x0003.

    protect   = protect_application: frame, sign and encrypt the data (also shown: the same through the
                general path FramedContent.of + authenticate + protect_private, and with the MLSMessage encoding)
    unprotect = unprotect_private: sender data, ratchet key, content, signature, key deletion

    The floor is the raw ``cryptography``/``hmac`` calls those make, with inputs precomputed and keys loaded:
      - the Ed25519 sign (protect) or verify (unprotect) of the FramedContentTBS;
      - AEAD construction (AESGCM/ChaCha20Poly1305(key), a new key per message) + encrypt/decrypt, twice:
        the content under the ratchet key, the 12-byte SenderData under the sender-data key;
      - five hmac.digest calls (one HKDF-Expand block each): the ratchet step's key, nonce and next
        secret (DeriveTreeSecret "key"/"nonce"/"secret"), and the sender-data key and nonce.
    Not in the floor: os.urandom(4) for the reuse guard (protect), which calpico also pays.

    Unprotect needs a fresh generation per call, so it cycles through a pool of messages with
    consecutive generations and starts a new receiver tree when the pool wraps (one tree per
    ``POOL`` messages, amortised).
    """
    for suite_id in (0x0001, 0x0003):
        rows.extend(_protection_rows(get_suite(suite_id)))


POOL = 2000


def _protection_rows(suite: CipherSuite) -> list[Row]:
    from calpico.mls.authentication import authenticate
    from calpico.mls.framing import FramedContent, Sender, WireFormat
    from calpico.mls.group_context import GroupContext, ProtocolVersion
    from calpico.mls.messages import MLSMessage
    from calpico.mls.private_message import PrivateMessage
    from calpico.mls.private_protection import protect_application, protect_private, unprotect_private
    from calpico.mls.secret_tree import RatchetType, SecretTree, sender_data_key_nonce

    tag = f"0x{suite.suite_id:04X}"
    nh = suite.nh
    sig_priv, sig_pub = suite.generate_signature_key_pair()
    context = GroupContext(ProtocolVersion.mls10, suite.suite_id, b"g" * 16, 7, b"T" * nh, b"C" * nh, ())
    encryption_secret, sender_data_secret = suite.extract(b"", b"enc"), suite.extract(b"", b"sd")
    n_leaves, leaf = 64, 5
    data = bytes(200)
    private = WireFormat.mls_private_message

    sender_tree = SecretTree(suite, encryption_secret, n_leaves)

    def protect() -> PrivateMessage:
        return protect_application(
            suite,
            data,
            leaf_index=leaf,
            signature_private_key=sig_priv,
            context=context,
            sender_data_secret=sender_data_secret,
            secret_tree=sender_tree,
        )

    def protect_general() -> PrivateMessage:
        content = FramedContent.of(context.group_id, context.epoch, Sender.member(leaf), data)
        signed = authenticate(suite, sig_priv, private, content, context)
        return protect_private(suite, signed, sender_data_secret=sender_data_secret, secret_tree=sender_tree)

    def protect_to_wire() -> bytes:
        return MLSMessage.of(protect()).encode()

    # The pool for unprotect: generations 0 .. POOL-1 of a second sender tree.
    pool_tree = SecretTree(suite, encryption_secret, n_leaves)
    pool = []
    for _ in range(POOL):
        content = FramedContent.of(context.group_id, context.epoch, Sender.member(leaf), data)
        signed = authenticate(suite, sig_priv, private, content, context)
        pool.append(protect_private(suite, signed, sender_data_secret=sender_data_secret, secret_tree=pool_tree))
    pool_wire = [MLSMessage.of(m).encode() for m in pool]

    def lookup(index: int) -> bytes | None:
        return sig_pub if index == leaf else None

    class Receiver:
        def __init__(self) -> None:
            self.i = POOL

        def next_tree(self) -> SecretTree:
            if self.i == POOL:
                self.i = 0
                self.tree = SecretTree(suite, encryption_secret, n_leaves)
            self.i += 1
            return self.tree

        def unprotect(self) -> object:
            tree = self.next_tree()
            return unprotect_private(
                suite,
                pool[self.i - 1],
                context=context,
                sender_data_secret=sender_data_secret,
                secret_tree=tree,
                leaf_signature_key=lookup,
            )

        def unprotect_wire(self) -> object:
            tree = self.next_tree()
            message = MLSMessage.decode(pool_wire[self.i - 1]).private_message
            assert message is not None
            return unprotect_private(
                suite,
                message,
                context=context,
                sender_data_secret=sender_data_secret,
                secret_tree=tree,
                leaf_signature_key=lookup,
            )

    # --- the floor: the same computation for generation 0 of the pool, as raw calls -----------------
    message = pool[0]
    verified = Receiver().unprotect()
    assert verified.body == data  # type: ignore[attr-defined]
    ratchet_secret = suite.expand_with_label(
        _leaf_secret(suite, encryption_secret, n_leaves, leaf), b"application", b"", nh
    )
    check_tree = SecretTree(suite, encryption_secret, n_leaves)
    expected = check_tree.encryption_key(leaf, RatchetType.application)

    def info(label: bytes, context_bytes: bytes, length: int) -> bytes:
        full = b"MLS 1.0 " + label
        return (
            length.to_bytes(2, "big")
            + bytes([len(full)])
            + full
            + bytes([len(context_bytes)])
            + context_bytes
            + b"\x01"
        )

    gen0 = (0).to_bytes(4, "big")
    key_info, nonce_info, next_info = (
        info(b"key", gen0, suite.nk),
        info(b"nonce", gen0, suite.nn),
        info(b"secret", gen0, nh),
    )
    _same("ratchet key", hmac.digest(ratchet_secret, key_info, "sha256")[: suite.nk], expected.key)
    _same("ratchet nonce", hmac.digest(ratchet_secret, nonce_info, "sha256")[: suite.nn], expected.nonce)
    sample = message.ciphertext[:nh]
    sd_key_info, sd_nonce_info = info(b"key", sample, suite.nk), info(b"nonce", sample, suite.nn)
    sd_key, sd_nonce = sender_data_key_nonce(suite, sender_data_secret, message.ciphertext)
    _same("sender data key", hmac.digest(sender_data_secret, sd_key_info, "sha256")[: suite.nk], sd_key)
    aead_class = AESGCM if suite.aead_id == 1 else ChaCha20Poly1305
    sd_aad = bytes([16]) + context.group_id + (7).to_bytes(8, "big") + b"\x01"
    content_aad = sd_aad + b"\x00"
    sender_data = aead_class(bytes(sd_key)).decrypt(bytes(sd_nonce), message.encrypted_sender_data, sd_aad)
    guard = sender_data[8:]
    nonce = (int.from_bytes(expected.nonce[:4], "big") ^ int.from_bytes(guard, "big")).to_bytes(4, "big")
    nonce += expected.nonce[4:]
    key = bytes(expected.key)
    plaintext = aead_class(key).decrypt(nonce, message.ciphertext, content_aad)
    tbs = b"\x00\x01\x00\x02" + verified.authenticated_content.content.encode() + context.encode()  # type: ignore[attr-defined]
    label = b"MLS 1.0 FramedContentTBS"
    sign_input = bytes([len(label)]) + label + (len(tbs) | 0x4000).to_bytes(2, "big") + tbs
    signer = ed25519.Ed25519PrivateKey.from_private_bytes(sig_priv)
    verifier = ed25519.Ed25519PublicKey.from_public_bytes(sig_pub)
    signature = verified.auth.signature  # type: ignore[attr-defined]
    verifier.verify(signature, sign_input)  # the floor verifies what calpico verified
    sd_key_b, sd_nonce_b = bytes(sd_key), bytes(sd_nonce)
    digest = hmac.digest

    def floor_protect() -> object:
        digest(ratchet_secret, key_info, "sha256")
        digest(ratchet_secret, nonce_info, "sha256")
        digest(ratchet_secret, next_info, "sha256")
        signer.sign(sign_input)
        aead_class(key).encrypt(nonce, plaintext, content_aad)
        digest(sender_data_secret, sd_key_info, "sha256")
        digest(sender_data_secret, sd_nonce_info, "sha256")
        return aead_class(sd_key_b).encrypt(sd_nonce_b, sender_data, sd_aad)

    def floor_unprotect() -> object:
        digest(sender_data_secret, sd_key_info, "sha256")
        digest(sender_data_secret, sd_nonce_info, "sha256")
        aead_class(sd_key_b).decrypt(sd_nonce_b, message.encrypted_sender_data, sd_aad)
        digest(ratchet_secret, key_info, "sha256")
        digest(ratchet_secret, nonce_info, "sha256")
        digest(ratchet_secret, next_info, "sha256")
        aead_class(key).decrypt(nonce, message.ciphertext, content_aad)
        verifier.verify(signature, sign_input)
        return None

    floor_label = "sign + 2x AEAD(new)+seal + 5 HMAC"
    receiver, wire_receiver = Receiver(), Receiver()
    return [
        Row(tag, "PrivateMessage protect (200 B)", protect, floor_protect, floor_label),
        Row(tag, "  protect, to MLSMessage bytes", protect_to_wire, floor_protect, floor_label),
        Row(tag, "  FramedContent+authenticate+protect_private", protect_general, floor_protect, floor_label),
        Row(
            tag,
            "PrivateMessage unprotect (200 B)",
            receiver.unprotect,
            floor_unprotect,
            "verify + 2x AEAD(new)+open + 5 HMAC",
        ),
        Row(
            tag,
            "  unprotect, from MLSMessage bytes",
            wire_receiver.unprotect_wire,
            floor_unprotect,
            "verify + 2x AEAD(new)+open + 5 HMAC",
        ),
    ]


def _leaf_secret(suite: CipherSuite, encryption_secret: bytes, n_leaves: int, leaf: int) -> bytes:
    """The secret-tree leaf secret, derived by hand from the root (§9), for the floor's inputs."""
    from calpico.mls.tree.treemath import NodeIndex, left, level, right, root

    node, target, secret = root(n_leaves), 2 * leaf, encryption_secret
    while level(node) > 0:
        go_left = target < node
        secret = suite.expand_with_label(secret, b"tree", b"left" if go_left else b"right", suite.nh)
        node = left(NodeIndex(node)) if go_left else right(NodeIndex(node))
    return secret


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
