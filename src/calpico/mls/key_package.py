"""RFC 9420 §10 — Key packages.

A KeyPackage is what a client pre-publishes so that others can add it to a
group asynchronously: a version and cipher suite, an HPKE ``init_key`` for the
Welcome, and the `LeafNode` it will occupy. The whole package is signed
with the leaf's signature key over `KeyPackageTBS`.

Its reference (KeyPackageRef, §5.2) hashes the encoding of the KeyPackage
itself, never the MLSMessage that may carry it.
"""

from __future__ import annotations

from dataclasses import dataclass

from .codec import U16, Enum16, Struct, Vec, VLBytes, wire
from .extensions import Extension
from .group_context import ProtocolVersion
from .tree.nodes import LeafNode

__all__ = ["KeyPackage", "KeyPackageTBS"]


@wire
@dataclass(frozen=True, slots=True)
class KeyPackageTBS(Struct):
    """The signed part of a KeyPackage (§10)::

    struct {
        ProtocolVersion version;
        CipherSuite cipher_suite;
        HPKEPublicKey init_key;
        LeafNode leaf_node;
        Extension extensions<V>;
    } KeyPackageTBS;
    """

    version: Enum16[ProtocolVersion]
    cipher_suite: U16
    init_key: VLBytes
    leaf_node: LeafNode
    extensions: Vec[Extension] = ()

    def with_signature(self, signature: bytes) -> KeyPackage:
        """The `KeyPackage` carrying these fields and ``signature``."""
        return KeyPackage(self.version, self.cipher_suite, self.init_key, self.leaf_node, self.extensions, signature)


@wire
@dataclass(frozen=True, slots=True)
class KeyPackage(Struct):
    """A client's published key package (§10)::

    struct {
        ProtocolVersion version;
        CipherSuite cipher_suite;
        HPKEPublicKey init_key;
        LeafNode leaf_node;
        Extension extensions<V>;
        /* SignWithLabel(., "KeyPackageTBS", KeyPackageTBS) */
        opaque signature<V>;
    } KeyPackage;

    ``cipher_suite`` is a plain integer: a package for a suite we do not
    implement still parses, and is refused by whoever needs the suite.
    """

    version: Enum16[ProtocolVersion]
    cipher_suite: U16
    init_key: VLBytes
    leaf_node: LeafNode
    extensions: Vec[Extension]
    signature: VLBytes

    def tbs(self) -> KeyPackageTBS:
        """The signed part of this package."""
        return KeyPackageTBS(self.version, self.cipher_suite, self.init_key, self.leaf_node, self.extensions)
