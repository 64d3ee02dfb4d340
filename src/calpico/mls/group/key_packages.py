"""RFC 9420 §10.1 — KeyPackage validation.

A KeyPackage is checked before it is used to add its client, and when an
Add carrying it is received: the version and cipher suite match the group,
the KeyPackage signature verifies with the leaf's signature key, the init
key differs from the leaf's encryption key, and the leaf is valid for a
KeyPackage (§7.3; checked against the group's tree by the proposal code,
`calpico.mls.tree.validation.validate_leaf_in_tree`).
"""

from __future__ import annotations

from ..crypto import CipherSuite
from ..errors import ProtocolError, VerificationError
from ..group_context import GroupContext
from ..key_package import KeyPackage
from ..refs import KEY_PACKAGE_REF_LABEL

__all__ = ["key_package_ref_and_tbs", "verify_key_package"]


def _vl_length(n: int) -> int:
    return 1 if n < 0x40 else 2 if n < 0x4000 else 4


def key_package_ref_and_tbs(suite: CipherSuite, key_package: KeyPackage) -> tuple[bytes, bytes]:
    """The KeyPackageRef (§5.2) and the encoded KeyPackageTBS, from one encoding of the package."""
    encoded = key_package.encode()
    n = len(key_package.signature)
    tbs = encoded[: len(encoded) - n - _vl_length(n)]
    return suite.ref_hash(KEY_PACKAGE_REF_LABEL, encoded), tbs


def verify_key_package(suite: CipherSuite, key_package: KeyPackage, context: GroupContext) -> bytes:
    """The §10.1 checks that do not need the tree; returns the KeyPackageRef.

    Raises `ProtocolError` (§10.1) for another version or cipher suite or an
    init key equal to the encryption key, `VerificationError` (§10.1) for a
    bad KeyPackage signature. The leaf itself is checked by the caller.
    """
    if key_package.version != context.version or key_package.cipher_suite != context.cipher_suite:
        raise ProtocolError(
            f"KeyPackage is for version {key_package.version} and cipher suite 0x{key_package.cipher_suite:04X}, "
            f"the group uses {context.version} and 0x{context.cipher_suite:04X}",
            section="10.1",
        )
    if key_package.init_key == key_package.leaf_node.encryption_key:
        raise ProtocolError("KeyPackage init_key equals its leaf's encryption_key", section="10.1")
    ref, tbs = key_package_ref_and_tbs(suite, key_package)
    try:
        suite.verify_with_label(key_package.leaf_node.signature_key, b"KeyPackageTBS", tbs, key_package.signature)
    except VerificationError:
        raise VerificationError("KeyPackage signature does not verify", section="10.1") from None
    return ref
