"""Attachments: encrypted on the device, stored on the server as opaque blobs, fetched by capability.

Each attachment gets a fresh random 32-byte key. The blob is
``nonce (12) ‖ ChaCha20-Poly1305(key, nonce, aad="calpico attachment v1", file)``
(cipher suite 3's AEAD, HPKE AEAD id 3). The application message that shares
it (`calpico.wire.app.Attachment`) carries the server's capability id, the
key, the SHA-256 of the blob and the file's size, inside the MLS ciphertext:
the server holds only ciphertext and learns nothing but the size. Fetching
checks the hash before decrypting and the size after, so a blob swapped or
altered on the server is refused (`AttachmentCorrupt`).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from calpico.mls.crypto import get_suite
from calpico.mls.errors import MLSError
from calpico.mls.secret import Secret
from calpico.wire.app import Attachment

from .errors import AttachmentCorrupt
from .ids import new_message_id, now_ms
from .transport import Transport

__all__ = [
    "ATTACHMENT_AEAD_ID",
    "EncryptedAttachment",
    "decrypt_attachment",
    "download_attachment",
    "encrypt_attachment",
    "upload_attachment",
]

ATTACHMENT_AEAD_ID = 3  # ChaCha20-Poly1305 (RFC 9180 AEAD id)
_SUITE = get_suite(3)
_AAD = b"calpico attachment v1"
_NONCE = 12


@dataclass(frozen=True, slots=True)
class EncryptedAttachment:
    """A file encrypted for upload: the blob, and what a recipient needs to check and open it."""

    blob: bytes = field(repr=False)
    key: Secret
    sha256: bytes
    size: int


def encrypt_attachment(data: bytes, rng: Callable[[int], bytes] = os.urandom) -> EncryptedAttachment:
    """Encrypt ``data`` under a fresh key."""
    key = Secret(rng(32))
    nonce = rng(_NONCE)
    blob = nonce + _SUITE.aead_seal(key, nonce, _AAD, data)
    return EncryptedAttachment(blob, key, hashlib.sha256(blob).digest(), len(data))


def decrypt_attachment(blob: bytes, key: bytes, sha256: bytes, size: int | None = None) -> bytes:
    """Check the blob's hash, decrypt it, check its size; raises `AttachmentCorrupt`."""
    if not hmac.compare_digest(hashlib.sha256(blob).digest(), sha256):
        raise AttachmentCorrupt("the attachment does not match its hash (altered or replaced on the server)")
    try:
        data = _SUITE.aead_open(key, blob[:_NONCE], _AAD, blob[_NONCE:])
    except MLSError:
        raise AttachmentCorrupt("the attachment does not decrypt with its key") from None
    if size is not None and len(data) != size:
        raise AttachmentCorrupt("the attachment does not have the size its message gave")
    return data


async def upload_attachment(
    transport: Transport,
    data: bytes,
    *,
    name: str = "",
    media_type: str = "application/octet-stream",
    caption: str | None = None,
    reply_to: str | None = None,
    message_id: str | None = None,
    clock: Callable[[], float] = time.time,
) -> Attachment:
    """Encrypt and upload ``data``; return the application message that shares it.

    Raises `PayloadTooLarge` over the server's limit, and the transport's errors.
    """
    encrypted = encrypt_attachment(data)
    created = await transport.upload_attachment(encrypted.blob)
    return Attachment(
        id=message_id or new_message_id(),
        sent_at=now_ms(clock),
        capability=created.id,
        key=bytes(encrypted.key),
        sha256=encrypted.sha256,
        aead_id=ATTACHMENT_AEAD_ID,
        size=encrypted.size,
        media_type=media_type,
        name=name,
        caption=caption,
        reply_to=reply_to,
    )


async def download_attachment(transport: Transport, attachment: Attachment) -> bytes:
    """Fetch the blob an `Attachment` message names, verify and decrypt it.

    Raises `AttachmentCorrupt`, `NotFound` (expired or unknown), and the transport's errors.
    """
    if attachment.aead_id != ATTACHMENT_AEAD_ID:
        raise AttachmentCorrupt(f"attachments encrypted with AEAD {attachment.aead_id} are not supported")
    blob = await transport.fetch_attachment(attachment.capability)
    return decrypt_attachment(blob, attachment.key, attachment.sha256, attachment.size)
