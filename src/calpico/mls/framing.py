"""RFC 9420 §6–§6.2 — message framing, content authentication, and PublicMessage.

Theory of operation
-------------------
Every handshake or application message is a `FramedContent` (group, epoch,
sender, and a proposal, commit or application data) plus its
`FramedContentAuthData` (a signature over `FramedContentTBS`, and for commits a
confirmation tag). Together with the wire format they form the
`AuthenticatedContent`, which is what is hashed and referenced. On the wire it
travels as a `PublicMessage` (signed, plus a membership tag for members) or a
`PrivateMessage` (encrypted; see `calpico.mls.private_message`), wrapped in an
`MLSMessage` (see `calpico.mls.messages`).

Some of these grammars look into another struct: ``confirmation_tag`` exists
only when the *content* is a commit, ``membership_tag`` only when the
*content's sender* is a member, and the TBS's ``context`` likewise. Those
structs hand-write their codecs; FramedContentAuthData cannot be decoded on
its own, only with its content type (`FramedContentAuthData.decode_for`).

Module layout: this module is §6–§6.2; §6.3 (PrivateMessage, its content,
sender data and AADs) is `calpico.mls.private_message`; `MLSMessage`, which
also wraps Welcome, GroupInfo and KeyPackage, is `calpico.mls.messages`.
`ProtocolVersion` is defined in `calpico.mls.group_context` and re-exported here.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Annotated, ClassVar

from .codec import (
    U32,
    U64,
    Enum8,
    Struct,
    VLBytes,
    When,
    encode_varint,
    memo,
    read_opaque,
    wire,
)
from .commit import Commit
from .errors import DecodeError, EncodeError, UsageError
from .group_context import GroupContext, ProtocolVersion
from .proposals import Proposal

__all__ = [
    "AuthenticatedContent",
    "AuthenticatedContentTBM",
    "ContentType",
    "FramedContent",
    "FramedContentAuthData",
    "FramedContentTBS",
    "ProtocolVersion",
    "PublicMessage",
    "Sender",
    "SenderType",
    "WireFormat",
]


class ContentType(enum.IntEnum):
    """``enum { reserved(0), application(1), proposal(2), commit(3), (255) } ContentType;`` (§6)"""

    application = 1
    proposal = 2
    commit = 3


class SenderType(enum.IntEnum):
    """Who sent a message (§6)::

    enum {
        reserved(0),
        member(1),
        external(2),
        new_member_proposal(3),
        new_member_commit(4),
        (255)
    } SenderType;
    """

    member = 1
    external = 2
    new_member_proposal = 3
    new_member_commit = 4


class WireFormat(enum.IntEnum):
    """``uint16 WireFormat;`` — the "MLS Wire Formats" registry (§17.2).

    A message of a format we do not know cannot be parsed, so it is a decode error.
    """

    mls_public_message = 1
    mls_private_message = 2
    mls_welcome = 3
    mls_group_info = 4
    mls_key_package = 5


@wire
@dataclass(frozen=True, slots=True)
class Sender(Struct):
    """The sender of a message (§6)::

    struct {
        SenderType sender_type;
        select (Sender.sender_type) {
            case member:
                uint32 leaf_index;
            case external:
                uint32 sender_index;
            case new_member_commit:
            case new_member_proposal:
                struct{};
        };
    } Sender;
    """

    sender_type: Enum8[SenderType]
    leaf_index: Annotated[U32 | None, When("sender_type", SenderType.member)] = None
    sender_index: Annotated[U32 | None, When("sender_type", SenderType.external)] = None

    @classmethod
    def member(cls, leaf_index: int) -> Sender:
        """The member at ``leaf_index``."""
        return cls(SenderType.member, leaf_index=leaf_index)

    @classmethod
    def external(cls, sender_index: int) -> Sender:
        """Entry ``sender_index`` of the group's ``external_senders`` extension."""
        return cls(SenderType.external, sender_index=sender_index)

    @classmethod
    def new_member_proposal(cls) -> Sender:
        """A would-be member proposing its own Add."""
        return cls(SenderType.new_member_proposal)

    @classmethod
    def new_member_commit(cls) -> Sender:
        """A joiner sending an external commit."""
        return cls(SenderType.new_member_commit)


@wire
@dataclass(frozen=True, slots=True)
class FramedContent(Struct):
    """The content of a message, before authentication (§6)::

    struct {
        opaque group_id<V>;
        uint64 epoch;
        Sender sender;
        opaque authenticated_data<V>;

        ContentType content_type;
        select (FramedContent.content_type) {
            case application:
              opaque application_data<V>;
            case proposal:
              Proposal proposal;
            case commit:
              Commit commit;
        };
    } FramedContent;

    Build one with `FramedContent.of`; `body` gives the selected field back.
    """

    group_id: VLBytes
    epoch: U64
    sender: Sender
    authenticated_data: VLBytes
    content_type: Enum8[ContentType]
    application_data: Annotated[VLBytes | None, When("content_type", ContentType.application)] = None
    proposal: Annotated[Proposal | None, When("content_type", ContentType.proposal)] = None
    commit: Annotated[Commit | None, When("content_type", ContentType.commit)] = None
    _wire_bytes: bytes | None = memo()

    @classmethod
    def of(
        cls,
        group_id: bytes,
        epoch: int,
        sender: Sender,
        body: bytes | Proposal | Commit,
        authenticated_data: bytes = b"",
    ) -> FramedContent:
        """Frame ``body``: bytes are application data, else a Proposal or a Commit."""
        if isinstance(body, bytes):
            return cls(group_id, epoch, sender, authenticated_data, ContentType.application, application_data=body)
        if isinstance(body, Proposal):
            return cls(group_id, epoch, sender, authenticated_data, ContentType.proposal, proposal=body)
        return cls(group_id, epoch, sender, authenticated_data, ContentType.commit, commit=body)

    @property
    def body(self) -> bytes | Proposal | Commit:
        """The application data, proposal or commit selected by ``content_type``."""
        body: bytes | Proposal | Commit | None
        if self.content_type == ContentType.application:
            body = self.application_data
        elif self.content_type == ContentType.proposal:
            body = self.proposal
        else:
            body = self.commit
        if body is None:
            raise UsageError(f"FramedContent of type {self.content_type.name} has no {self.content_type.name} field")
        return body


@dataclass(frozen=True, slots=True)
class FramedContentAuthData(Struct):
    """The authentication of a FramedContent (§6.1)::

    opaque MAC<V>;

    struct {
        /* SignWithLabel(., "FramedContentTBS", FramedContentTBS) */
        opaque signature<V>;
        select (FramedContent.content_type) {
            case commit:
                /*
                  MAC(confirmation_key,
                      GroupContext.confirmed_transcript_hash)
                */
                MAC confirmation_tag;
            case application:
            case proposal:
                struct{};
        };
    } FramedContentAuthData;

    ``confirmation_tag`` is set exactly for commits. Whether it is on the wire
    depends on the enclosing content, so decode with `decode_for`; the
    enclosing structs check on encode that it matches their content type.
    """

    signature: bytes
    confirmation_tag: bytes | None = None

    def _wire_encode(self, out: bytearray) -> None:
        signature = self.signature
        out += encode_varint(len(signature))
        out += signature
        tag = self.confirmation_tag
        if tag is not None:
            out += encode_varint(len(tag))
            out += tag

    def check_content_type(self, content_type: ContentType, where: str = "FramedContentAuthData") -> None:
        """Raise `EncodeError` unless ``confirmation_tag`` is set exactly for a commit."""
        if (self.confirmation_tag is None) == (content_type == ContentType.commit):
            need = "needs" if content_type == ContentType.commit else "must not have"
            raise EncodeError(f"{where}: a {content_type.name} {need} a confirmation_tag")

    @classmethod
    def _wire_decode(cls, data: bytes, pos: int, end: int) -> tuple[FramedContentAuthData, int]:
        raise UsageError("FramedContentAuthData depends on the content type: use FramedContentAuthData.decode_for")

    @classmethod
    def read(cls, data: bytes, pos: int, end: int, content_type: ContentType) -> tuple[FramedContentAuthData, int]:
        """Decode one at ``pos`` for content of ``content_type``; return it and the next position."""
        signature, pos = read_opaque(data, pos, end, "FramedContentAuthData.signature")
        if content_type == ContentType.commit:
            tag, pos = read_opaque(data, pos, end, "FramedContentAuthData.confirmation_tag")
            return cls(signature, tag), pos
        return cls(signature), pos

    @classmethod
    def decode_for(cls, content_type: ContentType, data: bytes) -> FramedContentAuthData:
        """Decode exactly ``data`` as the auth data of content of ``content_type``."""
        data = bytes(data)
        auth, pos = cls.read(data, 0, len(data), content_type)
        if pos != len(data):
            raise DecodeError(f"FramedContentAuthData: {len(data) - pos} trailing bytes", section="2.1")
        return auth


@dataclass(frozen=True, slots=True)
class AuthenticatedContent(Struct):
    """A framed and authenticated message, as hashed and referenced (§6)::

    struct {
        WireFormat wire_format;
        FramedContent content;
        FramedContentAuthData auth;
    } AuthenticatedContent;

    A ProposalRef (§5.2) hashes this encoding; the confirmed transcript hash
    (§8.2) covers all of it but the confirmation tag.
    """

    wire_format: WireFormat
    content: FramedContent
    auth: FramedContentAuthData

    def _wire_encode(self, out: bytearray) -> None:
        self.auth.check_content_type(self.content.content_type, "AuthenticatedContent")
        out += self.wire_format.to_bytes(2, "big")
        self.content._wire_encode(out)
        self.auth._wire_encode(out)

    @classmethod
    def _wire_decode(cls, data: bytes, pos: int, end: int) -> tuple[AuthenticatedContent, int]:
        wire_format, pos = _read_wire_format(data, pos, end, "AuthenticatedContent.wire_format")
        content, pos = FramedContent._wire_decode(data, pos, end)
        auth, pos = FramedContentAuthData.read(data, pos, end, content.content_type)
        return cls(wire_format, content, auth), pos


_WIRE_FORMATS = {int(w): w for w in WireFormat}


def _read_wire_format(data: bytes, pos: int, end: int, where: str) -> tuple[WireFormat, int]:
    if pos + 2 > end:
        raise DecodeError(f"{where}: data ends inside an integer", section="2.1")
    raw = int.from_bytes(data[pos : pos + 2], "big")
    value = _WIRE_FORMATS.get(raw)
    if value is None:
        raise DecodeError(f"{where}: unknown value {raw}", section="6")
    return value, pos + 2


@dataclass(frozen=True, slots=True)
class FramedContentTBS(Struct):
    """What a message's signature covers (§6.1)::

    struct {
        ProtocolVersion version = mls10;
        WireFormat wire_format;
        FramedContent content;
        select (FramedContentTBS.content.sender.sender_type) {
            case member:
            case new_member_commit:
                GroupContext context;
            case external:
            case new_member_proposal:
                struct{};
        };
    } FramedContentTBS;

    ``context`` is the GroupContext of the epoch the message was sent in, set
    exactly for ``member`` and ``new_member_commit`` senders.
    """

    version: ProtocolVersion
    wire_format: WireFormat
    content: FramedContent
    context: GroupContext | None = None

    _WITH_CONTEXT: ClassVar[frozenset[int]] = frozenset((SenderType.member, SenderType.new_member_commit))

    @classmethod
    def of(cls, wire_format: WireFormat, content: FramedContent, context: GroupContext | None) -> FramedContentTBS:
        """The TBS of an mls10 message; ``context`` is dropped for senders that do not sign it."""
        if content.sender.sender_type not in cls._WITH_CONTEXT:
            context = None
        return cls(ProtocolVersion.mls10, wire_format, content, context)

    def _wire_encode(self, out: bytearray) -> None:
        out += self.version.to_bytes(2, "big")
        out += self.wire_format.to_bytes(2, "big")
        self.content._wire_encode(out)
        if self.content.sender.sender_type in self._WITH_CONTEXT:
            if self.context is None:
                raise EncodeError("FramedContentTBS: a member or new_member_commit sender signs the GroupContext")
            self.context._wire_encode(out)
        elif self.context is not None:
            raise EncodeError("FramedContentTBS: external and new_member_proposal senders sign no GroupContext")

    @classmethod
    def _wire_decode(cls, data: bytes, pos: int, end: int) -> tuple[FramedContentTBS, int]:
        if pos + 2 > end:
            raise DecodeError("FramedContentTBS.version: data ends inside an integer", section="2.1")
        raw = int.from_bytes(data[pos : pos + 2], "big")
        if raw != ProtocolVersion.mls10:
            raise DecodeError(f"FramedContentTBS.version: unknown value {raw}", section="6.1")
        wire_format, pos = _read_wire_format(data, pos + 2, end, "FramedContentTBS.wire_format")
        content, pos = FramedContent._wire_decode(data, pos, end)
        context = None
        if content.sender.sender_type in cls._WITH_CONTEXT:
            context, pos = GroupContext._wire_decode(data, pos, end)
        return cls(ProtocolVersion.mls10, wire_format, content, context), pos


@dataclass(frozen=True, slots=True)
class AuthenticatedContentTBM(Struct):
    """What a PublicMessage's membership tag covers (§6.2)::

    struct {
      FramedContentTBS content_tbs;
      FramedContentAuthData auth;
    } AuthenticatedContentTBM;
    """

    content_tbs: FramedContentTBS
    auth: FramedContentAuthData

    def _wire_encode(self, out: bytearray) -> None:
        self.auth.check_content_type(self.content_tbs.content.content_type, "AuthenticatedContentTBM")
        self.content_tbs._wire_encode(out)
        self.auth._wire_encode(out)

    @classmethod
    def _wire_decode(cls, data: bytes, pos: int, end: int) -> tuple[AuthenticatedContentTBM, int]:
        tbs, pos = FramedContentTBS._wire_decode(data, pos, end)
        auth, pos = FramedContentAuthData.read(data, pos, end, tbs.content.content_type)
        return cls(tbs, auth), pos


@dataclass(frozen=True, slots=True)
class PublicMessage(Struct):
    """A signed, unencrypted message (§6.2)::

    struct {
        FramedContent content;
        FramedContentAuthData auth;
        select (PublicMessage.content.sender.sender_type) {
            case member:
                MAC membership_tag;
            case external:
            case new_member_commit:
            case new_member_proposal:
                struct{};
        };
    } PublicMessage;

    ``membership_tag`` is set exactly when the sender is a member. Decoding
    checks only the grammar; the tag and signature are checked by message
    protection.
    """

    content: FramedContent
    auth: FramedContentAuthData
    membership_tag: bytes | None = None

    def _wire_encode(self, out: bytearray) -> None:
        content = self.content
        self.auth.check_content_type(content.content_type, "PublicMessage")
        content._wire_encode(out)
        self.auth._wire_encode(out)
        tag = self.membership_tag
        if content.sender.sender_type == SenderType.member:
            if tag is None:
                raise EncodeError("PublicMessage: a member's message needs a membership_tag")
            out += encode_varint(len(tag))
            out += tag
        elif tag is not None:
            raise EncodeError("PublicMessage: only a member's message has a membership_tag")

    @classmethod
    def _wire_decode(cls, data: bytes, pos: int, end: int) -> tuple[PublicMessage, int]:
        content, pos = FramedContent._wire_decode(data, pos, end)
        auth, pos = FramedContentAuthData.read(data, pos, end, content.content_type)
        if content.sender.sender_type == SenderType.member:
            tag, pos = read_opaque(data, pos, end, "PublicMessage.membership_tag")
            return cls(content, auth, tag), pos
        return cls(content, auth), pos

    def authenticated_content(self) -> AuthenticatedContent:
        """The AuthenticatedContent this message carries."""
        return AuthenticatedContent(WireFormat.mls_public_message, self.content, self.auth)
