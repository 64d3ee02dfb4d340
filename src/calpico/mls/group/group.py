"""RFC 9420 §11–§14 — `Group`, the sans-I/O group state machine.

See the package docstring (`calpico.mls.group`) for the theory of operation.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from ..credentials import Credential
from ..crypto import CipherSuite
from ..errors import UsageError
from ..extensions import Extension
from ..framing import Sender, SenderType
from ..group_context import GroupContext, ProtocolVersion
from ..key_package import KeyPackage, KeyPackageBundle
from ..messages import MLSMessage
from ..private_protection import protect_application
from ..proposals import (
    Add,
    GroupContextExtensions,
    PreSharedKey,
    ReInit,
    Remove,
)
from ..psk import PreSharedKeyID
from ..secret import Secret
from ..secret_tree import SecretTree
from ..transcript import confirmation_tag
from ..tree.nodes import Capabilities
from ..tree.ratchet_tree import RatchetTree
from ..welcome import GroupInfo, Welcome
from .commits import new_secret_tree
from .config import GroupConfig, PolicyContext
from .creation import create_epoch
from .events import Member, ProcessedMessage, ProposalReceived, StagedCommit
from .external import create_external_commit
from .group_info import group_info_extensions, sign_group_info
from .join import join_from_welcome
from .proposing import propose, propose_update, psk_id
from .state import CachedProposal, EpochState, NextEpoch, PastEpoch

__all__ = ["CommitResult", "Group", "GroupStatus"]


class GroupStatus:
    """Whether the group can still send (an int on the wire of the persisted state)."""

    ACTIVE = 0
    REMOVED = 1
    REINIT = 2


@dataclass(frozen=True, slots=True)
class CommitResult:
    """What `Group.commit` returns: send ``commit`` (and ``welcome`` to the new members), then merge ``staged``."""

    commit: MLSMessage
    welcome: MLSMessage | None
    group_info: MLSMessage | None
    staged: StagedCommit


def _as_message(message: MLSMessage | bytes) -> MLSMessage:
    return message if isinstance(message, MLSMessage) else MLSMessage.decode(bytes(message))


class Group:
    """One member's view of one MLS group (RFC 9420 §11–§14).

    Build one with `create`, `join` (Welcome) or `join_external`; reload one
    with `from_bytes` / `from_parts`. The object is not thread-safe.
    """

    __slots__ = (
        "_config",
        "_epoch",
        "_epoch_bytes",
        "_own_commit",
        "_own_updates",
        "_past",
        "_proposals",
        "_reinit",
        "_resumption",
        "_secret_tree",
        "_signature_key",
        "_status",
    )

    def __init__(
        self,
        epoch: EpochState,
        secret_tree: SecretTree,
        signature_private_key: bytes,
        config: GroupConfig,
    ) -> None:
        """Low-level: use `create`, `join`, `join_external` or `from_bytes`."""
        self._config = config
        self._epoch = epoch
        self._secret_tree = secret_tree
        self._signature_key = Secret(signature_private_key)
        self._past: list[PastEpoch] = []
        self._resumption: dict[int, Secret] = {epoch.epoch: epoch.secrets.resumption_psk}
        self._proposals: dict[bytes, CachedProposal] = {}
        self._own_updates: dict[bytes, Secret] = {}
        self._own_commit: tuple[bytes, StagedCommit] | None = None
        self._status = GroupStatus.ACTIVE
        self._reinit: ReInit | None = None
        self._epoch_bytes: bytes | None = None

    # --- construction (§11, §12.4.3.1, §12.4.3.2) ----------------------------------------

    @classmethod
    def create(
        cls,
        cipher_suite: int,
        credential: Credential,
        signature_private_key: bytes,
        *,
        group_id: bytes | None = None,
        extensions: Sequence[Extension] = (),
        capabilities: Capabilities | None = None,
        leaf_extensions: tuple[Extension, ...] = (),
        config: GroupConfig | None = None,
    ) -> Group:
        """A new one-member group at epoch 0 (§11).

        ``group_id`` defaults to Nh random bytes. ``extensions`` are the
        GroupContext extensions; every non-default one must be in
        ``capabilities.extensions``. Raises `UnsupportedError` for an unknown
        suite and `ProtocolError` if we do not support the extensions.
        """
        config = config or GroupConfig()
        epoch, encryption_secret = create_epoch(
            cipher_suite,
            credential,
            signature_private_key,
            group_id=group_id,
            extensions=extensions,
            capabilities=capabilities,
            leaf_extensions=leaf_extensions,
            config=config,
        )
        return cls(epoch, new_secret_tree(epoch, encryption_secret, config), signature_private_key, config)

    @classmethod
    def join(
        cls,
        welcome: MLSMessage | Welcome | bytes,
        key_package_bundle: KeyPackageBundle,
        signature_private_key: bytes,
        *,
        ratchet_tree: bytes | None = None,
        config: GroupConfig | None = None,
    ) -> Group:
        """Join from a Welcome with the KeyPackage it was made for (§12.4.3.1).

        ``ratchet_tree`` is the serialized tree when the GroupInfo does not
        carry it. Raises `ProtocolError` if the Welcome is not for us, and the
        typed error of any failed check (signature, tree, confirmation tag).
        """
        config = config or GroupConfig()
        if not isinstance(welcome, Welcome):
            body = _as_message(welcome).body
            if not isinstance(body, Welcome):
                raise UsageError(f"expected a Welcome, got a {type(body).__name__}")
            welcome = body
        joined = join_from_welcome(welcome, key_package_bundle, ratchet_tree=ratchet_tree, config=config)
        secret_tree = new_secret_tree(joined.epoch, joined.schedule.encryption_secret, config)
        return cls(joined.epoch, secret_tree, signature_private_key, config)

    @classmethod
    def join_external(
        cls,
        group_info: MLSMessage | GroupInfo | bytes,
        signature_private_key: bytes,
        credential: Credential,
        *,
        ratchet_tree: bytes | None = None,
        capabilities: Capabilities | None = None,
        leaf_extensions: tuple[Extension, ...] = (),
        resync_leaf: int | None = None,
        psks: Sequence[PreSharedKeyID] = (),
        authenticated_data: bytes = b"",
        config: GroupConfig | None = None,
    ) -> tuple[Group, MLSMessage]:
        """Join by an external commit (§12.4.3.2): returns our group state and the commit to send.

        The state is valid only once the group accepted the commit (the
        server ordered it); on a conflict, drop both and retry with a fresh
        GroupInfo. ``resync_leaf`` removes our own old leaf in the same
        commit. Raises `ProtocolError` if the GroupInfo has no external_pub.
        """
        config = config or GroupConfig()
        if not isinstance(group_info, GroupInfo):
            body = _as_message(group_info).body
            if not isinstance(body, GroupInfo):
                raise UsageError(f"expected a GroupInfo, got a {type(body).__name__}")
            group_info = body
        external = create_external_commit(
            group_info,
            signature_private_key=signature_private_key,
            credential=credential,
            capabilities=capabilities,
            leaf_extensions=leaf_extensions,
            ratchet_tree=ratchet_tree,
            resync_leaf=resync_leaf,
            psks=psks,
            authenticated_data=authenticated_data,
            config=config,
        )
        secret_tree = new_secret_tree(external.epoch, external.schedule.encryption_secret, config)
        return cls(external.epoch, secret_tree, signature_private_key, config), MLSMessage.of(external.message)

    # --- reading the state ----------------------------------------------------------

    @property
    def config(self) -> GroupConfig:
        """The hooks and settings in use."""
        return self._config

    @property
    def cipher_suite(self) -> CipherSuite:
        """The group's cipher suite."""
        return self._epoch.suite

    @property
    def group_id(self) -> bytes:
        """The group id."""
        return self._epoch.context.group_id

    @property
    def epoch(self) -> int:
        """The current epoch number."""
        return self._epoch.context.epoch

    @property
    def context(self) -> GroupContext:
        """The current GroupContext (§8.1)."""
        return self._epoch.context

    @property
    def extensions(self) -> tuple[Extension, ...]:
        """The GroupContext extensions (where Calpico keeps room policy)."""
        return self._epoch.context.extensions

    @property
    def own_leaf_index(self) -> int:
        """Our leaf index."""
        return self._epoch.own_leaf

    @property
    def is_active(self) -> bool:
        """False once a merged commit removed us, or committed a ReInit."""
        return self._status == GroupStatus.ACTIVE

    @property
    def status(self) -> int:
        """A `GroupStatus` value."""
        return self._status

    @property
    def pending_reinit(self) -> ReInit | None:
        """The ReInit a merged commit covered, if any (§11.2)."""
        return self._reinit

    @property
    def epoch_authenticator(self) -> bytes:
        """The epoch authenticator (§8.7): equal for all members of the epoch."""
        return bytes(self._epoch.secrets.epoch_authenticator)

    def tree_hash(self) -> bytes:
        """The ratchet tree's root hash (§7.8), the GroupContext's tree_hash."""
        return self._epoch.context.tree_hash

    @property
    def ratchet_tree(self) -> RatchetTree:
        """The current ratchet tree (read-only use; copy it before changing anything)."""
        return self._epoch.tree

    @property
    def member_count(self) -> int:
        """How many members the group has."""
        return self._epoch.tree.member_count

    def members(self) -> Iterator[Member]:
        """Every member, by leaf index, with credential and keys."""
        for index, leaf in self._epoch.tree.members():
            yield Member.of(index, leaf)

    def member(self, leaf_index: int) -> Member | None:
        """The member at ``leaf_index``, or None for a blank leaf."""
        leaf = self._epoch.tree.leaf_node(leaf_index)
        return None if leaf is None else Member.of(leaf_index, leaf)

    def export_secret(self, label: bytes, context: bytes, length: int) -> bytes:
        """MLS-Exporter(label, context, length) of the current epoch (§8.5)."""
        return bytes(self._epoch.secrets.exporter(label, context, length))

    def resumption_psk(self, epoch: int | None = None) -> bytes | None:
        """The resumption PSK of ``epoch`` (default: the current one), if still kept (§8.6)."""
        value = self._resumption.get(self.epoch if epoch is None else epoch)
        return None if value is None else bytes(value)

    def export_ratchet_tree(self) -> bytes:
        """The serialized ratchet tree (§12.4.3.3), for joiners that get it out of band."""
        return self._epoch.tree.to_bytes()

    def group_info(self, *, ratchet_tree: bool = True, external_pub: bool = True) -> MLSMessage:
        """A signed GroupInfo for the current epoch (§12.4.3), e.g. for external joins."""
        state = self._epoch
        extensions = group_info_extensions(state, ratchet_tree=ratchet_tree, external_pub=external_pub)
        tag = confirmation_tag(state.suite, state.secrets.confirmation_key, state.context.confirmed_transcript_hash)
        return MLSMessage.of(sign_group_info(state, extensions, tag, self._signature_key))

    @property
    def pending_proposals(self) -> tuple[ProposalReceived, ...]:
        """The proposals cached in this epoch, by reference."""
        epoch = self.epoch
        return tuple(
            ProposalReceived(p.sender, p.proposal, p.ref, epoch, self._member_of(p.sender))
            for p in self._proposals.values()
        )

    def _member_of(self, sender: Sender) -> Member | None:
        if sender.sender_type != SenderType.member or sender.leaf_index is None:
            return None
        return self.member(sender.leaf_index)

    def _require_active(self) -> None:
        if self._status != GroupStatus.ACTIVE:
            why = "we were removed" if self._status == GroupStatus.REMOVED else "it is being reinitialised"
            raise UsageError(f"the group cannot send: {why}")

    def _policy_context(self) -> PolicyContext:
        context = self._epoch.context
        return PolicyContext(context.group_id, context.epoch, self._epoch.tree, context.extensions, context.extensions)

    # --- proposals (§12.1) ------------------------------------------------------------------

    def propose_add(self, key_package: KeyPackage | MLSMessage, *, authenticated_data: bytes = b"") -> MLSMessage:
        """Propose adding the owner of ``key_package`` (§12.1.1)."""
        if isinstance(key_package, MLSMessage):
            key_package = _key_package_of(key_package)
        return propose(self, Add(key_package), authenticated_data)

    def propose_remove(self, leaf_index: int, *, authenticated_data: bytes = b"") -> MLSMessage:
        """Propose removing the member at ``leaf_index`` (§12.1.3)."""
        return propose(self, Remove(leaf_index), authenticated_data)

    def propose_leave(self, *, authenticated_data: bytes = b"") -> MLSMessage:
        """Propose our own removal; another member commits it (Calpico's "leave")."""
        return propose(self, Remove(self.own_leaf_index), authenticated_data)

    def propose_update(
        self,
        *,
        credential: Credential | None = None,
        leaf_extensions: tuple[Extension, ...] | None = None,
        authenticated_data: bytes = b"",
    ) -> MLSMessage:
        """Propose a fresh leaf for ourselves (§12.1.2), optionally with a new credential or extensions."""
        return propose_update(self, credential, leaf_extensions, authenticated_data)

    def propose_group_context_extensions(
        self, extensions: Sequence[Extension], *, authenticated_data: bytes = b""
    ) -> MLSMessage:
        """Propose replacing the GroupContext extensions wholesale (§12.1.7)."""
        return propose(self, GroupContextExtensions(tuple(extensions)), authenticated_data)

    def propose_psk(self, psk: PreSharedKeyID | bytes, *, authenticated_data: bytes = b"") -> MLSMessage:
        """Propose injecting a PSK (§12.1.4): a PreSharedKeyID, or an external psk_id (a fresh nonce is drawn)."""
        return propose(self, PreSharedKey(psk_id(self, psk)), authenticated_data)

    def propose_reinit(
        self,
        *,
        group_id: bytes,
        cipher_suite: int,
        extensions: Sequence[Extension] = (),
        authenticated_data: bytes = b"",
    ) -> MLSMessage:
        """Propose reinitialising the group with new parameters (§12.1.5)."""
        return propose(
            self, ReInit(group_id, ProtocolVersion.mls10, cipher_suite, tuple(extensions)), authenticated_data
        )

    # --- commits (§12.4) ----------------------------------------------------------------------

    def commit(
        self,
        *,
        add: Iterable[KeyPackage | MLSMessage] = (),
        remove: Iterable[int] = (),
        extensions: Sequence[Extension] | None = None,
        psks: Iterable[PreSharedKeyID | bytes] = (),
        include_pending: bool = True,
        update: bool = False,
        credential: Credential | None = None,
        reinit: ReInit | None = None,
        with_group_info: bool = False,
        authenticated_data: bytes = b"",
    ) -> CommitResult:
        """Create a Commit (§12.4.1); it is STAGED: merge it once the server accepted it.

        Covers, by reference, the proposals cached this epoch
        (``include_pending``; conflicting ones are left out: our own Updates,
        removals of us, a second Update or Remove for a leaf, with Removes
        preferred) and, by value, the Adds, Removes, extension change
        (GroupContextExtensions) and PSKs given here. ``update`` refreshes
        our leaf and path even when no proposal requires it (with
        ``credential``, under a new credential). ``reinit`` commits a ReInit
        alone (§12.2: nothing else may join it). Returns the commit message,
        a Welcome when members are added (the tree in the GroupInfo unless
        configured otherwise), a GroupInfo when asked (or with a Welcome), and
        the `StagedCommit`. Raises `ProtocolError` for an invalid proposal
        list or a policy veto, `UsageError` when the group cannot send.
        """
        from .committing import commit_group

        return commit_group(
            self,
            add=add,
            remove=remove,
            extensions=extensions,
            psks=psks,
            include_pending=include_pending,
            update=update,
            credential=credential,
            reinit=reinit,
            with_group_info=with_group_info,
            authenticated_data=authenticated_data,
        )

    def merge(self, staged: StagedCommit) -> None:
        """Install a staged commit: the group moves to its epoch (or ends, if it removed us).

        For our own commit, call this only once the server accepted it. Raises
        `UsageError` if the commit was staged from another state (a commit
        was merged since, or it belongs to another group).
        """
        nxt: NextEpoch = staged._next
        if nxt.base is not self._epoch:
            raise UsageError("this commit was staged from another state of the group")
        old = self._epoch
        self._past.append(PastEpoch(old.context, old.secrets.sender_data_secret, self._secret_tree, dict(nxt.replaced)))
        del self._past[: max(0, len(self._past) - self._config.max_past_epochs)]
        self._proposals = {}
        self._own_updates = {}
        self._own_commit = None
        self._epoch_bytes = None
        if nxt.epoch is None or nxt.secret_tree is None:
            self._status = GroupStatus.REMOVED
            return
        self._epoch = nxt.epoch
        self._secret_tree = nxt.secret_tree
        self._resumption[nxt.epoch.epoch] = nxt.epoch.secrets.resumption_psk
        for epoch in sorted(self._resumption)[: max(0, len(self._resumption) - self._config.max_resumption_psks)]:
            del self._resumption[epoch]
        if nxt.reinit is not None:
            self._status = GroupStatus.REINIT
            self._reinit = nxt.reinit

    def discard(self, staged: StagedCommit) -> None:
        """Forget a staged commit (for our own: the server refused it, e.g. a 409 conflict)."""
        if self._own_commit is not None and self._own_commit[1] is staged:
            self._own_commit = None

    def _resumption_lookup(self, group_id: bytes, epoch: int) -> bytes | None:
        if group_id == self.group_id:
            return self._resumption.get(epoch)
        return self._config.resumption_psks.get((group_id, epoch))

    # --- application messages (§6.3, §15.3) ------------------------------------------------

    def protect(self, data: bytes, *, authenticated_data: bytes = b"") -> MLSMessage:
        """Encrypt application data as a PrivateMessage of the current epoch (§6.3)."""
        self._require_active()
        state = self._epoch
        message = protect_application(
            state.suite,
            data,
            leaf_index=state.own_leaf,
            signature_private_key=self._signature_key,
            context=state.context,
            sender_data_secret=state.secrets.sender_data_secret,
            secret_tree=self._secret_tree,
            authenticated_data=authenticated_data,
            padding=self._config.padding,
            rng=self._config.random,
        )
        return MLSMessage.of(message)

    # --- processing (§6, §12) -----------------------------------------------------------------

    def process(self, message: MLSMessage | bytes) -> ProcessedMessage:
        """Verify and interpret one PublicMessage or PrivateMessage of this group.

        Returns an `ApplicationMessage`, a `ProposalReceived` (the proposal
        is now cached) or a `StagedCommit` (merge it to apply it). Application
        messages of the last ``max_past_epochs`` epochs are still accepted.
        A message that fails any check raises a typed error and changes
        nothing. Raises `DecodeError` for bytes that do not parse,
        `ProtocolError` (wrong group or epoch, a broken rule),
        `VerificationError`, `DecryptionError`; `UsageError` for a Welcome,
        GroupInfo or KeyPackage, or once the group is inactive.
        """
        from .receive import process_message

        return process_message(self, _as_message(message))

    # --- persistence ------------------------------------------------------------------------

    def to_bytes(self) -> bytes:
        """The whole state (epoch part and message part); see `calpico.mls.group.persistence`."""
        from .persistence import group_to_bytes

        return group_to_bytes(self)

    def epoch_state_bytes(self) -> bytes:
        """The large, epoch-stable part of the state: changes only when a commit is merged."""
        from .persistence import epoch_to_bytes

        if self._epoch_bytes is None:
            self._epoch_bytes = epoch_to_bytes(self)
        return self._epoch_bytes

    def message_state_bytes(self) -> bytes:
        """The small part that changes with every message (ratchets, cached proposals)."""
        from .persistence import messages_to_bytes

        return messages_to_bytes(self)

    @classmethod
    def from_bytes(cls, data: bytes, *, config: GroupConfig | None = None) -> Group:
        """Load `to_bytes` output. Raises `DecodeError` / `UnsupportedError`."""
        from .persistence import group_from_bytes

        return group_from_bytes(data, config or GroupConfig())

    @classmethod
    def from_parts(cls, epoch_state: bytes, message_state: bytes, *, config: GroupConfig | None = None) -> Group:
        """Load the two parts saved separately; raises `DecodeError` if they do not belong together."""
        from .persistence import group_from_parts

        return group_from_parts(epoch_state, message_state, config or GroupConfig())


def _key_package_of(message: MLSMessage) -> KeyPackage:
    body = message.body
    if not isinstance(body, KeyPackage):
        raise UsageError(f"expected a KeyPackage, got a {type(body).__name__}")
    return body
