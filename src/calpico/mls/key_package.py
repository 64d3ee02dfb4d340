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
from time import time

from .codec import U16, Enum16, Struct, Vec, VLBytes, memo, wire
from .credentials import Credential
from .crypto import Rng, get_suite
from .extensions import Extension
from .group_context import ProtocolVersion
from .secret import Secret
from .tree.nodes import Capabilities, LeafNode, LeafNodeSource, LeafNodeTBS, Lifetime

__all__ = ["KeyPackage", "KeyPackageBundle", "KeyPackageTBS", "create_key_package"]

KEY_PACKAGE_REF_LABEL = b"MLS 1.0 KeyPackage Reference"
DEFAULT_LIFETIME = 90 * 24 * 3600


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
    _wire_bytes: bytes | None = memo()

    def tbs(self) -> KeyPackageTBS:
        """The signed part of this package."""
        return KeyPackageTBS(self.version, self.cipher_suite, self.init_key, self.leaf_node, self.extensions)


@dataclass(frozen=True, slots=True)
class KeyPackageBundle:
    """A KeyPackage with the private keys its owner keeps to join from it.

    ``init_private_key`` opens the Welcome's GroupSecrets; the
    ``encryption_private_key`` belongs to the leaf; the signature key is the
    owner's, passed in, and not kept here.
    """

    key_package: KeyPackage
    init_private_key: Secret
    encryption_private_key: Secret

    def ref(self) -> bytes:
        """KeyPackageRef (§5.2): RefHash over the KeyPackage's own encoding."""
        return get_suite(self.key_package.cipher_suite).ref_hash(KEY_PACKAGE_REF_LABEL, self.key_package.encode())


def create_key_package(
    cipher_suite: int,
    credential: Credential,
    signature_private_key: bytes,
    *,
    capabilities: Capabilities | None = None,
    leaf_extensions: tuple[Extension, ...] = (),
    extensions: tuple[Extension, ...] = (),
    lifetime: int = DEFAULT_LIFETIME,
    now: int | None = None,
    rng: Rng | None = None,
) -> KeyPackageBundle:
    """Build and sign a KeyPackage (§10) with fresh init and encryption keys.

    ``capabilities`` defaults to this version and suite with the credential's
    type; list any non-default extension the leaf or the groups will use.
    The lifetime starts an hour before ``now`` (default: the current time)
    to tolerate clock skew. Raises UnsupportedError for an unknown suite.
    """
    suite = get_suite(cipher_suite)
    init = suite.generate_hpke_key_pair(rng)
    encryption = suite.generate_hpke_key_pair(rng)
    if capabilities is None:
        capabilities = Capabilities(
            versions=(ProtocolVersion.mls10,),
            cipher_suites=(cipher_suite,),
            credentials=(credential.credential_type,),
        )
    start = int(time() if now is None else now)
    leaf_tbs = LeafNodeTBS(
        encryption_key=encryption.public_key,
        signature_key=suite.signature_public_key(signature_private_key),
        credential=credential,
        capabilities=capabilities,
        leaf_node_source=LeafNodeSource.key_package,
        lifetime=Lifetime(max(0, start - 3600), start + lifetime),
        parent_hash=None,
        extensions=leaf_extensions,
    )
    leaf = leaf_tbs.with_signature(suite.sign_with_label(signature_private_key, b"LeafNodeTBS", leaf_tbs.encode()))
    tbs = KeyPackageTBS(ProtocolVersion.mls10, cipher_suite, init.public_key, leaf, extensions)
    key_package = tbs.with_signature(suite.sign_with_label(signature_private_key, b"KeyPackageTBS", tbs.encode()))
    return KeyPackageBundle(key_package, init.private_key, encryption.private_key)
