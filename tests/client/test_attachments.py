"""Attachments: encrypted client-side, round trip through the real server, tampering refused."""

from __future__ import annotations

import hashlib
import os

import pytest

from calpico.client.attachments import decrypt_attachment, download_attachment, encrypt_attachment, upload_attachment
from calpico.client.errors import AttachmentCorrupt, NotFound, PayloadTooLarge
from calpico.wire.app import Attachment, decode_app_message, encode_app_message

from .conftest import MakeAccount

MARKER = b"ATTACHMENT-PLAINTEXT-MARKER"


async def test_round_trip_through_the_server(make_account: MakeAccount) -> None:
    alice, bob = await make_account(), await make_account()
    data = MARKER + os.urandom(50_000)
    message = await upload_attachment(alice.transport, data, name="photo.bin", media_type="image/png")
    assert message.size == len(data) and message.name == "photo.bin"
    # It travels inside an application message; the recipient fetches with the capability in it.
    received = decode_app_message(encode_app_message(message))
    assert isinstance(received, Attachment)
    assert await download_attachment(bob.transport, received) == data
    # The server only ever had ciphertext.
    blob = await bob.transport.fetch_attachment(received.capability)
    assert MARKER not in blob and len(blob) == len(data) + 12 + 16


async def test_a_swapped_or_altered_blob_is_refused(make_account: MakeAccount) -> None:
    alice = await make_account()
    real = await upload_attachment(alice.transport, b"the real file")
    other = await upload_attachment(alice.transport, b"another file")
    swapped = real.model_copy(update={"capability": other.capability})
    with pytest.raises(AttachmentCorrupt) as info:
        await download_attachment(alice.transport, swapped)
    assert "does not match its hash" in str(info.value)
    enc = encrypt_attachment(b"hello")
    tampered = enc.blob[:-1] + bytes([enc.blob[-1] ^ 1])
    with pytest.raises(AttachmentCorrupt):  # hash recomputed by the attacker: the AEAD tag still fails
        decrypt_attachment(tampered, enc.key, hashlib.sha256(tampered).digest())
    with pytest.raises(AttachmentCorrupt):
        decrypt_attachment(enc.blob, os.urandom(32), enc.sha256)
    with pytest.raises(AttachmentCorrupt):
        decrypt_attachment(enc.blob, enc.key, enc.sha256, size=6)
    assert decrypt_attachment(enc.blob, enc.key, enc.sha256, size=5) == b"hello"


async def test_unknown_capability_and_size_limit(make_account: MakeAccount) -> None:
    alice = await make_account()
    message = await upload_attachment(alice.transport, b"x")
    with pytest.raises(NotFound):
        await download_attachment(alice.transport, message.model_copy(update={"capability": "nope"}))
    with pytest.raises(PayloadTooLarge):
        await upload_attachment(alice.transport, bytes(26 * 1024 * 1024))


def test_every_attachment_gets_its_own_key() -> None:
    a, b = encrypt_attachment(b"same"), encrypt_attachment(b"same")
    assert a.key != b.key and a.blob != b.blob and a.sha256 != b.sha256
