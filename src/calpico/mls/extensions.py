"""RFC 9420 §13.4 — Extensions, and the payloads of the extensions RFC 9420 defines.

An `Extension` is a type and an opaque payload. Its type stays a plain
integer, because lists of extensions in KeyPackages, LeafNodes and GroupInfos
carry unknown and GREASE types (§13.5) that must be ignored and kept, not
rejected. `ExtensionType` names the types this RFC defines; compare against
it (``ext.extension_type == ExtensionType.external_pub``).

Payload structs carry their type as ``extension_type`` so that
`Extension.of` wraps one and `Extension.parse` unwraps it::

    ext = Extension.of(ExternalPub(public_key))
    ExternalPub.decode(ext.extension_data) == ext.parse(ExternalPub)

The ``ratchet_tree`` payload (§12.4.3.3) is `calpico.mls.tree.nodes.RatchetTree`.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import ClassVar, Protocol, TypeVar

from .codec import U16, Struct, Vec, VLBytes, wire
from .credentials import Credential
from .errors import ProtocolError, UsageError

__all__ = [
    "GREASE_VALUES",
    "ApplicationId",
    "Extension",
    "ExtensionPayload",
    "ExtensionType",
    "ExternalPub",
    "ExternalSender",
    "ExternalSenders",
    "RequiredCapabilities",
    "check_unique_extension_types",
    "find_extension",
    "is_grease",
]

# §13.5: the values reserved for GREASE in every registry of §17.
GREASE_VALUES: frozenset[int] = frozenset(0x0A0A + 0x1010 * i for i in range(15))


def is_grease(value: int) -> bool:
    """Whether ``value`` is one of the GREASE code points of §13.5."""
    return value in GREASE_VALUES


class ExtensionType(enum.IntEnum):
    """``uint16 ExtensionType;`` — the extensions RFC 9420 defines (§17.3).

    These five are the "default" extensions, which a LeafNode's capabilities
    must not list (§7.2).
    """

    application_id = 1
    ratchet_tree = 2
    required_capabilities = 3
    external_pub = 4
    external_senders = 5


class ExtensionPayload(Protocol):
    """A struct that is the ``extension_data`` of one extension type."""

    extension_type: ClassVar[int]

    def encode(self) -> bytes: ...


P = TypeVar("P", bound=Struct)


@wire
@dataclass(frozen=True, slots=True)
class Extension(Struct):
    """One extension (§7.2)::

    struct {
        ExtensionType extension_type;
        opaque extension_data<V>;
    } Extension;
    """

    extension_type: U16
    extension_data: VLBytes

    @classmethod
    def of(cls, payload: ExtensionPayload) -> Extension:
        """Wrap a payload struct (e.g. `ExternalPub`) in an extension of its type."""
        return cls(payload.extension_type, payload.encode())

    def parse(self, payload_type: type[P]) -> P:
        """Decode ``extension_data`` as ``payload_type``.

        Raises `UsageError` if this extension is of another type, and
        `DecodeError` if the data does not parse.
        """
        expected = getattr(payload_type, "extension_type", None)
        if expected != self.extension_type:
            raise UsageError(f"extension of type {self.extension_type} is not a {payload_type.__name__}")
        return payload_type.decode(self.extension_data)


def find_extension(extensions: Iterable[Extension], extension_type: int) -> Extension | None:
    """The extension of ``extension_type`` in ``extensions``, or None if there is none."""
    for ext in extensions:
        if ext.extension_type == extension_type:
            return ext
    return None


def check_unique_extension_types(extensions: Sequence[Extension], where: str = "extensions") -> None:
    """Reject a list with two extensions of the same type (§13.4).

    Unknown and GREASE types are allowed; only repetition is an error.
    Raises `ProtocolError`.
    """
    seen: set[int] = set()
    for ext in extensions:
        if ext.extension_type in seen:
            raise ProtocolError(f"{where}: more than one extension of type {ext.extension_type}", section="13.4")
        seen.add(ext.extension_type)


@wire
@dataclass(frozen=True, slots=True)
class ApplicationId(Struct):
    """The ``application_id`` LeafNode extension (§5.3.3)::

    opaque application_id<V>;
    """

    extension_type: ClassVar[int] = ExtensionType.application_id

    application_id: VLBytes


@wire
@dataclass(frozen=True, slots=True)
class RequiredCapabilities(Struct):
    """The ``required_capabilities`` GroupContext extension (§11.1)::

    struct {
        ExtensionType extension_types<V>;
        ProposalType proposal_types<V>;
        CredentialType credential_types<V>;
    } RequiredCapabilities;
    """

    extension_type: ClassVar[int] = ExtensionType.required_capabilities

    extension_types: Vec[U16] = ()
    proposal_types: Vec[U16] = ()
    credential_types: Vec[U16] = ()


@wire
@dataclass(frozen=True, slots=True)
class ExternalPub(Struct):
    """The ``external_pub`` GroupInfo extension, for external joins (§12.4.3.2)::

    struct {
        HPKEPublicKey external_pub;
    } ExternalPub;
    """

    extension_type: ClassVar[int] = ExtensionType.external_pub

    external_pub: VLBytes


@wire
@dataclass(frozen=True, slots=True)
class ExternalSender(Struct):
    """A party allowed to send external proposals (§12.1.8.1)::

    struct {
      SignaturePublicKey signature_key;
      Credential credential;
    } ExternalSender;
    """

    signature_key: VLBytes
    credential: Credential


@wire
@dataclass(frozen=True, slots=True)
class ExternalSenders(Struct):
    """The ``external_senders`` GroupContext extension (§12.1.8.1)::

    ExternalSender external_senders<V>;

    A `Sender` of type ``external`` names an entry by its ``sender_index``.
    """

    extension_type: ClassVar[int] = ExtensionType.external_senders

    external_senders: Vec[ExternalSender] = ()
