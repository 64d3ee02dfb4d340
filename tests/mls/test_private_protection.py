"""RFC 9420 §6.3 — PrivateMessage protection: round trips, reuse guard, padding, sender checks, tampering."""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable

import pytest

from calpico.mls.authentication import VerifiedContent, authenticate, framed_content_tbs, sign_framed_content
from calpico.mls.codec import encode_varint
from calpico.mls.commit import Commit
from calpico.mls.crypto import SUITES
from calpico.mls.errors import DecodeError, DecryptionError, MLSError, ProtocolError, UsageError, VerificationError
from calpico.mls.framing import (
    AuthenticatedContent,
    ContentType,
    FramedContent,
    FramedContentAuthData,
    Sender,
    SenderType,
    WireFormat,
)
from calpico.mls.messages import MLSMessage
from calpico.mls.private_message import PrivateContentAAD, PrivateMessage, SenderData, SenderDataAAD
from calpico.mls.private_protection import (
    DEFAULT_PADDING,
    PaddingPolicy,
    no_padding,
    pad_to_multiple,
    protect_application,
    protect_private,
    unprotect_private,
)
from calpico.mls.proposals import Proposal, Remove
from calpico.mls.secret_tree import RatchetType, SecretTree, sender_data_key_nonce

from .members import Epoch, epoch
from .samples import commit as sample_commit

PRIVATE = WireFormat.mls_private_message
BODIES: list[bytes | Proposal | Commit] = [b"hello, room", Proposal.of(Remove(3)), sample_commit()]


def seeded(seed: int = 0) -> Callable[[int], bytes]:
    return random.Random(seed).randbytes


def sign(e: Epoch, leaf: int, body: bytes | Proposal | Commit, aad: bytes = b"") -> AuthenticatedContent:
    content = FramedContent.of(e.context.group_id, e.context.epoch, Sender.member(leaf), body, aad)
    if not isinstance(body, Commit):
        return authenticate(e.suite, e.private_key(leaf), PRIVATE, content, e.context)
    tbs = framed_content_tbs(PRIVATE, content, SenderType.member, e.context)
    auth = FramedContentAuthData(sign_framed_content(e.suite, e.private_key(leaf), tbs), b"T" * e.suite.nh)
    return AuthenticatedContent(PRIVATE, content, auth)


def protect(e: Epoch, tree: SecretTree, authenticated: AuthenticatedContent, **kwargs: object) -> PrivateMessage:
    return protect_private(
        e.suite,
        authenticated,
        sender_data_secret=e.sender_data_secret,
        secret_tree=tree,
        **kwargs,  # type: ignore[arg-type]
    )


def unprotect(e: Epoch, tree: SecretTree, message: PrivateMessage | None) -> VerifiedContent:
    assert message is not None
    return unprotect_private(
        e.suite,
        message,
        context=e.context,
        sender_data_secret=e.sender_data_secret,
        secret_tree=tree,
        leaf_signature_key=e.leaf_signature_key,
    )


def application(e: Epoch, tree: SecretTree, leaf: int, data: bytes, **kwargs: object) -> PrivateMessage:
    return protect_application(
        e.suite,
        data,
        leaf_index=leaf,
        signature_private_key=e.private_key(leaf),
        context=e.context,
        sender_data_secret=e.sender_data_secret,
        secret_tree=tree,
        **kwargs,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("suite_id", sorted(SUITES), ids=lambda s: f"cs{s}")
def test_round_trip_for_every_suite(suite_id: int) -> None:
    e = epoch(suite_id)
    sender, receiver = e.tree(), e.tree()
    for body in BODIES:
        authenticated = sign(e, 2, body, b"aad")
        wire = MLSMessage.of(protect(e, sender, authenticated)).encode()
        verified = unprotect(e, receiver, MLSMessage.decode(wire).private_message)
        assert verified.authenticated_content == authenticated
    message = application(e, sender, 2, b"fast path", authenticated_data=b"aad")
    assert unprotect(e, receiver, message).body == b"fast path"


def test_protect_application_is_protect_private_without_the_structs() -> None:
    e = epoch()
    for data, aad in [(b"", b""), (b"x" * 200, b"meta"), (b"y" * 5000, b"z" * 70)]:
        fast = application(e, e.tree(), 3, data, authenticated_data=aad, rng=seeded())
        general = protect(e, e.tree(), sign(e, 3, data, aad), rng=seeded())
        assert fast == general


def test_the_message_follows_section_6_3() -> None:
    e = epoch()
    guard = b"\xa1\xb2\xc3\xd4"
    message = protect(e, e.tree(), sign(e, 1, b"hi", b"aad"), rng=lambda n: guard)
    assert (message.group_id, message.epoch, message.content_type) == (e.context.group_id, 42, ContentType.application)
    # Sender data, under the key and nonce from the ciphertext sample.
    key, nonce = sender_data_key_nonce(e.suite, e.sender_data_secret, message.ciphertext)
    sender_aad = SenderDataAAD(message.group_id, message.epoch, message.content_type).encode()
    sender_data = SenderData.decode(e.suite.aead_open(key, nonce, sender_aad, message.encrypted_sender_data))
    assert sender_data == SenderData(1, 0, guard)
    # Content, under the ratchet key with the reuse guard XORed into the nonce.
    ratchet = e.tree().encryption_key(1, RatchetType.application)
    guarded = bytes(a ^ b for a, b in zip(ratchet.nonce, guard + bytes(8), strict=True))
    content_aad = PrivateContentAAD(message.group_id, message.epoch, message.content_type, b"aad").encode()
    plaintext = e.suite.aead_open(ratchet.key, guarded, content_aad, message.ciphertext)
    assert plaintext.startswith(b"\x02hi")
    assert len(plaintext) % 32 == 0  # the default padding


def test_the_reuse_guard_is_fresh_randomness() -> None:
    e = epoch()
    one = protect(e, e.tree(), sign(e, 1, b"same"), rng=seeded(1))
    two = protect(e, e.tree(), sign(e, 1, b"same"), rng=seeded(2))
    assert one.ciphertext != two.ciphertext  # same key and generation, different nonce
    with pytest.raises(UsageError):
        protect(e, e.tree(), sign(e, 1, b"x"), rng=lambda n: b"abc")


@pytest.mark.parametrize(
    ("policy", "block"),
    [
        (DEFAULT_PADDING, 32),
        (pad_to_multiple(100), 100),
        (no_padding, None),
        (lambda n: 1000, None),
    ],
    ids=["default", "100", "none", "fixed"],
)
def test_padding_policies(policy: PaddingPolicy, block: int | None) -> None:
    e = epoch()
    sender, receiver = e.tree(), e.tree()
    unpadded = 1 + 2 + 64  # application_data<V> of 0 bytes, then signature<V> (64-byte Ed25519, 2-byte length)
    for length in (0, 1, 17, 50):
        message = protect(e, sender, sign(e, 0, b"p" * length), padding=policy)
        plaintext_length = len(message.ciphertext) - 16  # the AEAD tag
        if block is not None:
            assert plaintext_length % block == 0 and plaintext_length - (unpadded + length) < block
        elif policy is no_padding:
            assert plaintext_length == unpadded + length
        else:
            assert plaintext_length == unpadded + length + 1000
        assert unprotect(e, receiver, message).body == b"p" * length
    with pytest.raises(UsageError):
        protect(e, sender, sign(e, 0, b"x"), padding=lambda n: -1)
    with pytest.raises(UsageError):
        pad_to_multiple(0)


def _seal_by_hand(e: Epoch, tree: SecretTree, leaf: int, plaintext: bytes) -> PrivateMessage:
    """Encrypt any plaintext as a PrivateMessage from ``leaf`` (a member misbehaving)."""
    ratchet = tree.encryption_key(leaf, RatchetType.application)
    group, epoch_ = e.context.group_id, e.context.epoch
    content_aad = PrivateContentAAD(group, epoch_, ContentType.application, b"").encode()
    ciphertext = e.suite.aead_seal(ratchet.key, ratchet.nonce, content_aad, plaintext)
    key, nonce = sender_data_key_nonce(e.suite, e.sender_data_secret, ciphertext)
    sender_data = SenderData(leaf, ratchet.generation, bytes(4)).encode()
    sender_aad = SenderDataAAD(group, epoch_, ContentType.application).encode()
    encrypted = e.suite.aead_seal(key, nonce, sender_aad, sender_data)
    return PrivateMessage(group, epoch_, ContentType.application, b"", encrypted, ciphertext)


def test_non_zero_padding_is_rejected() -> None:
    e = epoch()
    signed = sign(e, 1, b"data")
    plaintext = encode_varint(4) + b"data" + signed.auth.encode()
    sender, receiver = e.tree(), e.tree()
    assert unprotect(e, receiver, _seal_by_hand(e, sender, 1, plaintext + bytes(7))).body == b"data"
    with pytest.raises(DecodeError) as info:
        unprotect(e, receiver, _seal_by_hand(e, sender, 1, plaintext + bytes(6) + b"\x01"))
    assert info.value.section == "6.3.1"


def test_blank_and_unknown_senders_are_refused() -> None:
    e = epoch(n_leaves=4, blank=frozenset({2}))
    plaintext = encode_varint(1) + b"x" + sign(e, 1, b"x").auth.encode()
    for leaf in (2, 7):
        sender = SecretTree(e.suite, e.schedule.encryption_secret, 8)
        with pytest.raises(ProtocolError) as info:
            unprotect(e, e.tree(), _seal_by_hand(e, sender, leaf, plaintext))
        assert info.value.section == "6.3.2"


def test_wrong_group_or_epoch_is_refused() -> None:
    e = epoch()
    message = protect(e, e.tree(), sign(e, 1, b"x"))
    for changes in ({"group_id": b"other"}, {"epoch": 41}):
        with pytest.raises(ProtocolError):
            unprotect(e, e.tree(), dataclasses.replace(message, **changes))  # type: ignore[arg-type]


def test_replays_are_refused_and_reordering_is_fine() -> None:
    e = epoch()
    sender, receiver = e.tree(), e.tree()
    messages = [protect(e, sender, sign(e, 0, bytes([i]))) for i in range(5)]
    for i in (4, 2, 0, 1, 3):
        assert unprotect(e, receiver, messages[i]).body == bytes([i])
    with pytest.raises(DecryptionError) as info:
        unprotect(e, receiver, messages[2])
    assert info.value.section == "9.2"


def test_a_forged_signature_does_not_burn_the_generation() -> None:
    e = epoch()
    sender, receiver = e.tree(), e.tree()
    forged = dataclasses.replace(sign(e, 1, b"x"), auth=FramedContentAuthData(b"\x00" * 64))
    message = protect(e, sender, forged)
    with pytest.raises(VerificationError):
        unprotect(e, receiver, message)
    # Any member can derive leaf 1's keys; the honest message of that generation still gets through.
    honest = protect(e, e.tree(), sign(e, 1, b"honest"))
    assert unprotect(e, receiver, honest).body == b"honest"


def test_protect_refuses_misuse() -> None:
    e = epoch()
    public = authenticate(
        e.suite,
        e.private_key(0),
        WireFormat.mls_public_message,
        FramedContent.of(e.context.group_id, 42, Sender.member(0), b"x"),
        e.context,
    )
    with pytest.raises(UsageError):
        protect(e, e.tree(), public)
    external = FramedContent.of(e.context.group_id, 42, Sender.external(0), Proposal.of(Remove(1)))
    signed = authenticate(e.suite, e.external_keys[0].private_key, PRIVATE, external, e.context)
    with pytest.raises(UsageError):
        protect(e, e.tree(), signed)
    with pytest.raises(UsageError):
        protect_application(
            e.suite,
            b"no such leaf",
            leaf_index=9,
            signature_private_key=e.private_key(0),
            context=e.context,
            sender_data_secret=e.sender_data_secret,
            secret_tree=e.tree(),
        )


def test_every_tampered_byte_is_refused_with_a_typed_error() -> None:
    e = epoch()
    receiver = e.tree()
    sender = e.tree()
    for body in (b"tamper me", Proposal.of(Remove(2))):
        authenticated = sign(e, 1, body, b"aad")
        wire = MLSMessage.of(protect(e, sender, authenticated)).encode()
        for position in range(len(wire)):
            tampered = bytearray(wire)
            tampered[position] ^= 0x01 if position % 2 else 0x80
            with pytest.raises((DecodeError, ProtocolError)) as info:
                private = MLSMessage.decode(bytes(tampered)).private_message
                if private is None:
                    raise DecodeError("not a PrivateMessage")
                unprotect(e, receiver, private)
            assert isinstance(info.value, MLSError)
        # Nothing was consumed by the failures: the genuine message still opens, once.
        assert unprotect(e, receiver, MLSMessage.decode(wire).private_message).authenticated_content == authenticated
