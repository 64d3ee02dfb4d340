"""RFC 9420 §5.3 — Credentials.

A credential binds a member's identity to its signature key. This module
holds only the wire form; whether a credential is acceptable is the
application's Authentication Service's decision (§5.3.1).

A credential's type selects its body and there is no length in front of the
body, so a credential of a type we do not know cannot be parsed: decoding
rejects it. (GREASE values never appear here, §13.5; the ``credentials`` list
of `Capabilities` is where unknown types must be tolerated, and it holds plain
integers.)
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated

from .codec import Enum16, Struct, Vec, VLBytes, When, wire

__all__ = ["Certificate", "Credential", "CredentialType"]


class CredentialType(enum.IntEnum):
    """``uint16 CredentialType;`` — the "MLS Credential Types" registry (§17.5).

    ``reserved(0)`` is deliberately not a member, so decoding rejects it.
    """

    basic = 1
    x509 = 2


@wire
@dataclass(frozen=True, slots=True)
class Certificate(Struct):
    """One DER-encoded X.509 certificate (§5.3)::

    struct {
        opaque cert_data<V>;
    } Certificate;
    """

    cert_data: VLBytes


@wire
@dataclass(frozen=True, slots=True)
class Credential(Struct):
    """A member's credential (§5.3)::

    struct {
        CredentialType credential_type;
        select (Credential.credential_type) {
            case basic:
                opaque identity<V>;

            case x509:
                Certificate certificates<V>;
        };
    } Credential;

    Build one with `Credential.basic` or `Credential.x509`; ``certificates[0]``
    is the end-entity certificate.
    """

    credential_type: Enum16[CredentialType]
    identity: Annotated[VLBytes | None, When("credential_type", CredentialType.basic)] = None
    certificates: Annotated[Vec[Certificate] | None, When("credential_type", CredentialType.x509)] = None

    @classmethod
    def basic(cls, identity: bytes) -> Credential:
        """A basic credential: a bare, application-defined identity."""
        return cls(CredentialType.basic, identity=identity)

    @classmethod
    def x509(cls, chain: Iterable[bytes | Certificate]) -> Credential:
        """An X.509 credential from DER certificates, end-entity first."""
        certificates = tuple(c if isinstance(c, Certificate) else Certificate(c) for c in chain)
        return cls(CredentialType.x509, certificates=certificates)
