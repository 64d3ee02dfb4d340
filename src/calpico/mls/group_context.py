"""RFC 9420 §8.1 — the group context, and the protocol version it starts with.

`GroupContext` summarises a group's state in one epoch. Its encoding goes
into the key schedule, the FramedContentTBS of members' messages, the
provisional context that UpdatePath secrets are encrypted under, and the
GroupInfo a joiner receives.

`ProtocolVersion` (§6) lives here rather than in `framing` because the
GroupContext, KeyPackage and ReInit structs below the framing layer carry it;
`calpico.mls.framing` re-exports it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from .codec import U16, U64, Enum16, Struct, Vec, VLBytes, wire
from .extensions import Extension

__all__ = ["GroupContext", "ProtocolVersion"]


class ProtocolVersion(enum.IntEnum):
    """``enum { reserved(0), mls10(1), (65535) } ProtocolVersion;`` (§6)

    Only ``mls10`` exists; any other version in a message is a decode error,
    since a future version may change every struct behind it. Capability
    lists keep versions as plain integers.
    """

    mls10 = 1


@wire
@dataclass(frozen=True, slots=True)
class GroupContext(Struct):
    """The state of a group in one epoch (§8.1)::

    struct {
        ProtocolVersion version = mls10;
        CipherSuite cipher_suite;
        opaque group_id<V>;
        uint64 epoch;
        opaque tree_hash<V>;
        opaque confirmed_transcript_hash<V>;
        Extension extensions<V>;
    } GroupContext;

    GroupContext extensions are never GREASE (§13.5), and every member must
    support each of them (§13.4).
    """

    version: Enum16[ProtocolVersion]
    cipher_suite: U16
    group_id: VLBytes
    epoch: U64
    tree_hash: VLBytes
    confirmed_transcript_hash: VLBytes
    extensions: Vec[Extension] = ()
