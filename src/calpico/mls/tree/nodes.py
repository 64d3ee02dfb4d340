"""RFC 9420 §7.1–§7.2 and §12.4.3.3 — the nodes of the ratchet tree, and the tree on the wire.

A leaf is a signed `LeafNode`; a parent is a `ParentNode`. `RatchetTree`
is the ``ratchet_tree`` extension's payload and the usual way to ship a
whole tree: the nodes in array order (Appendix C), ``None`` for a blank node.
Trailing blanks are not sent, so a tree of ``n`` entries usually stands for
a larger full tree; extending it is the tree logic's job, and so is the
check that the last node is not blank (§12.4.3.3).

`LeafNodeTBS` is what a leaf's signature covers (§7.2); a leaf made in a
group (``update`` or ``commit`` source) signs its group_id and leaf index as
well, so the same leaf cannot be replayed in another group or position.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Annotated, ClassVar

from ..codec import (
    U16,
    U32,
    U64,
    Enum8,
    Opt,
    Struct,
    Vec,
    VLBytes,
    When,
    encode_varint,
    memo,
    read_opaque,
    read_uint,
    read_varint,
    wire,
)
from ..credentials import Credential
from ..errors import DecodeError, EncodeError
from ..extensions import Extension, ExtensionType

__all__ = [
    "Capabilities",
    "LeafNode",
    "LeafNodeSource",
    "LeafNodeTBS",
    "Lifetime",
    "Node",
    "NodeType",
    "ParentNode",
    "RatchetTree",
]


class LeafNodeSource(enum.IntEnum):
    """How a leaf came into the tree (§7.2)::

    enum {
        reserved(0),
        key_package(1),
        update(2),
        commit(3),
        (255)
    } LeafNodeSource;
    """

    key_package = 1
    update = 2
    commit = 3


class NodeType(enum.IntEnum):
    """``enum { reserved(0), leaf(1), parent(2), (255) } NodeType;`` (§7.8)"""

    leaf = 1
    parent = 2


@wire
@dataclass(frozen=True, slots=True)
class Capabilities(Struct):
    """What a client supports (§7.2)::

    struct {
        ProtocolVersion versions<V>;
        CipherSuite cipher_suites<V>;
        ExtensionType extensions<V>;
        ProposalType proposals<V>;
        CredentialType credentials<V>;
    } Capabilities;

    Every list holds plain integers: unknown and GREASE values must be kept
    and ignored (§13.4, §13.5).
    """

    versions: Vec[U16] = ()
    cipher_suites: Vec[U16] = ()
    extensions: Vec[U16] = ()
    proposals: Vec[U16] = ()
    credentials: Vec[U16] = ()


@wire
@dataclass(frozen=True, slots=True)
class Lifetime(Struct):
    """Validity of a KeyPackage's leaf, in seconds since the Unix epoch (§7.2)::

    struct {
        uint64 not_before;
        uint64 not_after;
    } Lifetime;
    """

    not_before: U64
    not_after: U64

    def contains(self, now: int) -> bool:
        """Whether ``now`` lies in ``[not_before, not_after]``."""
        return self.not_before <= now <= self.not_after


@wire
@dataclass(frozen=True, slots=True)
class LeafNode(Struct):
    """A member's leaf (§7.2)::

    struct {
        HPKEPublicKey encryption_key;
        SignaturePublicKey signature_key;
        Credential credential;
        Capabilities capabilities;

        LeafNodeSource leaf_node_source;
        select (LeafNode.leaf_node_source) {
            case key_package:
                Lifetime lifetime;

            case update:
                struct{};

            case commit:
                opaque parent_hash<V>;
        };

        Extension extensions<V>;
        /* SignWithLabel(., "LeafNodeTBS", LeafNodeTBS) */
        opaque signature<V>;
    } LeafNode;

    ``lifetime`` is set exactly for the ``key_package`` source and
    ``parent_hash`` exactly for ``commit``. A new leaf is usually built as a
    `LeafNodeTBS`, signed, and finished with `LeafNodeTBS.with_signature`.
    """

    encryption_key: VLBytes
    signature_key: VLBytes
    credential: Credential
    capabilities: Capabilities
    leaf_node_source: Enum8[LeafNodeSource]
    lifetime: Annotated[Lifetime | None, When("leaf_node_source", LeafNodeSource.key_package)]
    parent_hash: Annotated[VLBytes | None, When("leaf_node_source", LeafNodeSource.commit)]
    extensions: Vec[Extension]
    signature: VLBytes
    _wire_bytes: bytes | None = memo()

    def tbs(self, group_id: bytes | None = None, leaf_index: int | None = None) -> LeafNodeTBS:
        """The signed part of this leaf; ``group_id`` and ``leaf_index`` are
        required for the ``update`` and ``commit`` sources and must be None
        for ``key_package`` (checked when it is encoded)."""
        return LeafNodeTBS(
            self.encryption_key,
            self.signature_key,
            self.credential,
            self.capabilities,
            self.leaf_node_source,
            self.lifetime,
            self.parent_hash,
            self.extensions,
            group_id,
            leaf_index,
        )


@dataclass(frozen=True, slots=True)
class LeafNodeTBS(Struct):
    """What a leaf's signature covers (§7.2)::

    struct {
        HPKEPublicKey encryption_key;
        SignaturePublicKey signature_key;
        Credential credential;
        Capabilities capabilities;

        LeafNodeSource leaf_node_source;
        select (LeafNodeTBS.leaf_node_source) {
            case key_package:
                Lifetime lifetime;

            case update:
                struct{};

            case commit:
                opaque parent_hash<V>;
        };

        Extension extensions<V>;

        select (LeafNodeTBS.leaf_node_source) {
            case key_package:
                struct{};

            case update:
                opaque group_id<V>;
                uint32 leaf_index;

            case commit:
                opaque group_id<V>;
                uint32 leaf_index;
        };
    } LeafNodeTBS;

    The codec is hand-written because the second ``select`` has two arms
    with the same body. Its encoding is exactly the LeafNode's fields up to
    the signature, then the group context for ``update`` and ``commit``.
    """

    encryption_key: bytes
    signature_key: bytes
    credential: Credential
    capabilities: Capabilities
    leaf_node_source: LeafNodeSource
    lifetime: Lifetime | None
    parent_hash: bytes | None
    extensions: tuple[Extension, ...]
    group_id: bytes | None = None
    leaf_index: int | None = None

    _IN_GROUP: ClassVar[frozenset[int]] = frozenset((LeafNodeSource.update, LeafNodeSource.commit))

    def with_signature(self, signature: bytes) -> LeafNode:
        """The `LeafNode` carrying these fields and ``signature``."""
        return LeafNode(
            self.encryption_key,
            self.signature_key,
            self.credential,
            self.capabilities,
            self.leaf_node_source,
            self.lifetime,
            self.parent_hash,
            self.extensions,
            signature,
        )

    def _wire_encode(self, out: bytearray) -> None:
        # The LeafNode prefix: encode it as a leaf with an empty signature and
        # drop that signature's one-byte length.
        self.with_signature(b"")._wire_encode(out)
        del out[-1]
        in_group = self.leaf_node_source in self._IN_GROUP
        if in_group:
            if self.group_id is None or self.leaf_index is None:
                raise EncodeError(f"LeafNodeTBS: a {self.leaf_node_source.name} leaf signs its group_id and leaf_index")
            out += encode_varint(len(self.group_id))
            out += self.group_id
            out += self.leaf_index.to_bytes(4, "big")
        elif self.group_id is not None or self.leaf_index is not None:
            raise EncodeError("LeafNodeTBS: a key_package leaf has no group_id or leaf_index")

    @classmethod
    def _wire_decode(cls, data: bytes, pos: int, end: int) -> tuple[LeafNodeTBS, int]:
        encryption_key, pos = read_opaque(data, pos, end, "LeafNodeTBS.encryption_key")
        signature_key, pos = read_opaque(data, pos, end, "LeafNodeTBS.signature_key")
        credential, pos = Credential._wire_decode(data, pos, end)
        capabilities, pos = Capabilities._wire_decode(data, pos, end)
        raw, pos = read_uint(data, pos, end, 1, "LeafNodeTBS.leaf_node_source")
        try:
            source = LeafNodeSource(raw)
        except ValueError:
            raise DecodeError(f"LeafNodeTBS.leaf_node_source: unknown value {raw}", section="7.2") from None
        lifetime: Lifetime | None = None
        parent_hash: bytes | None = None
        if source == LeafNodeSource.key_package:
            lifetime, pos = Lifetime._wire_decode(data, pos, end)
        elif source == LeafNodeSource.commit:
            parent_hash, pos = read_opaque(data, pos, end, "LeafNodeTBS.parent_hash")
        n, pos = read_varint(data, pos, end, "LeafNodeTBS.extensions")
        stop = pos + n
        if stop > end:
            raise DecodeError("LeafNodeTBS.extensions: vector runs past the end of the data", section="2.1.2")
        extensions = []
        while pos < stop:
            ext, pos = Extension._wire_decode(data, pos, stop)
            extensions.append(ext)
        group_id: bytes | None = None
        leaf_index: int | None = None
        if source in cls._IN_GROUP:
            group_id, pos = read_opaque(data, pos, end, "LeafNodeTBS.group_id")
            leaf_index, pos = read_uint(data, pos, end, 4, "LeafNodeTBS.leaf_index")
        tbs = cls(
            encryption_key,
            signature_key,
            credential,
            capabilities,
            source,
            lifetime,
            parent_hash,
            tuple(extensions),
            group_id,
            leaf_index,
        )
        return tbs, pos


@wire
@dataclass(frozen=True, slots=True)
class ParentNode(Struct):
    """An interior node of the tree (§7.1)::

    struct {
        HPKEPublicKey encryption_key;
        opaque parent_hash<V>;
        uint32 unmerged_leaves<V>;
    } ParentNode;

    ``unmerged_leaves`` are leaf indices in increasing order.
    """

    encryption_key: VLBytes
    parent_hash: VLBytes
    unmerged_leaves: Vec[U32] = ()


@wire
@dataclass(frozen=True, slots=True)
class Node(Struct):
    """A non-blank node of the tree (§12.4.3.3)::

    struct {
        NodeType node_type;
        select (Node.node_type) {
            case leaf:   LeafNode leaf_node;
            case parent: ParentNode parent_node;
        };
    } Node;
    """

    node_type: Enum8[NodeType]
    leaf_node: Annotated[LeafNode | None, When("node_type", NodeType.leaf)] = None
    parent_node: Annotated[ParentNode | None, When("node_type", NodeType.parent)] = None

    @classmethod
    def of(cls, node: LeafNode | ParentNode) -> Node:
        """Wrap a leaf or parent node."""
        if isinstance(node, LeafNode):
            return cls(NodeType.leaf, leaf_node=node)
        return cls(NodeType.parent, parent_node=node)


@wire
@dataclass(frozen=True, slots=True)
class RatchetTree(Struct):
    """The public tree in array order; ``None`` is a blank node (§12.4.3.3)::

    optional<Node> ratchet_tree<V>;

    Also the payload of the ``ratchet_tree`` GroupInfo extension.
    """

    extension_type: ClassVar[int] = ExtensionType.ratchet_tree

    nodes: Vec[Opt[Node]]
