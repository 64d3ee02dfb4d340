"""RFC 9420 §12.4.3.1 — joining a group from a Welcome.

The steps, in the RFC's order:

1. find the entry addressed to our KeyPackageRef (else: the Welcome is not
   for us) and check the Welcome's cipher suite is the KeyPackage's;
2. open our GroupSecrets with the KeyPackage's init key (HPKE, label "Welcome");
3. fetch the PSKs it lists (all must be available), derive the welcome
   secret and open the GroupInfo (AEAD with the Welcome key and nonce);
4. take the ratchet tree (GroupInfo extension or out of band), check its
   hash against the GroupContext's, verify the GroupInfo signature with the
   signer's leaf key, and validate the whole tree (parent hashes, unmerged
   leaves, every leaf; lifetimes only if configured, §7.3);
5. find our leaf (identical to the KeyPackage's), derive the private keys
   above it from the path secret (it must reproduce the tree's public keys);
6. run the key schedule from the joiner_secret, check the GroupInfo's
   confirmation tag, and seed the interim transcript hash from it.

Every failure raises a typed error naming its section.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..crypto import get_suite
from ..errors import DecodeError, DecryptionError, ProtocolError
from ..extensions import ExtensionType
from ..key_package import KeyPackageBundle
from ..key_schedule import EpochKeySchedule, derive_epoch_from_joiner, derive_welcome_secret, welcome_key_nonce
from ..secret import Secret
from ..transcript import TranscriptHashes, verify_confirmation_tag
from ..tree.treekem import private_tree_for_joiner
from ..tree.validation import validate_tree
from ..welcome import GroupInfo, GroupSecrets, Welcome
from .config import GroupConfig
from .group_info import WELCOME_LABEL, tree_from_group_info, verify_group_info_signature
from .key_packages import key_package_ref_and_tbs
from .proposal_list import external_senders, required_capabilities
from .psks import compute_psk_secret
from .state import EpochState

__all__ = ["Joined", "join_from_welcome", "open_welcome"]

_DEFAULT_EXTENSIONS = frozenset(int(t) for t in ExtensionType)


@dataclass(slots=True, eq=False)
class Joined:
    """The state a Welcome gives: the epoch and its key schedule (for the secret tree)."""

    epoch: EpochState
    schedule: EpochKeySchedule
    group_info: GroupInfo


def open_welcome(
    welcome: Welcome, bundle: KeyPackageBundle, config: GroupConfig
) -> tuple[GroupSecrets, GroupInfo, Secret | None]:
    """Steps 1–3: our GroupSecrets, the decrypted GroupInfo and the psk_secret (None without PSKs).

    Raises `ProtocolError` (§12.4.3.1) if no entry is for us, the suites
    differ, or a PSK is missing; `DecryptionError` if either layer does not
    open; `DecodeError` for malformed contents.
    """
    key_package = bundle.key_package
    if welcome.cipher_suite != key_package.cipher_suite:
        raise ProtocolError("the Welcome's cipher suite is not our KeyPackage's", section="12.4.3.1")
    suite = get_suite(welcome.cipher_suite)
    ref, _ = key_package_ref_and_tbs(suite, key_package)
    entry = welcome.secrets_for(ref)
    if entry is None:
        raise ProtocolError("this Welcome is not for our KeyPackage", section="12.4.3.1")
    sealed = entry.encrypted_group_secrets
    plaintext = suite.decrypt_with_label(
        bundle.init_private_key, WELCOME_LABEL, welcome.encrypted_group_info, sealed.kem_output, sealed.ciphertext
    )
    secrets = GroupSecrets.decode(plaintext)
    if len(secrets.joiner_secret) != suite.nh:
        raise DecodeError(f"GroupSecrets.joiner_secret must be {suite.nh} bytes", section="12.4.3.1")
    special = [p for p in secrets.psks if p.usage is not None and p.usage != 1]
    if len(special) > 1:
        raise ProtocolError("more than one reinit or branch PSK in a Welcome", section="12.4.3.1")
    psk_secret = compute_psk_secret(
        suite,
        secrets.psks,
        external=config.external_psks,
        resumption=lambda group_id, epoch: config.resumption_psks.get((group_id, epoch)),
    )
    welcome_secret = derive_welcome_secret(suite, secrets.joiner_secret, psk_secret)
    key, nonce = welcome_key_nonce(suite, welcome_secret)
    try:
        group_info_bytes = suite.aead_open(key, nonce, b"", welcome.encrypted_group_info)
    except DecryptionError:
        raise DecryptionError("the Welcome's GroupInfo does not decrypt", section="12.4.3.1") from None
    return secrets, GroupInfo.decode(group_info_bytes), psk_secret


def join_from_welcome(
    welcome: Welcome, bundle: KeyPackageBundle, *, ratchet_tree: bytes | None, config: GroupConfig
) -> Joined:
    """Join from ``welcome`` with the KeyPackage ``bundle`` (§12.4.3.1); see the module docstring.

    Raises `ProtocolError`, `VerificationError` or `DecryptionError` naming
    the failed step's section.
    """
    secrets, group_info, psk_secret = open_welcome(welcome, bundle, config)
    suite = get_suite(welcome.cipher_suite)
    context = group_info.group_context
    if context.cipher_suite != bundle.key_package.cipher_suite or context.version != bundle.key_package.version:
        raise ProtocolError("the GroupInfo's cipher suite or version is not our KeyPackage's", section="12.4.3.1")
    tree = tree_from_group_info(suite, group_info, ratchet_tree)
    signer = tree.leaf_node(group_info.signer) if group_info.signer < tree.n_leaves else None
    if signer is None:
        raise ProtocolError(f"GroupInfo signer {group_info.signer} is a blank leaf", section="12.4.3.1")
    verify_group_info_signature(suite, group_info, signer.signature_key)
    rc = required_capabilities(context.extensions)
    validate_tree(
        tree,
        context.group_id,
        clock=config.clock if config.check_received_lifetimes else None,
        required_capabilities=rc,
    )
    for _, leaf in tree.members():
        config.credentials.validate(leaf.credential, leaf.signature_key)
    senders = external_senders(context.extensions)
    if senders is not None:
        for sender in senders.external_senders:
            config.credentials.validate(sender.credential, sender.signature_key)

    own = bundle.key_package.leaf_node
    for ext in context.extensions:
        if ext.extension_type not in _DEFAULT_EXTENSIONS and ext.extension_type not in own.capabilities.extensions:
            raise ProtocolError(f"we do not support the group's extension {ext.extension_type}", section="12.4.3.1")
    found = tree.leaf_index_of_signature_key(own.signature_key)
    if found is None or tree.leaf_node(found) != own:
        raise ProtocolError("our KeyPackage's leaf is not in the tree", section="12.4.3.1")
    path_secret = None if secrets.path_secret is None else secrets.path_secret.path_secret
    private = private_tree_for_joiner(
        tree, found, bundle.encryption_private_key, committer=group_info.signer, path_secret=path_secret
    )
    schedule = derive_epoch_from_joiner(suite, secrets.joiner_secret, context, psk_secret)
    verify_confirmation_tag(
        suite, schedule.secrets.confirmation_key, context.confirmed_transcript_hash, group_info.confirmation_tag
    )
    transcript = TranscriptHashes.from_group_info(suite, context.confirmed_transcript_hash, group_info.confirmation_tag)
    epoch = EpochState(suite, context, tree, private, schedule.secrets, transcript)
    return Joined(epoch, schedule, group_info)
