"""RFC 9420 §7.3, §7.9.2 and §12.4.3.1 — validating leaves and whole trees.

Three levels:

- `validate_leaf_node`: one LeafNode on its own (§7.3): its source, its
  signature (over LeafNodeTBS, with the group id and leaf index for the
  ``update`` and ``commit`` sources), its capabilities against its own
  credential and extensions and against the group's required capabilities
  (§11.1), and its lifetime against an injectable clock.
- `validate_leaf_in_tree`: a leaf about to enter a tree (Add, Update, or the
  leaf of an UpdatePath): the above, plus the group-wide credential rules of
  §7.3 and the uniqueness of its keys.
- `validate_tree`: everything a joiner checks (§12.4.3.1): every non-blank
  parent parent-hash valid (§7.9.2), every unmerged leaf accounted for, and
  every leaf valid. Unique keys are an invariant of `RatchetTree` itself,
  enforced when the tree is loaded.

Failures raise `VerificationError` for signatures and parent hashes and
`ProtocolError` for every other rule, each naming its section.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Collection
from time import time

from ..codec import encode_varint
from ..crypto import CipherSuite
from ..errors import ProtocolError, UsageError, VerificationError
from ..extensions import ExtensionType, RequiredCapabilities, check_unique_extension_types
from ..proposals import ProposalType
from .hashes import original_sibling_tree_hash, parent_hash
from .nodes import LeafNode, LeafNodeSource, ParentNode
from .ratchet_tree import RatchetTree

__all__ = [
    "Clock",
    "check_unmerged_leaves",
    "leaf_node_tbs",
    "validate_leaf_in_tree",
    "validate_leaf_node",
    "validate_tree",
    "verify_leaf_signature",
    "verify_parent_hashes",
]

Clock = Callable[[], float]
"""Seconds since the Unix epoch; `time.time` by default."""

_DEFAULT_EXTENSIONS = frozenset(int(t) for t in ExtensionType)
_DEFAULT_PROPOSALS = frozenset(int(t) for t in ProposalType)
_IN_GROUP = (LeafNodeSource.update, LeafNodeSource.commit)


def _vl_length(n: int) -> int:
    return 1 if n < 0x40 else 2 if n < 0x4000 else 4


def leaf_node_tbs(
    leaf: LeafNode, group_id: bytes | None, leaf_index: int | None, encoded: bytes | None = None
) -> bytes:
    """The encoded LeafNodeTBS of ``leaf`` (§7.2).

    ``group_id`` and ``leaf_index`` are used for the ``update`` and
    ``commit`` sources only. ``encoded`` may give the leaf's own encoding,
    which holds the TBS as a prefix (everything before the signature). Raises
    `UsageError` if a group leaf is checked without its group id and index.
    """
    in_group = leaf.leaf_node_source in _IN_GROUP
    if in_group and (group_id is None or leaf_index is None):
        raise UsageError(f"a {leaf.leaf_node_source.name} leaf is signed with its group_id and leaf_index")
    if encoded is None:
        return leaf.tbs(group_id, leaf_index).encode() if in_group else leaf.tbs().encode()
    n = len(leaf.signature)
    body = encoded[: len(encoded) - n - _vl_length(n)]
    if not in_group:
        return body
    assert group_id is not None and leaf_index is not None
    return body + encode_varint(len(group_id)) + group_id + leaf_index.to_bytes(4, "big")


def verify_leaf_signature(
    suite: CipherSuite,
    leaf: LeafNode,
    group_id: bytes | None,
    leaf_index: int | None,
    encoded: bytes | None = None,
) -> None:
    """Check ``leaf.signature`` over its LeafNodeTBS with its own signature key (§7.3).

    Raises `VerificationError` naming the leaf if it does not verify.
    """
    # The leaf's own encoding holds the TBS as a prefix (and a LeafNode remembers its encoding).
    tbs = leaf_node_tbs(leaf, group_id, leaf_index, leaf.encode() if encoded is None else encoded)
    try:
        suite.verify_with_label(leaf.signature_key, b"LeafNodeTBS", tbs, leaf.signature)
    except VerificationError:
        where = "" if leaf_index is None else f" at leaf {leaf_index}"
        raise VerificationError(f"LeafNode signature{where} does not verify", section="7.3") from None


def validate_leaf_node(
    suite: CipherSuite,
    leaf: LeafNode,
    *,
    source: LeafNodeSource | None = None,
    group_id: bytes | None = None,
    leaf_index: int | None = None,
    clock: Clock | None = time,
    max_lifetime: int | None = None,
    required_capabilities: RequiredCapabilities | None = None,
    credential_types: Collection[int] = (),
    encoded: bytes | None = None,
    verify_signature: bool = True,
) -> None:
    """Validate one LeafNode (§7.3).

    - ``source``: the source this leaf must have (``key_package`` in a
      KeyPackage, ``update`` in an Update, ``commit`` in an UpdatePath), or
      None to accept any (a leaf already in a received tree).
    - ``group_id`` and ``leaf_index``: the signature context of ``update``
      and ``commit`` leaves.
    - ``clock``: checks ``lifetime`` (key_package leaves) against
      ``int(clock())``; pass None to skip the check, which §7.3 allows for
      received leaves. ``max_lifetime`` caps ``not_after - not_before``.
    - ``required_capabilities``: the group's required_capabilities extension.
    - ``credential_types``: credential types in use by other members, which
      this leaf must support.
    - ``encoded``: the leaf's encoding, when the caller has it (its TBS is a prefix).
    - ``verify_signature``: False skips the signature check, for a leaf whose
      signature was already verified in this same context (a proposal
      checked when it was received, then committed by reference).

    The credential itself is the application's to validate (§5.3.1).
    Raises `VerificationError` for a bad signature and `ProtocolError` for
    any other broken rule.
    """
    if source is not None and leaf.leaf_node_source != source:
        raise ProtocolError(f"LeafNode source is {leaf.leaf_node_source.name}, expected {source.name}", section="7.3")
    if verify_signature:
        verify_leaf_signature(suite, leaf, group_id, leaf_index, encoded)
    capabilities = leaf.capabilities
    if leaf.credential.credential_type not in capabilities.credentials:
        raise ProtocolError("LeafNode capabilities do not list its own credential type", section="7.2")
    for ctype in credential_types:
        if ctype not in capabilities.credentials:
            raise ProtocolError(f"LeafNode does not support credential type {ctype}, used in the group", section="7.3")
    check_unique_extension_types(leaf.extensions, "LeafNode.extensions")
    for ext in leaf.extensions:
        if ext.extension_type not in _DEFAULT_EXTENSIONS and ext.extension_type not in capabilities.extensions:
            raise ProtocolError(
                f"LeafNode extension {ext.extension_type} is not listed in its capabilities", section="7.3"
            )
    if required_capabilities is not None:
        _check_required(leaf, required_capabilities)
    lifetime = leaf.lifetime
    if lifetime is not None:
        if clock is not None and not lifetime.contains(int(clock())):
            raise ProtocolError(
                f"LeafNode lifetime [{lifetime.not_before}, {lifetime.not_after}] does not include now", section="7.3"
            )
        if max_lifetime is not None and lifetime.not_after - lifetime.not_before > max_lifetime:
            raise ProtocolError(f"LeafNode lifetime exceeds {max_lifetime} seconds", section="7.2")


def _check_required(leaf: LeafNode, required: RequiredCapabilities) -> None:
    """§7.3, §11.1: the leaf supports every required extension, proposal and credential type."""
    capabilities = leaf.capabilities
    for ext in required.extension_types:
        if ext not in _DEFAULT_EXTENSIONS and ext not in capabilities.extensions:
            raise ProtocolError(f"LeafNode does not support required extension {ext}", section="11.1")
    for proposal in required.proposal_types:
        if proposal not in _DEFAULT_PROPOSALS and proposal not in capabilities.proposals:
            raise ProtocolError(f"LeafNode does not support required proposal type {proposal}", section="11.1")
    for ctype in required.credential_types:
        if ctype not in capabilities.credentials:
            raise ProtocolError(f"LeafNode does not support required credential type {ctype}", section="11.1")


def validate_leaf_in_tree(
    tree: RatchetTree,
    leaf: LeafNode,
    *,
    source: LeafNodeSource,
    group_id: bytes | None = None,
    leaf_index: int | None = None,
    replacing: int | None = None,
    clock: Clock | None = time,
    max_lifetime: int | None = None,
    required_capabilities: RequiredCapabilities | None = None,
    verify_signature: bool = True,
) -> None:
    """Validate a leaf that is about to enter ``tree`` (§7.3).

    ``replacing`` is the leaf index whose LeafNode this one replaces (an
    Update, or a commit's own leaf), or None for a new member.
    ``verify_signature=False`` skips the signature check for a leaf already
    verified in this context (see `validate_leaf_node`). Beyond
    `validate_leaf_node` this checks that the leaf supports every credential
    type the other members use, that they all support its credential type,
    and that its encryption and signature keys are new to the tree (the
    replaced leaf's signature key may be kept). Raises as `validate_leaf_node`.
    """
    ctype = leaf.credential.credential_type
    in_use = set(tree.credential_types_in_use())
    old = None if replacing is None else tree.leaf_node(replacing)
    if old is not None and tree.credential_type_count(old.credential.credential_type) == 1:
        in_use.discard(old.credential.credential_type)
    validate_leaf_node(
        tree.suite,
        leaf,
        source=source,
        group_id=group_id,
        leaf_index=leaf_index,
        clock=clock,
        max_lifetime=max_lifetime,
        required_capabilities=required_capabilities,
        credential_types=in_use,
        verify_signature=verify_signature,
    )
    if ctype not in in_use:
        # A credential type new to the group: every other member must support it.
        for index, member in tree.members():
            if index != replacing and ctype not in member.capabilities.credentials:
                raise ProtocolError(f"member {index} does not support credential type {ctype}", section="7.3")
    tree.check_keys_unused(leaf, None if replacing is None else 2 * replacing)
    if old is not None and old.encryption_key == leaf.encryption_key:
        raise ProtocolError("the new LeafNode must have a new encryption key", section="7.3")


def verify_parent_hashes(tree: RatchetTree) -> None:
    """Check that every non-blank parent node is parent-hash valid (§7.9.2).

    Bottom up: each non-blank node D with a parent hash can only be linked to
    its lowest non-blank ancestor P (any higher candidate would have P in the
    resolution of its child, and a parent node is never an unmerged leaf).
    The link holds if P's unmerged leaves under D's side C are exactly the
    resolution of C without D, and D's parent_hash is the parent hash of P
    over its other child. Every non-blank parent must be the target of
    exactly one link. Raises `VerificationError`.

    The resolution rule admits at most one D per (P, C), found once per pair,
    so the work stays near linear in the tree even for a hostile one.
    """
    suite = tree.suite
    root = tree.root
    links: dict[int, int] = {}
    candidates: dict[tuple[int, int], int | None] = {}
    for d in range(tree.n_nodes):
        node = tree.node(d)
        if node is None:
            continue
        if isinstance(node, LeafNode) and node.leaf_node_source != LeafNodeSource.commit:
            continue
        claimed = node.parent_hash
        if not claimed:
            continue
        child = d
        while child != root:
            k = (child ^ (child + 1)).bit_length() - 1
            sibling = child ^ (1 << (k + 1))
            p = (child | (1 << k)) & ~(1 << (k + 1))
            above = tree.node(p)
            if above is None:
                child = p
                continue
            assert isinstance(above, ParentNode)
            key = (p, child)
            if key not in candidates:
                candidates[key] = _linkable_node(tree, child, above)
            if candidates[key] == d:
                sibling_hash = original_sibling_tree_hash(tree, p, sibling)
                if parent_hash(suite, above.encryption_key, above.parent_hash, sibling_hash) == claimed:
                    links[p] = links.get(p, 0) + 1
            break
    for x in range(1, tree.n_nodes, 2):
        if tree.node(x) is not None and links.get(x, 0) != 1:
            count = links.get(x, 0)
            why = "no descendant links to it" if count == 0 else f"{count} descendants link to it"
            raise VerificationError(f"parent node {x} is not parent-hash valid: {why}", section="7.9.2")


def _linkable_node(tree: RatchetTree, child: int, parent: ParentNode) -> int | None:
    """The only node D whose parent hash may link to ``parent`` through ``child`` (§7.9.2), or None.

    D must be in the resolution of C = ``child``, and P's unmerged leaves
    under C must be that resolution without D: so the resolution is those
    leaves plus exactly one more node, which is D.
    """
    k = (child ^ (child + 1)).bit_length() - 1
    lo = (child >> (k + 1)) << k
    unmerged = parent.unmerged_leaves  # sorted (checked when the tree was loaded)
    start, stop = bisect_left(unmerged, lo), bisect_left(unmerged, lo + (1 << k))
    expected = {2 * leaf for leaf in unmerged[start:stop]}
    resolution = tree.resolution(child, limit=len(expected) + 1)
    if len(resolution) != len(expected) + 1:
        return None
    others = [x for x in resolution if x not in expected]
    return others[0] if len(others) == 1 else None


def check_unmerged_leaves(tree: RatchetTree) -> None:
    """Check every parent's unmerged_leaves (§12.4.3.1); raises `ProtocolError`.

    Each entry must be a non-blank leaf below the parent, and every non-blank
    parent between that leaf and the parent must list it too.
    """
    listed: dict[int, frozenset[int]] = {}

    def unmerged_at(x: int, node: ParentNode) -> frozenset[int]:
        found = listed.get(x)
        if found is None:
            found = listed[x] = frozenset(node.unmerged_leaves)
        return found

    for x in range(1, tree.n_nodes, 2):
        node = tree.node(x)
        if node is None:
            continue
        assert isinstance(node, ParentNode)
        k = (x ^ (x + 1)).bit_length() - 1
        lo = (x >> (k + 1)) << k
        hi = lo + (1 << k)
        for leaf in node.unmerged_leaves:
            if not lo <= leaf < hi:
                raise ProtocolError(f"node {x}: unmerged leaf {leaf} is not below it", section="12.4.3.1")
            if tree.leaf_node(leaf) is None:
                raise ProtocolError(f"node {x}: unmerged leaf {leaf} is blank", section="12.4.3.1")
            for p in tree.direct_path(2 * leaf):
                if p == x:
                    break
                between = tree.node(p)
                if isinstance(between, ParentNode) and leaf not in unmerged_at(p, between):
                    raise ProtocolError(
                        f"leaf {leaf} is unmerged at node {x} but not at node {p} below it", section="12.4.3.1"
                    )


def validate_tree(
    tree: RatchetTree,
    group_id: bytes,
    *,
    clock: Clock | None = None,
    max_lifetime: int | None = None,
    required_capabilities: RequiredCapabilities | None = None,
) -> None:
    """Check a received tree as a joiner must (§12.4.3.1), except its hash against the GroupInfo's.

    Every non-blank parent is parent-hash valid (§7.9.2); every unmerged
    leaf is a non-blank descendant recorded at every non-blank node between;
    every leaf is valid (§7.3) with ``group_id`` as signature context, and
    supports the credential types in use. Keys are unique by construction of
    `RatchetTree`. ``clock`` defaults to None: lifetimes in a received tree
    are not checked unless a clock is given (§7.3 only recommends it, and
    leaves legitimately outlive their KeyPackage's lifetime).

    Raises `VerificationError` or `ProtocolError` naming the rule.
    """
    check_unmerged_leaves(tree)
    verify_parent_hashes(tree)
    in_use = tree.credential_types_in_use()
    suite = tree.suite
    for index, leaf in tree.members():
        validate_leaf_node(
            suite,
            leaf,
            group_id=group_id,
            leaf_index=index,
            clock=clock,
            max_lifetime=max_lifetime,
            required_capabilities=required_capabilities,
            credential_types=in_use,
            encoded=tree.encoded_node(2 * index),
        )
