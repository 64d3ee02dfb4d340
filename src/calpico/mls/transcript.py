"""RFC 9420 §8.2 — Transcript hashes, and the confirmation tag (§6.1) that binds them.

Every Commit moves two running hashes forward::

    confirmed[n] = Hash(interim[n-1] || ConfirmedTranscriptHashInput[n])
    interim[n]   = Hash(confirmed[n] || InterimTranscriptHashInput[n])

where the inputs are the Commit's AuthenticatedContent without, and then only,
its confirmation tag. ``confirmed[n]`` goes into the new GroupContext (so into
the new key schedule), and the Commit's confirmation tag is
``MAC(confirmation_key[n], confirmed[n])``. Both hashes are empty at epoch 0; a
joiner seeds them from the GroupInfo (§12.4.3.1).

`TranscriptHashes` holds the pair a group keeps; its persistent form
(`TranscriptHashes.to_bytes`) is ``uint8 format = 1; opaque confirmed<V>;
opaque interim<V>``.
"""

from __future__ import annotations

from dataclasses import dataclass

from .codec import U8, Enum16, Struct, VLBytes, encode_varint, wire
from .crypto import CipherSuite
from .errors import DecodeError, UsageError, VerificationError
from .framing import AuthenticatedContent, ContentType, FramedContent, WireFormat

__all__ = [
    "ConfirmedTranscriptHashInput",
    "InterimTranscriptHashInput",
    "TranscriptHashes",
    "confirmation_tag",
    "confirmed_transcript_hash",
    "interim_transcript_hash",
    "verify_confirmation_tag",
]

_RECORD_FORMAT = 1


@wire
@dataclass(frozen=True, slots=True)
class ConfirmedTranscriptHashInput(Struct):
    """What a Commit adds to the confirmed transcript hash (§8.2)::

    struct {
        WireFormat wire_format;
        FramedContent content; /* with content_type == commit */
        opaque signature<V>;
    } ConfirmedTranscriptHashInput;
    """

    wire_format: Enum16[WireFormat]
    content: FramedContent
    signature: VLBytes

    @classmethod
    def of(cls, authenticated_content: AuthenticatedContent) -> ConfirmedTranscriptHashInput:
        """The input of a Commit's AuthenticatedContent; raises `UsageError` for anything but a commit."""
        if authenticated_content.content.content_type != ContentType.commit:
            raise UsageError("only a Commit updates the transcript hash", section="8.2")
        return cls(
            authenticated_content.wire_format, authenticated_content.content, authenticated_content.auth.signature
        )


@wire
@dataclass(frozen=True, slots=True)
class InterimTranscriptHashInput(Struct):
    """``struct { MAC confirmation_tag; } InterimTranscriptHashInput;`` (§8.2)"""

    confirmation_tag: VLBytes


def confirmed_transcript_hash(
    suite: CipherSuite, interim_transcript_hash: bytes, authenticated_content: AuthenticatedContent
) -> bytes:
    """``Hash(interim[n-1] || ConfirmedTranscriptHashInput)`` of a Commit (§8.2); `UsageError` for a non-commit."""
    return suite.hash(interim_transcript_hash + ConfirmedTranscriptHashInput.of(authenticated_content).encode())


def interim_transcript_hash(suite: CipherSuite, confirmed_transcript_hash: bytes, confirmation_tag: bytes) -> bytes:
    """``Hash(confirmed[n] || InterimTranscriptHashInput)`` (§8.2)."""
    return suite.hash(confirmed_transcript_hash + encode_varint(len(confirmation_tag)) + confirmation_tag)


def confirmation_tag(suite: CipherSuite, confirmation_key: bytes, confirmed_transcript_hash: bytes) -> bytes:
    """``MAC(confirmation_key, confirmed_transcript_hash)`` (§6.1)."""
    return suite.mac(confirmation_key, confirmed_transcript_hash)


def verify_confirmation_tag(
    suite: CipherSuite, confirmation_key: bytes, confirmed_transcript_hash: bytes, tag: bytes
) -> None:
    """Check a Commit's or GroupInfo's confirmation tag in constant time; raises `VerificationError`."""
    try:
        suite.verify_mac(confirmation_key, confirmed_transcript_hash, tag)
    except VerificationError:
        raise VerificationError("confirmation tag does not verify", section="8.2") from None


@dataclass(frozen=True, slots=True)
class TranscriptHashes:
    """The confirmed and interim transcript hashes of one epoch (§8.2)."""

    confirmed: bytes = b""
    interim: bytes = b""

    @classmethod
    def from_group_info(
        cls, suite: CipherSuite, confirmed_transcript_hash: bytes, confirmation_tag: bytes
    ) -> TranscriptHashes:
        """A joiner's hashes: the GroupInfo's confirmed hash, and the interim hash its tag gives (§12.4.3.1).

        Verify the tag first (`verify_confirmation_tag`, with the epoch's confirmation_key).
        """
        interim = interim_transcript_hash(suite, confirmed_transcript_hash, confirmation_tag)
        return cls(confirmed_transcript_hash, interim)

    def next(self, suite: CipherSuite, commit: AuthenticatedContent) -> TranscriptHashes:
        """The hashes after ``commit`` (an AuthenticatedContent carrying a Commit and its confirmation tag).

        The new confirmed hash goes into the new GroupContext; check the
        Commit's confirmation tag against it with the new epoch's
        confirmation_key. Raises `UsageError` for content that is not a Commit.
        """
        confirmed = confirmed_transcript_hash(suite, self.interim, commit)
        tag = commit.auth.confirmation_tag
        if tag is None:
            raise UsageError("a Commit needs its confirmation tag", section="6.1")
        return TranscriptHashes(confirmed, interim_transcript_hash(suite, confirmed, tag))

    def to_bytes(self) -> bytes:
        """The persistent form (see the module docstring)."""
        return _TranscriptRecord(_RECORD_FORMAT, self.confirmed, self.interim).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> TranscriptHashes:
        """Load `to_bytes` output; raises `DecodeError`."""
        record = _TranscriptRecord.decode(data)
        if record.format != _RECORD_FORMAT:
            raise DecodeError(f"TranscriptHashes: unknown record format {record.format}")
        return cls(record.confirmed, record.interim)


@wire
@dataclass(frozen=True, slots=True)
class _TranscriptRecord(Struct):
    format: U8
    confirmed: VLBytes
    interim: VLBytes
