"""RFC 9420 §12.1–§12.3 — validating proposals and applying a Commit's proposal list.

`check_proposal` holds the rules of §12.1 that judge one proposal on its
own (run when a proposal is received or created, so a bad one is refused at
once). `apply_proposals` validates a whole list as §12.2 requires — the
regular rules or the external-commit rules — and applies it in the order of
§12.3 to a *copy* of the tree:

1. GroupContextExtensions: the new extensions govern every later check
   (its ``required_capabilities`` bind the Adds of the same list);
2. Updates, 3. Removes, 4. Adds (each into the leftmost blank leaf, in list
   order), 5. PSKs (in list order), 6. ExternalInit, 7. ReInit.

Every broken rule raises `ProtocolError` (or `VerificationError` for a
signature) naming its section; nothing of the caller's state is touched.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

from ..errors import DecodeError, ProtocolError
from ..extensions import (
    Extension,
    ExtensionType,
    ExternalSenders,
    RequiredCapabilities,
    check_unique_extension_types,
    find_extension,
)
from ..framing import Sender, SenderType
from ..key_package import KeyPackage
from ..proposals import (
    Add,
    ExternalInit,
    GroupContextExtensions,
    PreSharedKey,
    ProposalType,
    ReInit,
    Remove,
    Update,
)
from ..psk import PreSharedKeyID, PSKType, ResumptionPSKUsage
from ..tree.nodes import LeafNode, LeafNodeSource
from ..tree.ratchet_tree import RatchetTree
from ..tree.validation import Clock, validate_leaf_in_tree, validate_leaf_node
from .config import CredentialValidator, ProposalInContext
from .key_packages import verify_key_package
from .state import EpochState

__all__ = [
    "PATH_REQUIRED",
    "AppliedProposals",
    "apply_proposals",
    "check_group_context_extensions",
    "check_proposal",
    "required_capabilities",
]

PATH_REQUIRED = frozenset(
    (ProposalType.update, ProposalType.remove, ProposalType.external_init, ProposalType.group_context_extensions)
)
"""Proposal types that make a Commit's path mandatory (the §12.4 pseudocode)."""

_DEFAULT_EXTENSIONS = frozenset(int(t) for t in ExtensionType)
_DEFAULT_PROPOSALS = frozenset(int(t) for t in ProposalType)
_EXTERNAL_COMMIT_TYPES = frozenset((ProposalType.external_init, ProposalType.remove, ProposalType.psk))


def required_capabilities(extensions: Sequence[Extension]) -> RequiredCapabilities | None:
    """The ``required_capabilities`` extension among GroupContext ``extensions``, if any.

    Raises `ProtocolError` (§11.1) if it does not parse.
    """
    ext = find_extension(extensions, ExtensionType.required_capabilities)
    if ext is None:
        return None
    try:
        return RequiredCapabilities.decode(ext.extension_data)
    except DecodeError as exc:
        raise ProtocolError(f"required_capabilities does not parse: {exc.reason}", section="11.1") from None


def external_senders(extensions: Sequence[Extension]) -> ExternalSenders | None:
    """The ``external_senders`` extension among GroupContext ``extensions``, if any (§12.1.8.1)."""
    ext = find_extension(extensions, ExtensionType.external_senders)
    if ext is None:
        return None
    try:
        return ExternalSenders.decode(ext.extension_data)
    except DecodeError as exc:
        raise ProtocolError(f"external_senders does not parse: {exc.reason}", section="12.1.8.1") from None


def check_psk_id(psk: PreSharedKeyID, nh: int) -> None:
    """§12.1.4: a proposed PSK is not a reinit or branch resumption PSK and has an Nh-byte nonce."""
    if psk.psktype == PSKType.resumption and psk.usage != ResumptionPSKUsage.application:
        raise ProtocolError("a PreSharedKey proposal cannot carry a reinit or branch resumption PSK", section="12.1.4")
    if len(psk.psk_nonce) != nh:
        raise ProtocolError(f"psk_nonce must be {nh} bytes", section="12.1.4")


def check_proposal(
    state: EpochState,
    item: ProposalInContext,
    *,
    clock: Clock | None,
    credentials: CredentialValidator,
) -> None:
    """The §12.1 rules that judge one proposal on its own, in the current epoch.

    ``clock`` checks KeyPackage lifetimes (None skips, as for received
    proposals unless configured). Raises `ProtocolError` or `VerificationError`.
    """
    body = item.proposal.body
    sender = item.sender
    suite, context, tree = state.suite, state.context, state.tree
    rc = required_capabilities(context.extensions)
    if isinstance(body, Add):
        kp = body.key_package
        verify_key_package(suite, kp, context)
        validate_leaf_node(
            suite, kp.leaf_node, source=LeafNodeSource.key_package, clock=clock, required_capabilities=rc
        )
        credentials.validate(kp.leaf_node.credential, kp.leaf_node.signature_key)
    elif isinstance(body, Update):
        if sender.sender_type != SenderType.member or sender.leaf_index is None:
            raise ProtocolError("only a member can send an Update", section="12.1.2")
        old = tree.leaf_node(sender.leaf_index)
        if old is None:
            raise ProtocolError("an Update from a blank leaf", section="12.1.2")
        validate_leaf_node(
            suite,
            body.leaf_node,
            source=LeafNodeSource.update,
            group_id=context.group_id,
            leaf_index=sender.leaf_index,
            clock=None,
            required_capabilities=rc,
        )
        _check_replacement(credentials, old, body.leaf_node)
    elif isinstance(body, Remove):
        if tree.leaf_node(body.removed) is None:
            raise ProtocolError(f"Remove of leaf {body.removed}, which is blank", section="12.1.3")
    elif isinstance(body, PreSharedKey):
        check_psk_id(body.psk, suite.nh)
    elif isinstance(body, ReInit):
        if body.version < context.version:
            raise ProtocolError("ReInit to an older protocol version", section="12.1.5")
    elif isinstance(body, ExternalInit) and sender.sender_type != SenderType.new_member_commit:
        raise ProtocolError("ExternalInit is only valid in an external commit", section="12.1.6")


def _check_replacement(credentials: CredentialValidator, old: LeafNode, new: LeafNode) -> None:
    credentials.validate(new.credential, new.signature_key)
    if new.credential != old.credential and not credentials.same_client(old.credential, new.credential):
        raise ProtocolError("the new credential does not identify the same client", section="12.1.2")


@dataclass(slots=True, eq=False)
class AppliedProposals:
    """The outcome of a valid proposal list: the new tree and what changed (§12.3)."""

    tree: RatchetTree
    extensions: tuple[Extension, ...]
    extensions_changed: bool = False
    added: list[tuple[int, LeafNode, KeyPackage, Sender]] = field(default_factory=list)
    removed: list[tuple[int, LeafNode, Sender]] = field(default_factory=list)
    updated: list[tuple[int, LeafNode, LeafNode]] = field(default_factory=list)
    psks: list[PreSharedKeyID] = field(default_factory=list)
    external_init: ExternalInit | None = None
    reinit: ReInit | None = None
    path_required: bool = True
    key_package_refs: dict[int, bytes] = field(default_factory=dict)

    @property
    def added_leaves(self) -> list[int]:
        """Leaf indices of the members added by this list."""
        return [index for index, _, _, _ in self.added]


def apply_proposals(
    state: EpochState,
    items: Sequence[ProposalInContext],
    *,
    committer: Sender,
    clock: Clock | None,
    credentials: CredentialValidator,
    prevalidated: Collection[int] = (),
) -> AppliedProposals:
    """Validate ``items`` as a Commit's proposal list (§12.2) and apply them to a copy of the tree (§12.3).

    ``committer`` is the commit's sender: a member, or ``new_member_commit``
    for an external commit (whose own leaf is placed later, by its path).
    ``prevalidated`` lists positions in ``items`` whose signatures were
    already checked when the proposal was received (KeyPackages and leaves
    are verified once). Raises `ProtocolError` / `VerificationError` naming the rule.
    """
    suite, context = state.suite, state.context
    prevalidated = prevalidated if isinstance(prevalidated, range) else frozenset(prevalidated)
    external = committer.sender_type == SenderType.new_member_commit
    committer_leaf = committer.leaf_index if committer.sender_type == SenderType.member else None
    types = [item.proposal.proposal_type for item in items]

    # --- §12.2: the shape of the list --------------------------------------------------
    if external:
        if types.count(ProposalType.external_init) != 1:
            raise ProtocolError("an external commit needs exactly one ExternalInit", section="12.2")
        if types.count(ProposalType.remove) > 1:
            raise ProtocolError("an external commit may hold at most one Remove", section="12.2")
        if any(t not in _EXTERNAL_COMMIT_TYPES for t in types):
            raise ProtocolError("an external commit may hold only ExternalInit, Remove and PSKs", section="12.2")
    else:
        if ProposalType.external_init in types:
            raise ProtocolError("ExternalInit in a regular commit", section="12.2")
        if ProposalType.reinit in types and len(types) > 1:
            raise ProtocolError("a ReInit must be the only proposal of its commit", section="12.2")
    if types.count(ProposalType.group_context_extensions) > 1:
        raise ProtocolError("more than one GroupContextExtensions proposal", section="12.2")

    touched: set[int] = set()
    adds_by_key: set[bytes] = set()
    psk_seen: set[bytes] = set()
    for item in items:
        body = item.proposal.body
        if isinstance(body, Update):
            leaf = item.sender.leaf_index
            if item.sender.sender_type != SenderType.member or leaf is None:
                raise ProtocolError("only a member can send an Update", section="12.1.2")
            if leaf == committer_leaf:
                raise ProtocolError("the committer's own Update cannot be committed", section="12.2")
            if leaf in touched:
                raise ProtocolError(f"two Updates or Removes for leaf {leaf}", section="12.2")
            touched.add(leaf)
        elif isinstance(body, Remove):
            if body.removed == committer_leaf:
                raise ProtocolError("a commit cannot remove its committer", section="12.2")
            if body.removed in touched:
                raise ProtocolError(f"two Updates or Removes for leaf {body.removed}", section="12.2")
            touched.add(body.removed)
        elif isinstance(body, Add):
            key = body.key_package.leaf_node.signature_key
            if key in adds_by_key:
                raise ProtocolError("two Adds for the same client (signature key)", section="12.2")
            adds_by_key.add(key)
        elif isinstance(body, PreSharedKey):
            encoded = body.psk.encode()
            if encoded in psk_seen:
                raise ProtocolError("the same PreSharedKeyID twice", section="12.2")
            psk_seen.add(encoded)

    # --- §12.3: apply, in order ----------------------------------------------------------
    gce = next((i.proposal.body for i in items if isinstance(i.proposal.body, GroupContextExtensions)), None)
    extensions = context.extensions if gce is None else tuple(gce.extensions)
    rc = required_capabilities(extensions)
    tree = state.tree.copy()
    result = AppliedProposals(tree, extensions, extensions_changed=gce is not None)

    for position, item in enumerate(items):
        body = item.proposal.body
        if isinstance(body, Update):
            leaf_index = item.sender.leaf_index
            assert leaf_index is not None
            old = tree.leaf_node(leaf_index)
            if old is None:
                raise ProtocolError(f"an Update from blank leaf {leaf_index}", section="12.1.2")
            validate_leaf_in_tree(
                tree,
                body.leaf_node,
                source=LeafNodeSource.update,
                group_id=context.group_id,
                leaf_index=leaf_index,
                replacing=leaf_index,
                clock=None,
                required_capabilities=rc,
                verify_signature=position not in prevalidated,
            )
            _check_replacement(credentials, old, body.leaf_node)
            tree.update_leaf(leaf_index, body.leaf_node)
            result.updated.append((leaf_index, old, body.leaf_node))
    for item in items:
        body = item.proposal.body
        if isinstance(body, Remove):
            old = tree.leaf_node(body.removed)
            if old is None:
                raise ProtocolError(f"Remove of leaf {body.removed}, which is blank", section="12.1.3")
            tree.remove_leaf(body.removed)
            result.removed.append((body.removed, old, item.sender))
    for position, item in enumerate(items):
        body = item.proposal.body
        if isinstance(body, Add):
            kp = body.key_package
            new_leaf = kp.leaf_node
            if tree.leaf_index_of_signature_key(new_leaf.signature_key) is not None:
                raise ProtocolError("an Add for a client already in the group", section="12.2")
            checked = position in prevalidated  # its signatures verified when it was received
            ref = None if checked else verify_key_package(suite, kp, context)
            validate_leaf_in_tree(
                tree,
                new_leaf,
                source=LeafNodeSource.key_package,
                clock=clock,
                required_capabilities=rc,
                verify_signature=not checked,
            )
            if not checked:
                credentials.validate(new_leaf.credential, new_leaf.signature_key)
            index = tree.add_leaf(new_leaf)
            result.added.append((index, new_leaf, kp, item.sender))
            if ref is not None:
                result.key_package_refs[index] = ref
    if gce is not None:
        check_group_context_extensions(tree, extensions, rc, credentials)
    for item in items:
        body = item.proposal.body
        if isinstance(body, PreSharedKey):
            check_psk_id(body.psk, suite.nh)
            result.psks.append(body.psk)
        elif isinstance(body, ExternalInit):
            result.external_init = body
        elif isinstance(body, ReInit):
            if body.version < context.version:
                raise ProtocolError("ReInit to an older protocol version", section="12.1.5")
            result.reinit = body
    result.path_required = not items or any(t in PATH_REQUIRED for t in types)
    return result


def check_group_context_extensions(
    tree: RatchetTree,
    extensions: tuple[Extension, ...],
    rc: RequiredCapabilities | None,
    credentials: CredentialValidator,
) -> None:
    """§12.1.7, §11.1, §13.4: every member after the commit supports the new GroupContext extensions."""
    check_unique_extension_types(extensions, "GroupContext.extensions")
    needed = {e.extension_type for e in extensions if e.extension_type not in _DEFAULT_EXTENSIONS}
    if rc is not None:
        needed.update(t for t in rc.extension_types if t not in _DEFAULT_EXTENSIONS)
    proposals = [] if rc is None else [t for t in rc.proposal_types if t not in _DEFAULT_PROPOSALS]
    ctypes = [] if rc is None else list(rc.credential_types)
    for index, leaf in tree.members():
        capabilities = leaf.capabilities
        missing = (
            [t for t in needed if t not in capabilities.extensions]
            + [t for t in proposals if t not in capabilities.proposals]
            + [t for t in ctypes if t not in capabilities.credentials]
        )
        if missing:
            raise ProtocolError(
                f"member {index} does not support the group's required capabilities {sorted(missing)}",
                section="12.1.7",
            )
    senders = external_senders(extensions)
    if senders is not None:
        for entry in senders.external_senders:
            credentials.validate(entry.credential, entry.signature_key)
