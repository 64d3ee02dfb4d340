"""Persisting a `Group`: versioned binary records built with the codec.

The state is two records, because they change at very different rates:

- the **epoch record** (`Group.epoch_state_bytes`): GroupContext, ratchet
  tree, our private path keys, epoch secrets, transcript hashes, our
  signature key, the resumption PSKs kept, and the past epochs' contexts.
  It is O(tree) and changes only when a commit is merged (or we join), so a
  client writes it once per epoch; the group caches its encoding.
- the **message record** (`Group.message_state_bytes`): the secret tree
  ratchets of this and the past epochs, the proposals cached this epoch and
  our pending Update keys. It is small and changes with nearly every message.

A client stores both (e.g. two columns) and after each processed message
rewrites only the message record; after a merge, both. `Group.to_bytes` is
the two together; `Group.from_parts` checks that the two records belong to
the same group and epoch. Grammar (all integers big-endian)::

    struct { uint32 leaf; optional<LeafNode> leaf_node; } ReplacedLeaf;
    struct { GroupContext context; opaque sender_data_secret<V>; ReplacedLeaf replaced<V>; } PastEpochRecord;
    struct { uint64 epoch; opaque psk<V>; } ResumptionPskRecord;
    struct {
        uint8 format = 1; uint8 status; GroupContext context;
        opaque tree<V>; opaque private_tree<V>; opaque epoch_secrets<V>; opaque transcript<V>;
        opaque signature_private_key<V>; optional<ReInit> reinit;
        ResumptionPskRecord resumption<V>; PastEpochRecord past<V>;
    } EpochRecord;
    struct { opaque encryption_key<V>; opaque private_key<V>; } OwnUpdateKey;
    struct {
        uint8 format = 1; opaque group_id<V>; uint64 epoch;
        opaque secret_tree<V>; opaque past_secret_trees<V><V>;
        CachedProposal proposals<V>; OwnUpdateKey own_updates<V>;
    } MessageRecord;
    struct { uint8 format = 1; opaque epoch_record<V>; opaque message_record<V>; } GroupRecord;

Keys are stored in the clear: the client store encrypts group state at rest.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..codec import U8, U32, U64, Opt, Struct, Vec, VLBytes, wire
from ..crypto import get_suite
from ..errors import DecodeError, MLSError
from ..group_context import GroupContext
from ..key_schedule import EpochSecrets
from ..proposals import ReInit
from ..secret import Secret
from ..secret_tree import SecretTree
from ..transcript import TranscriptHashes
from ..tree.nodes import LeafNode
from ..tree.private_tree import PrivateTree
from ..tree.ratchet_tree import RatchetTree
from .config import GroupConfig
from .state import CachedProposal, EpochState, PastEpoch

if TYPE_CHECKING:
    from .group import Group

__all__ = ["epoch_to_bytes", "group_from_bytes", "group_from_parts", "group_to_bytes", "messages_to_bytes"]

_FORMAT = 1


@wire
@dataclass(frozen=True, slots=True)
class _ReplacedLeaf(Struct):
    leaf: U32
    leaf_node: Opt[LeafNode]


@wire
@dataclass(frozen=True, slots=True)
class _PastEpochRecord(Struct):
    context: GroupContext
    sender_data_secret: VLBytes
    replaced: Vec[_ReplacedLeaf]


@wire
@dataclass(frozen=True, slots=True)
class _ResumptionPskRecord(Struct):
    epoch: U64
    psk: VLBytes


@wire
@dataclass(frozen=True, slots=True)
class _EpochRecord(Struct):
    format: U8
    status: U8
    context: GroupContext
    tree: VLBytes
    private_tree: VLBytes
    epoch_secrets: VLBytes
    transcript: VLBytes
    signature_private_key: VLBytes
    reinit: Opt[ReInit]
    resumption: Vec[_ResumptionPskRecord]
    past: Vec[_PastEpochRecord]


@wire
@dataclass(frozen=True, slots=True)
class _OwnUpdateKey(Struct):
    encryption_key: VLBytes
    private_key: VLBytes


@wire
@dataclass(frozen=True, slots=True)
class _MessageRecord(Struct):
    format: U8
    group_id: VLBytes
    epoch: U64
    secret_tree: VLBytes
    past_secret_trees: Vec[VLBytes]
    proposals: Vec[CachedProposal]
    own_updates: Vec[_OwnUpdateKey]


@wire
@dataclass(frozen=True, slots=True)
class _GroupRecord(Struct):
    format: U8
    epoch_record: VLBytes
    message_record: VLBytes


def epoch_to_bytes(group: Group) -> bytes:
    """The epoch record of ``group``."""
    state = group._epoch
    past = tuple(
        _PastEpochRecord(
            p.context,
            bytes(p.sender_data_secret),
            tuple(_ReplacedLeaf(leaf, node) for leaf, node in sorted(p.replaced.items())),
        )
        for p in group._past
    )
    return _EpochRecord(
        _FORMAT,
        group._status,
        state.context,
        state.tree.to_bytes(),
        state.private.encode(),
        state.secrets.to_bytes(),
        state.transcript.to_bytes(),
        bytes(group._signature_key),
        group._reinit,
        tuple(_ResumptionPskRecord(e, bytes(psk)) for e, psk in sorted(group._resumption.items())),
        past,
    ).encode()


def messages_to_bytes(group: Group) -> bytes:
    """The message record of ``group``."""
    return _MessageRecord(
        _FORMAT,
        group._epoch.context.group_id,
        group._epoch.epoch,
        group._secret_tree.to_bytes(),
        tuple(p.secret_tree.to_bytes() for p in group._past),
        tuple(group._proposals.values()),
        tuple(_OwnUpdateKey(k, bytes(v)) for k, v in group._own_updates.items()),
    ).encode()


def group_to_bytes(group: Group) -> bytes:
    """Both records in one."""
    return _GroupRecord(_FORMAT, group.epoch_state_bytes(), messages_to_bytes(group)).encode()


def group_from_bytes(data: bytes, config: GroupConfig) -> Group:
    """Inverse of `group_to_bytes`."""
    record = _GroupRecord.decode(data)
    if record.format != _FORMAT:
        raise DecodeError(f"group state: unknown record format {record.format}")
    return group_from_parts(record.epoch_record, record.message_record, config)


def group_from_parts(epoch_data: bytes, message_data: bytes, config: GroupConfig) -> Group:
    """A group from its epoch record and its message record.

    Raises `DecodeError` for malformed or mismatched records, `UnsupportedError` for an unknown suite.
    """
    from .group import Group

    epoch_record = _EpochRecord.decode(epoch_data)
    messages = _MessageRecord.decode(message_data)
    if epoch_record.format != _FORMAT or messages.format != _FORMAT:
        raise DecodeError("group state: unknown record format")
    context = epoch_record.context
    if messages.group_id != context.group_id or messages.epoch != context.epoch:
        raise DecodeError("group state: the message record belongs to another group or epoch")
    if len(messages.past_secret_trees) != len(epoch_record.past):
        raise DecodeError("group state: the records disagree on the past epochs")
    suite = get_suite(context.cipher_suite)
    try:
        tree = RatchetTree.from_bytes(suite, epoch_record.tree)
        secrets = EpochSecrets.from_bytes(epoch_record.epoch_secrets)
        state = EpochState(
            suite,
            context,
            tree,
            PrivateTree.decode(epoch_record.private_tree),
            secrets,
            TranscriptHashes.from_bytes(epoch_record.transcript),
        )
        secret_tree = SecretTree.from_bytes(messages.secret_tree)
    except DecodeError:
        raise
    except MLSError as exc:
        raise DecodeError(f"group state: {exc}") from None
    if secrets.cipher_suite != suite.suite_id or secret_tree.suite.suite_id != suite.suite_id:
        raise DecodeError("group state: records of different cipher suites")
    group = Group(state, secret_tree, epoch_record.signature_private_key, config)
    group._status = epoch_record.status
    group._reinit = epoch_record.reinit
    group._resumption = {r.epoch: Secret(r.psk) for r in epoch_record.resumption}
    group._past = [
        PastEpoch(
            p.context,
            Secret(p.sender_data_secret),
            SecretTree.from_bytes(tree_bytes),
            {r.leaf: r.leaf_node for r in p.replaced},
        )
        for p, tree_bytes in zip(epoch_record.past, messages.past_secret_trees, strict=True)
    ]
    group._proposals = {bytes(p.ref): p for p in messages.proposals}
    group._own_updates = {bytes(u.encryption_key): Secret(u.private_key) for u in messages.own_updates}
    group._epoch_bytes = bytes(epoch_data)
    return group
