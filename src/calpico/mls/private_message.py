"""RFC 9420 §6.3 — PrivateMessage: the encrypted framing.

A `PrivateMessage` carries two ciphertexts: ``ciphertext``, the AEAD
encryption of a `PrivateMessageContent` (content, auth data, zero padding)
under the sender's secret-tree key with `PrivateContentAAD`, and
``encrypted_sender_data``, the encryption of `SenderData` (which leaf, which
generation, the reuse guard) with `SenderDataAAD`. This module holds the
structs only; encryption belongs to message protection.

`PrivateMessageContent` has no content type of its own (it comes from the
enclosing PrivateMessage), so decode it with `PrivateMessageContent.decode_for`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from .codec import U32, U64, Enum8, Fixed, Struct, VLBytes, encode_varint, read_opaque, wire
from .commit import Commit
from .errors import DecodeError, EncodeError, UsageError
from .framing import ContentType, FramedContentAuthData
from .proposals import Proposal

__all__ = [
    "PrivateContentAAD",
    "PrivateMessage",
    "PrivateMessageContent",
    "SenderData",
    "SenderDataAAD",
]


@wire
@dataclass(frozen=True, slots=True)
class PrivateMessage(Struct):
    """A signed and encrypted message (§6.3)::

    struct {
        opaque group_id<V>;
        uint64 epoch;
        ContentType content_type;
        opaque authenticated_data<V>;
        opaque encrypted_sender_data<V>;
        opaque ciphertext<V>;
    } PrivateMessage;
    """

    group_id: VLBytes
    epoch: U64
    content_type: Enum8[ContentType]
    authenticated_data: VLBytes
    encrypted_sender_data: VLBytes
    ciphertext: VLBytes


@dataclass(frozen=True, slots=True)
class PrivateMessageContent(Struct):
    """The plaintext inside ``PrivateMessage.ciphertext`` (§6.3.1)::

    struct {
        select (PrivateMessage.content_type) {
            case application:
              opaque application_data<V>;

            case proposal:
              Proposal proposal;

            case commit:
              Commit commit;
        };

        FramedContentAuthData auth;
        opaque padding[length_of_padding];
    } PrivateMessageContent;

    Exactly one of ``application_data``, ``proposal`` and ``commit`` is set.
    ``padding`` is the *number* of zero bytes after ``auth``: decoding accepts
    any amount of zero padding and rejects a non-zero byte in it, as §6.3.1
    requires, so the padding can never carry data.
    """

    application_data: bytes | None
    proposal: Proposal | None
    commit: Commit | None
    auth: FramedContentAuthData
    padding: int = 0

    @classmethod
    def of(
        cls, body: bytes | Proposal | Commit, auth: FramedContentAuthData, padding: int = 0
    ) -> PrivateMessageContent:
        """Content for ``body`` (application data bytes, a Proposal or a Commit) with ``padding`` zero bytes."""
        if isinstance(body, bytes):
            return cls(body, None, None, auth, padding)
        if isinstance(body, Proposal):
            return cls(None, body, None, auth, padding)
        return cls(None, None, body, auth, padding)

    @property
    def content_type(self) -> ContentType:
        """The content type this content is encrypted as, from which field is set."""
        if self.application_data is not None:
            return ContentType.application
        if self.proposal is not None:
            return ContentType.proposal
        return ContentType.commit

    @property
    def body(self) -> bytes | Proposal | Commit:
        """The application data, proposal or commit."""
        if self.application_data is not None:
            return self.application_data
        if self.proposal is not None:
            return self.proposal
        if self.commit is not None:
            return self.commit
        raise UsageError("PrivateMessageContent has no content")

    def _wire_encode(self, out: bytearray) -> None:
        set_fields = (self.application_data is not None) + (self.proposal is not None) + (self.commit is not None)
        if set_fields != 1:
            raise EncodeError("PrivateMessageContent: exactly one of application_data, proposal, commit must be set")
        content_type = self.content_type
        self.auth.check_content_type(content_type, "PrivateMessageContent")
        if self.padding < 0:
            raise EncodeError("PrivateMessageContent: negative padding")
        if self.application_data is not None:
            out += encode_varint(len(self.application_data))
            out += self.application_data
        elif self.proposal is not None:
            self.proposal._wire_encode(out)
        elif self.commit is not None:
            self.commit._wire_encode(out)
        self.auth._wire_encode(out)
        out += bytes(self.padding)

    @classmethod
    def _wire_decode(cls, data: bytes, pos: int, end: int) -> tuple[PrivateMessageContent, int]:
        raise UsageError("PrivateMessageContent depends on the content type: use PrivateMessageContent.decode_for")

    @classmethod
    def decode_for(cls, content_type: ContentType, plaintext: bytes) -> PrivateMessageContent:
        """Decode a decrypted plaintext of a PrivateMessage of ``content_type``.

        Everything after ``auth`` is padding. Raises `DecodeError` if the
        plaintext does not parse or the padding has a non-zero byte (§6.3.1).
        """
        data = bytes(plaintext)
        end = len(data)
        application_data: bytes | None = None
        proposal: Proposal | None = None
        commit: Commit | None = None
        if content_type == ContentType.application:
            application_data, pos = read_opaque(data, 0, end, "PrivateMessageContent.application_data")
        elif content_type == ContentType.proposal:
            proposal, pos = Proposal._wire_decode(data, 0, end)
        elif content_type == ContentType.commit:
            commit, pos = Commit._wire_decode(data, 0, end)
        else:
            raise DecodeError(f"PrivateMessageContent: unknown content type {content_type}", section="6.3.1")
        auth, pos = FramedContentAuthData.read(data, pos, end, content_type)
        padding = end - pos
        # bytes.count with an int needs no copy of the padding.
        if padding and data.count(0, pos, end) != padding:
            raise DecodeError("PrivateMessageContent: padding must be all zero bytes", section="6.3.1")
        return cls(application_data, proposal, commit, auth, padding)


@wire
@dataclass(frozen=True, slots=True)
class SenderData(Struct):
    """Who sent a PrivateMessage, encrypted separately (§6.3.2)::

    struct {
        uint32 leaf_index;
        uint32 generation;
        opaque reuse_guard[4];
    } SenderData;
    """

    leaf_index: U32
    generation: U32
    reuse_guard: Annotated[bytes, Fixed(4)]


@wire
@dataclass(frozen=True, slots=True)
class SenderDataAAD(Struct):
    """The AAD of ``encrypted_sender_data`` (§6.3.2)::

    struct {
        opaque group_id<V>;
        uint64 epoch;
        ContentType content_type;
    } SenderDataAAD;
    """

    group_id: VLBytes
    epoch: U64
    content_type: Enum8[ContentType]


@wire
@dataclass(frozen=True, slots=True)
class PrivateContentAAD(Struct):
    """The AAD of a PrivateMessage's ``ciphertext`` (§6.3.1)::

    struct {
        opaque group_id<V>;
        uint64 epoch;
        ContentType content_type;
        opaque authenticated_data<V>;
    } PrivateContentAAD;
    """

    group_id: VLBytes
    epoch: U64
    content_type: Enum8[ContentType]
    authenticated_data: VLBytes
