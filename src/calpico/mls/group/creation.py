"""RFC 9420 §11 — creating a group: one member, epoch 0.

The creator's KeyPackage leaf is the whole tree. The GroupContext of epoch 0
has an empty confirmed transcript hash; the key schedule starts from a
random init secret with a zero commit secret, and the interim transcript
hash follows from the confirmation tag over that empty hash (§8.2), as if
a commit had produced the epoch. The GroupContext extensions must be ones
the creator supports (§11.1, §12.1.7).
"""

from __future__ import annotations

from collections.abc import Sequence

from ..credentials import Credential
from ..crypto import get_suite
from ..extensions import Extension
from ..group_context import GroupContext, ProtocolVersion
from ..key_package import create_key_package
from ..key_schedule import derive_epoch
from ..secret import Secret
from ..transcript import TranscriptHashes, confirmation_tag, interim_transcript_hash
from ..tree.nodes import Capabilities
from ..tree.private_tree import PrivateTree
from ..tree.ratchet_tree import RatchetTree
from .config import GroupConfig
from .proposal_list import check_group_context_extensions, required_capabilities
from .state import EpochState

__all__ = ["create_epoch"]


def create_epoch(
    cipher_suite: int,
    credential: Credential,
    signature_private_key: bytes,
    *,
    group_id: bytes | None,
    extensions: Sequence[Extension],
    capabilities: Capabilities | None,
    leaf_extensions: tuple[Extension, ...],
    config: GroupConfig,
) -> tuple[EpochState, Secret]:
    """Epoch 0 of a new group, and its encryption secret (for the secret tree); see `Group.create`.

    Raises `UnsupportedError` for an unknown suite and `ProtocolError` if the
    creator does not support the extensions.
    """
    suite = get_suite(cipher_suite)
    bundle = create_key_package(
        cipher_suite,
        credential,
        signature_private_key,
        capabilities=capabilities,
        leaf_extensions=leaf_extensions,
        now=config.now(),
        rng=config.rng,
    )
    tree = RatchetTree.create(suite, bundle.key_package.leaf_node)
    group_id = config.random(suite.nh) if group_id is None else group_id
    context = GroupContext(ProtocolVersion.mls10, cipher_suite, group_id, 0, tree.tree_hash(), b"", tuple(extensions))
    rc = required_capabilities(context.extensions)
    check_group_context_extensions(tree, context.extensions, rc, config.credentials)
    schedule = derive_epoch(suite, config.random(suite.nh), Secret.zero(suite.nh), context)
    tag = confirmation_tag(suite, schedule.secrets.confirmation_key, b"")
    transcript = TranscriptHashes(b"", interim_transcript_hash(suite, b"", tag))
    private = PrivateTree.create(0, bundle.encryption_private_key)
    return EpochState(suite, context, tree, private, schedule.secrets, transcript), schedule.encryption_secret
