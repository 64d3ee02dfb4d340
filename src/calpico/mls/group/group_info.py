"""RFC 9420 §12.4.3 — creating GroupInfo and Welcome messages, and verifying a GroupInfo.

A committer that adds members signs one GroupInfo for the new epoch
(`sign_group_info`), encrypts it once under the Welcome key, and encrypts
the small `GroupSecrets` (joiner_secret, the path secret of the lowest common
ancestor, the PSK list) to each new member's init key (`build_welcome`).
When the commit has no path, every member's GroupSecrets is the same, so it
is encoded once; each recipient then costs one HPKE encryption, all under
one EncryptContext whose key-schedule part is computed once
(`CipherSuite.encrypt_with_label_many`): the context is the encrypted
GroupInfo, which carries the whole tree.

A GroupInfo also serves external joiners (§12.4.3.2): with the
``external_pub`` extension it lets a new client commit itself in.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ..commit import HPKECiphertext
from ..crypto import CipherSuite
from ..errors import ProtocolError, UsageError, VerificationError
from ..extensions import Extension, ExtensionType, ExternalPub, find_extension
from ..key_schedule import welcome_key_nonce
from ..psk import PreSharedKeyID
from ..tree.ratchet_tree import RatchetTree
from ..welcome import EncryptedGroupSecrets, GroupInfo, GroupInfoTBS, GroupSecrets, PathSecret, Welcome
from .state import EpochState

__all__ = [
    "GROUP_INFO_LABEL",
    "WelcomeRecipient",
    "build_welcome",
    "external_pub_of",
    "group_info_extensions",
    "sign_group_info",
    "tree_from_group_info",
    "verify_group_info_signature",
]

GROUP_INFO_LABEL = b"GroupInfoTBS"
WELCOME_LABEL = b"Welcome"

WelcomeRecipient = tuple[bytes, bytes, bytes | None]
"""``(key_package_ref, init_key, path_secret or None)`` of one new member."""


def group_info_extensions(state: EpochState, *, ratchet_tree: bool, external_pub: bool) -> tuple[Extension, ...]:
    """The GroupInfo extensions we publish: the tree (§12.4.3.3) and/or ``external_pub`` (§12.4.3.2)."""
    extensions: list[Extension] = []
    if ratchet_tree:
        extensions.append(Extension(ExtensionType.ratchet_tree, state.tree.to_bytes()))
    if external_pub:
        extensions.append(Extension.of(ExternalPub(state.secrets.external_pub)))
    return tuple(extensions)


def sign_group_info(
    state: EpochState, extensions: tuple[Extension, ...], confirmation_tag: bytes, signature_private_key: bytes
) -> GroupInfo:
    """The GroupInfo of ``state``'s epoch, signed by us (§12.4.3)."""
    tbs = GroupInfoTBS(state.context, extensions, confirmation_tag, state.own_leaf)
    signature = state.suite.sign_with_label(signature_private_key, GROUP_INFO_LABEL, tbs.encode())
    return tbs.with_signature(signature)


def verify_group_info_signature(suite: CipherSuite, group_info: GroupInfo, signer_key: bytes) -> None:
    """Check a GroupInfo's signature with the signer's key (§12.4.3.1); raises `VerificationError`."""
    try:
        suite.verify_with_label(signer_key, GROUP_INFO_LABEL, group_info.tbs().encode(), group_info.signature)
    except VerificationError:
        raise VerificationError("GroupInfo signature does not verify", section="12.4.3.1") from None


def tree_from_group_info(suite: CipherSuite, group_info: GroupInfo, ratchet_tree: bytes | None) -> RatchetTree:
    """The group's tree: from the ``ratchet_tree`` extension, else the one given out of band (§12.4.3.3).

    The tree must hash to the GroupContext's tree_hash. Raises `ProtocolError`
    if there is no tree, `VerificationError` for a hash mismatch, and what
    decoding the tree raises.
    """
    ext = find_extension(group_info.extensions, ExtensionType.ratchet_tree)
    if ext is not None:
        tree = RatchetTree.from_bytes(suite, ext.extension_data)
    elif ratchet_tree is not None:
        tree = RatchetTree.from_bytes(suite, ratchet_tree)
    else:
        raise ProtocolError("no ratchet tree: not in the GroupInfo and none given", section="12.4.3.3")
    if tree.tree_hash() != group_info.group_context.tree_hash:
        raise VerificationError("the ratchet tree does not match the GroupInfo's tree hash", section="12.4.3.1")
    return tree


def external_pub_of(group_info: GroupInfo) -> bytes:
    """The ``external_pub`` of a GroupInfo; raises `ProtocolError` (§12.4.3.2) if it has none."""
    ext = find_extension(group_info.extensions, ExtensionType.external_pub)
    if ext is None:
        raise ProtocolError(
            "the GroupInfo has no external_pub: the group does not allow external joins", section="12.4.3.2"
        )
    return ext.parse(ExternalPub).external_pub


def build_welcome(
    suite: CipherSuite,
    group_info: GroupInfo,
    *,
    joiner_secret: bytes,
    welcome_secret: bytes,
    recipients: Sequence[WelcomeRecipient],
    psks: Sequence[PreSharedKeyID],
    rng: Callable[[int], bytes] | None = None,
) -> Welcome:
    """A Welcome for ``recipients`` (§12.4.3.1).

    The GroupInfo is encrypted once with the key and nonce of
    ``welcome_secret``; each recipient gets its GroupSecrets sealed to its
    init key with EncryptWithLabel(., "Welcome", encrypted_group_info, .).
    Raises `UsageError` without recipients, `ProtocolError` for an invalid init key.
    """
    if not recipients:
        raise UsageError("a Welcome needs at least one new member")
    key, nonce = welcome_key_nonce(suite, welcome_secret)
    encrypted_group_info = suite.aead_seal(key, nonce, b"", group_info.encode())
    shared: bytes | None = None
    sealed: list[tuple[bytes, bytes]] = []
    for _, init_key, path_secret in recipients:
        if path_secret is None:
            if shared is None:
                shared = GroupSecrets(joiner_secret, None, tuple(psks)).encode()
            plaintext = shared
        else:
            plaintext = GroupSecrets(joiner_secret, PathSecret(path_secret), tuple(psks)).encode()
        sealed.append((init_key, plaintext))
    outputs = suite.encrypt_with_label_many(WELCOME_LABEL, encrypted_group_info, sealed, rng)
    entries = tuple(
        EncryptedGroupSecrets(ref, HPKECiphertext(kem_output, ciphertext))
        for (ref, _, _), (kem_output, ciphertext) in zip(recipients, outputs, strict=True)
    )
    return Welcome(suite.suite_id, entries, encrypted_group_info)
