"""RFC 9420 §12.4.3 — GroupInfo and the Welcome message.

A Welcome brings new members into the epoch a Commit starts. The
`GroupInfo` (group context, extensions such as the ratchet tree, the
confirmation tag, and the signer's signature over `GroupInfoTBS`) is
encrypted once under a key from the joiner_secret; the joiner_secret itself,
plus an optional path secret and the PSK list, travels as `GroupSecrets`
HPKE-encrypted to each new member's KeyPackage init key, found by its
KeyPackageRef in `EncryptedGroupSecrets.new_member`.
"""

from __future__ import annotations

from dataclasses import dataclass

from .codec import U16, U32, Opt, Struct, Vec, VLBytes, wire
from .commit import HPKECiphertext
from .extensions import Extension
from .group_context import GroupContext
from .psk import PreSharedKeyID

__all__ = [
    "EncryptedGroupSecrets",
    "GroupInfo",
    "GroupInfoTBS",
    "GroupSecrets",
    "PathSecret",
    "Welcome",
]


@wire
@dataclass(frozen=True, slots=True)
class GroupInfoTBS(Struct):
    """The signed part of a GroupInfo (§12.4.3)::

    struct {
        GroupContext group_context;
        Extension extensions<V>;
        MAC confirmation_tag;
        uint32 signer;
    } GroupInfoTBS;
    """

    group_context: GroupContext
    extensions: Vec[Extension]
    confirmation_tag: VLBytes
    signer: U32

    def with_signature(self, signature: bytes) -> GroupInfo:
        """The `GroupInfo` carrying these fields and ``signature``."""
        return GroupInfo(self.group_context, self.extensions, self.confirmation_tag, self.signer, signature)


@wire
@dataclass(frozen=True, slots=True)
class GroupInfo(Struct):
    """What a joiner needs to know about the group (§12.4.3)::

    struct {
        GroupContext group_context;
        Extension extensions<V>;
        MAC confirmation_tag;
        uint32 signer;
        /* SignWithLabel(., "GroupInfoTBS", GroupInfoTBS) */
        opaque signature<V>;
    } GroupInfo;

    ``extensions`` may hold unknown and GREASE extensions, which a joiner
    ignores; ``group_context.extensions`` may not.
    """

    group_context: GroupContext
    extensions: Vec[Extension]
    confirmation_tag: VLBytes
    signer: U32
    signature: VLBytes

    def tbs(self) -> GroupInfoTBS:
        """The signed part of this GroupInfo."""
        return GroupInfoTBS(self.group_context, self.extensions, self.confirmation_tag, self.signer)


@wire
@dataclass(frozen=True, slots=True)
class PathSecret(Struct):
    """``struct { opaque path_secret<V>; } PathSecret;`` (§12.4.3.1)"""

    path_secret: VLBytes


@wire
@dataclass(frozen=True, slots=True)
class GroupSecrets(Struct):
    """The secrets HPKE-encrypted to one new member (§12.4.3.1)::

    struct {
      opaque joiner_secret<V>;
      optional<PathSecret> path_secret;
      PreSharedKeyID psks<V>;
    } GroupSecrets;

    ``path_secret`` is for the lowest common ancestor of the new member and
    the committer; it is absent when the Commit had no path. ``psks`` must
    list the Commit's PSKs in the Commit's order.
    """

    joiner_secret: VLBytes
    path_secret: Opt[PathSecret] = None
    psks: Vec[PreSharedKeyID] = ()


@wire
@dataclass(frozen=True, slots=True)
class EncryptedGroupSecrets(Struct):
    """GroupSecrets for the holder of one KeyPackage (§12.4.3.1)::

    struct {
      KeyPackageRef new_member;
      HPKECiphertext encrypted_group_secrets;
    } EncryptedGroupSecrets;
    """

    new_member: VLBytes
    encrypted_group_secrets: HPKECiphertext


@wire
@dataclass(frozen=True, slots=True)
class Welcome(Struct):
    """The message that adds new members (§12.4.3.1)::

    struct {
      CipherSuite cipher_suite;
      EncryptedGroupSecrets secrets<V>;
      opaque encrypted_group_info<V>;
    } Welcome;
    """

    cipher_suite: U16
    secrets: Vec[EncryptedGroupSecrets]
    encrypted_group_info: VLBytes

    def secrets_for(self, key_package_ref: bytes) -> EncryptedGroupSecrets | None:
        """The entry addressed to the KeyPackage with this reference, if any."""
        for entry in self.secrets:
            if entry.new_member == key_package_ref:
                return entry
        return None
