"""RFC 9420 §12.1 — Proposals, and how a Commit refers to them (§12.4).

A `Proposal` is a tagged union of the seven proposal bodies. Its type is an
`IntEnum` and an unknown type is a decode error: a proposal's body has no
length prefix, so one we do not know cannot be skipped, and GREASE values
never appear here (§13.5). Capability lists, where unknown proposal types
must be tolerated, keep them as plain integers.

`Proposal.of` picks the tag from the body, and `Proposal.body` gives the
body back::

    Proposal.of(Remove(3)).remove == Remove(3)

A Commit lists `ProposalOrRef` values: a proposal inline, or the
ProposalRef (§5.2) of one sent earlier in the epoch.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Annotated, ClassVar

from .codec import U16, U32, Enum8, Enum16, Struct, Vec, VLBytes, When, wire
from .errors import UsageError
from .extensions import Extension
from .group_context import ProtocolVersion
from .key_package import KeyPackage
from .psk import PreSharedKeyID
from .tree.nodes import LeafNode

__all__ = [
    "Add",
    "ExternalInit",
    "GroupContextExtensions",
    "PreSharedKey",
    "Proposal",
    "ProposalBody",
    "ProposalOrRef",
    "ProposalOrRefType",
    "ProposalType",
    "ReInit",
    "Remove",
    "Update",
]


class ProposalType(enum.IntEnum):
    """``uint16 ProposalType;`` — the proposal types of RFC 9420 (§17.4).

    These are also the "default" proposals a LeafNode's capabilities must not
    list (§7.2).
    """

    add = 1
    update = 2
    remove = 3
    psk = 4
    reinit = 5
    external_init = 6
    group_context_extensions = 7


@wire
@dataclass(frozen=True, slots=True)
class Add(Struct):
    """Add the client of a KeyPackage to the group (§12.1.1)::

    struct {
        KeyPackage key_package;
    } Add;
    """

    proposal_type: ClassVar[ProposalType] = ProposalType.add

    key_package: KeyPackage


@wire
@dataclass(frozen=True, slots=True)
class Update(Struct):
    """Replace the sender's own leaf (§12.1.2)::

    struct {
        LeafNode leaf_node;
    } Update;
    """

    proposal_type: ClassVar[ProposalType] = ProposalType.update

    leaf_node: LeafNode


@wire
@dataclass(frozen=True, slots=True)
class Remove(Struct):
    """Remove the member at leaf index ``removed`` (§12.1.3)::

    struct {
        uint32 removed;
    } Remove;
    """

    proposal_type: ClassVar[ProposalType] = ProposalType.remove

    removed: U32


@wire
@dataclass(frozen=True, slots=True)
class PreSharedKey(Struct):
    """Inject a PSK into the next epoch's key schedule (§12.1.4)::

    struct {
        PreSharedKeyID psk;
    } PreSharedKey;
    """

    proposal_type: ClassVar[ProposalType] = ProposalType.psk

    psk: PreSharedKeyID


@wire
@dataclass(frozen=True, slots=True)
class ReInit(Struct):
    """Restart the group with new parameters (§12.1.5)::

    struct {
        opaque group_id<V>;
        ProtocolVersion version;
        CipherSuite cipher_suite;
        Extension extensions<V>;
    } ReInit;
    """

    proposal_type: ClassVar[ProposalType] = ProposalType.reinit

    group_id: VLBytes
    version: Enum16[ProtocolVersion]
    cipher_suite: U16
    extensions: Vec[Extension] = ()


@wire
@dataclass(frozen=True, slots=True)
class ExternalInit(Struct):
    """The KEM output of an external joiner (§12.1.6)::

    struct {
      opaque kem_output<V>;
    } ExternalInit;
    """

    proposal_type: ClassVar[ProposalType] = ProposalType.external_init

    kem_output: VLBytes


@wire
@dataclass(frozen=True, slots=True)
class GroupContextExtensions(Struct):
    """Replace the GroupContext's extensions wholesale (§12.1.7)::

    struct {
      Extension extensions<V>;
    } GroupContextExtensions;
    """

    proposal_type: ClassVar[ProposalType] = ProposalType.group_context_extensions

    extensions: Vec[Extension] = ()


ProposalBody = Add | Update | Remove | PreSharedKey | ReInit | ExternalInit | GroupContextExtensions

# Proposal's field for each proposal type, named as in the RFC.
_FIELD_OF: dict[ProposalType, str] = {
    ProposalType.add: "add",
    ProposalType.update: "update",
    ProposalType.remove: "remove",
    ProposalType.psk: "psk",
    ProposalType.reinit: "reinit",
    ProposalType.external_init: "external_init",
    ProposalType.group_context_extensions: "group_context_extensions",
}


@wire
@dataclass(frozen=True, slots=True)
class Proposal(Struct):
    """A proposed change to the group (§12.1)::

    struct {
        ProposalType proposal_type;
        select (Proposal.proposal_type) {
            case add:                      Add;
            case update:                   Update;
            case remove:                   Remove;
            case psk:                      PreSharedKey;
            case reinit:                   ReInit;
            case external_init:            ExternalInit;
            case group_context_extensions: GroupContextExtensions;
        };
    } Proposal;

    Exactly the field named by ``proposal_type`` is set; build one with
    `Proposal.of`.
    """

    proposal_type: Enum16[ProposalType]
    add: Annotated[Add | None, When("proposal_type", ProposalType.add)] = None
    update: Annotated[Update | None, When("proposal_type", ProposalType.update)] = None
    remove: Annotated[Remove | None, When("proposal_type", ProposalType.remove)] = None
    psk: Annotated[PreSharedKey | None, When("proposal_type", ProposalType.psk)] = None
    reinit: Annotated[ReInit | None, When("proposal_type", ProposalType.reinit)] = None
    external_init: Annotated[ExternalInit | None, When("proposal_type", ProposalType.external_init)] = None
    group_context_extensions: Annotated[
        GroupContextExtensions | None, When("proposal_type", ProposalType.group_context_extensions)
    ] = None

    @classmethod
    def of(cls, body: ProposalBody) -> Proposal:
        """The proposal carrying ``body``, tagged with its type."""
        match body:
            case Add():
                return cls(ProposalType.add, add=body)
            case Update():
                return cls(ProposalType.update, update=body)
            case Remove():
                return cls(ProposalType.remove, remove=body)
            case PreSharedKey():
                return cls(ProposalType.psk, psk=body)
            case ReInit():
                return cls(ProposalType.reinit, reinit=body)
            case ExternalInit():
                return cls(ProposalType.external_init, external_init=body)
            case GroupContextExtensions():
                return cls(ProposalType.group_context_extensions, group_context_extensions=body)
        raise UsageError(f"not a proposal body: {type(body).__name__}")

    @property
    def body(self) -> ProposalBody:
        """The body selected by ``proposal_type``.

        Raises `UsageError` if a hand-built proposal lacks it.
        """
        body: ProposalBody | None = getattr(self, _FIELD_OF[self.proposal_type])
        if body is None:
            raise UsageError(f"Proposal of type {self.proposal_type.name} has no {_FIELD_OF[self.proposal_type]}")
        return body


class ProposalOrRefType(enum.IntEnum):
    """``enum { reserved(0), proposal(1), reference(2), (255) } ProposalOrRefType;`` (§12.4)"""

    proposal = 1
    reference = 2


@wire
@dataclass(frozen=True, slots=True)
class ProposalOrRef(Struct):
    """A proposal covered by a Commit, by value or by reference (§12.4)::

    struct {
      ProposalOrRefType type;
      select (ProposalOrRef.type) {
        case proposal:  Proposal proposal;
        case reference: ProposalRef reference;
      };
    } ProposalOrRef;

    ``reference`` is the ProposalRef (§5.2, ``opaque HashReference<V>``) of
    the AuthenticatedContent that carried the proposal.
    """

    type: Enum8[ProposalOrRefType]
    proposal: Annotated[Proposal | None, When("type", ProposalOrRefType.proposal)] = None
    reference: Annotated[VLBytes | None, When("type", ProposalOrRefType.reference)] = None

    @classmethod
    def of(cls, item: Proposal | ProposalBody | bytes) -> ProposalOrRef:
        """By value for a `Proposal` (or a bare body), by reference for a ProposalRef (bytes)."""
        if isinstance(item, bytes):
            return cls(ProposalOrRefType.reference, reference=item)
        if not isinstance(item, Proposal):
            item = Proposal.of(item)
        return cls(ProposalOrRefType.proposal, proposal=item)
