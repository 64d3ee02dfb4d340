"""RFC 9420 §7.4–§7.6 — TreeKEM: UpdatePaths, path secrets and the commit secret.

Theory of operation
-------------------
A committer refreshes its leaf and its filtered direct path (§4.1.2) with a
chain of path secrets::

    path_secret[0]   = random
    path_secret[n+1] = DeriveSecret(path_secret[n], "path")
    node key pair    = DeriveKeyPair(DeriveSecret(path_secret[n], "node"))
    commit_secret    = DeriveSecret(path_secret[last], "path")

and encrypts each path secret to the resolution of the copath child of its
node, leaves added by the same commit excluded (§7.6). The HPKE context is
the *provisional* GroupContext, whose tree hash is that of the tree after
the path is merged, so both sides work in two steps:

=========================================  =========================================
committer                                  receiver
=========================================  =========================================
``prepared = create_update_path(tree,..)`` ``merge_update_path(tree, sender, path,..)``
  (tree now holds the new path)              (checks the leaf, keys, parent hashes)
build the provisional GroupContext from    build the provisional GroupContext from
``tree.tree_hash()``                       ``tree.tree_hash()``
``path = prepared.encrypt(context, ..)``   ``received = decrypt_update_path(tree, ..)``
=========================================  =========================================

Both sides then hold a ``commit_secret`` and a new `PrivateTree`. A joiner
gets the path secret of the lowest common ancestor of its leaf and the
committer's in the Welcome (`PreparedPath.path_secret_for`) and derives its
keys with `private_tree_for_joiner`.

The tree passed in is changed in place: stage commits on `RatchetTree.copy`.
Randomness is injectable (``rng``); without it, path and leaf secrets come
from `os.urandom` and HPKE uses the native implementation.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from os import urandom

from ..commit import HPKECiphertext, UpdatePath, UpdatePathNode
from ..credentials import Credential
from ..crypto import CipherSuite, KeyPair, Rng
from ..errors import DecryptionError, ProtocolError, UsageError, VerificationError
from ..extensions import Extension, RequiredCapabilities
from ..secret import Secret
from .hashes import parent_hash
from .nodes import Capabilities, LeafNode, LeafNodeSource, LeafNodeTBS, ParentNode
from .private_tree import PrivateTree
from .ratchet_tree import RatchetTree
from .treemath import LeafIndex, NodeIndex, common_ancestor
from .validation import validate_leaf_in_tree

__all__ = [
    "LeafNodeParams",
    "PreparedPath",
    "ReceivedPath",
    "create_update_path",
    "decrypt_update_path",
    "derive_node_key_pair",
    "merge_update_path",
    "next_path_secret",
    "private_tree_for_joiner",
]

_LABEL = b"UpdatePathNode"


def derive_node_key_pair(suite: CipherSuite, path_secret: bytes) -> KeyPair:
    """``DeriveKeyPair(DeriveSecret(path_secret, "node"))`` (§7.4)."""
    return suite.derive_key_pair(suite.derive_secret(path_secret, b"node"))


def next_path_secret(suite: CipherSuite, path_secret: bytes) -> Secret:
    """``DeriveSecret(path_secret, "path")``: the next node's path secret, or the commit secret (§7.4, §12.4.1)."""
    return suite.derive_secret(path_secret, b"path")


@dataclass(frozen=True, slots=True)
class LeafNodeParams:
    """What the committer's new LeafNode carries besides its keys and parent hash (§7.5 step 4)."""

    signature_key: bytes
    credential: Credential
    capabilities: Capabilities
    extensions: tuple[Extension, ...] = ()

    @classmethod
    def of(cls, leaf: LeafNode) -> LeafNodeParams:
        """Keep everything of ``leaf`` but its keys and source."""
        return cls(leaf.signature_key, leaf.credential, leaf.capabilities, leaf.extensions)


def _parent_nodes(
    tree: RatchetTree, path: Sequence[tuple[NodeIndex, NodeIndex]], public_keys: Sequence[bytes]
) -> tuple[list[ParentNode], bytes]:
    """The new ParentNodes of a filtered direct path and the leaf's parent_hash (§7.9).

    Computed from the root down: each node's parent_hash is the parent hash
    of the next node up, over that node's copath child, whose tree hash the
    path does not change (and its unmerged leaves are cleared, so the
    original sibling tree hash is the current one).
    """
    suite = tree.suite
    nodes: list[ParentNode] = []
    above = b""
    for (_, sibling), key in zip(reversed(path), reversed(public_keys), strict=True):
        nodes.append(ParentNode(key, above, ()))
        above = parent_hash(suite, key, above, tree.node_tree_hash(sibling))
    nodes.reverse()
    return nodes, above


def _set_path(
    tree: RatchetTree,
    leaf_index: int,
    leaf: LeafNode,
    path: Sequence[tuple[NodeIndex, NodeIndex]],
    nodes: list[ParentNode],
) -> None:
    tree.blank_direct_path(leaf_index)
    for (x, _), node in zip(path, nodes, strict=True):
        tree.set_parent_node(x, node)
    tree.set_leaf(leaf_index, leaf)


# --- the committer (§7.4, §7.5, §12.4.1) ----------------------------------------------


@dataclass(frozen=True, slots=True, eq=False)
class PreparedPath:
    """A committer's new path, merged into its tree and waiting for the provisional GroupContext.

    ``path_secrets[i]`` belongs to ``filtered_path[i]`` (node, copath child).
    ``private_tree`` holds the committer's new leaf and path keys.
    """

    tree: RatchetTree
    leaf_index: LeafIndex
    leaf_node: LeafNode
    filtered_path: tuple[tuple[NodeIndex, NodeIndex], ...]
    public_keys: tuple[bytes, ...]
    path_secrets: tuple[Secret, ...]
    commit_secret: Secret
    private_tree: PrivateTree

    def encrypt(self, group_context: bytes, *, exclude: Collection[int] = (), rng: Rng | None = None) -> UpdatePath:
        """The UpdatePath: each path secret encrypted to its copath child's resolution (§7.6).

        ``group_context`` is the encoded provisional GroupContext (§12.4.1),
        whose tree hash is ``self.tree.tree_hash()``; ``exclude`` lists the
        leaf indices added by this commit. Raises `ProtocolError` if a
        public key in the tree is not valid for the suite.
        """
        tree = self.tree
        excluded = {2 * index for index in exclude}
        # Every ciphertext of the path shares one EncryptContext: seal them in one batch.
        recipients: list[tuple[bytes, bytes]] = []
        counts: list[int] = []
        for (_, sibling), secret in zip(self.filtered_path, self.path_secrets, strict=True):
            count = 0
            for r in tree.resolution(sibling):
                if r not in excluded:
                    target = tree.node(r)
                    assert target is not None  # a resolution holds no blank node
                    recipients.append((target.encryption_key, secret))
                    count += 1
            counts.append(count)
        sealed = iter(tree.suite.encrypt_with_label_many(_LABEL, group_context, recipients, rng))
        nodes = tuple(
            UpdatePathNode(key, tuple(HPKECiphertext(*next(sealed)) for _ in range(count)))
            for key, count in zip(self.public_keys, counts, strict=True)
        )
        return UpdatePath(self.leaf_node, nodes)

    def path_secret_for(self, joiner: int) -> Secret:
        """The path secret of the lowest common ancestor of ``joiner`` and the committer (GroupSecrets, §12.4.3.1).

        Raises `UsageError` if that node is not on the filtered direct path
        (the joiner's leaf is blank).
        """
        ancestor = common_ancestor(NodeIndex(2 * joiner), NodeIndex(2 * self.leaf_index))
        for (x, _), secret in zip(self.filtered_path, self.path_secrets, strict=True):
            if x == ancestor:
                return secret
        raise UsageError(f"node {ancestor} above leaf {joiner} is not on the committer's filtered direct path")


def create_update_path(
    tree: RatchetTree,
    leaf_index: int,
    *,
    group_id: bytes,
    signature_private_key: bytes,
    leaf_params: LeafNodeParams | None = None,
    rng: Rng | None = None,
) -> PreparedPath:
    """Refresh the committer's leaf and filtered direct path in ``tree`` (§7.4, §7.5).

    Draws a leaf secret and ``path_secret[0]`` from ``rng`` (default
    `os.urandom`), derives the path's key pairs, sets the parent hashes,
    and signs a new LeafNode (source ``commit``) with ``signature_private_key``
    over ``group_id`` and ``leaf_index``. ``leaf_params`` default to those of
    the current leaf, and are required when the leaf is blank (an external
    commit's new leaf). Returns the `PreparedPath`; call its ``encrypt``
    with the provisional GroupContext. Raises `ProtocolError` if the new
    signature key belongs to another member, `UsageError` on misuse.
    """
    suite = tree.suite
    old = tree.leaf_node(leaf_index)
    if leaf_params is None:
        if old is None:
            raise UsageError(f"leaf {leaf_index} is blank: give leaf_params for the new leaf")
        leaf_params = LeafNodeParams.of(old)
    random = rng if rng is not None else urandom
    path = tree.filtered_path(leaf_index)

    leaf_keys = derive_node_key_pair(suite, random(suite.nh))
    secrets: list[Secret] = []
    secret = Secret(random(suite.nh))
    for _ in path:
        secrets.append(secret)
        secret = next_path_secret(suite, secret)
    node_keys = [derive_node_key_pair(suite, s) for s in secrets]
    public_keys = [k.public_key for k in node_keys]
    new_keys = [leaf_keys.public_key, *public_keys]
    if len(set(new_keys)) != len(new_keys) or any(tree.node_index_of_encryption_key(k) is not None for k in new_keys):
        raise UsageError("the random source gave a key that is already in use")

    parents, leaf_parent_hash = _parent_nodes(tree, path, public_keys)
    tbs = LeafNodeTBS(
        leaf_keys.public_key,
        leaf_params.signature_key,
        leaf_params.credential,
        leaf_params.capabilities,
        LeafNodeSource.commit,
        None,
        leaf_parent_hash,
        leaf_params.extensions,
        group_id,
        leaf_index,
    )
    leaf = tbs.with_signature(suite.sign_with_label(signature_private_key, b"LeafNodeTBS", tbs.encode()))
    tree.check_keys_unused(leaf, 2 * leaf_index)
    _set_path(tree, leaf_index, leaf, path, parents)

    keys: dict[int, bytes] = {2 * leaf_index: leaf_keys.private_key}
    keys.update({x: k.private_key for (x, _), k in zip(path, node_keys, strict=True)})
    private_tree = PrivateTree.create(leaf_index, leaf_keys.private_key).with_keys(keys)
    return PreparedPath(
        tree,
        LeafIndex(leaf_index),
        leaf,
        tuple(path),
        tuple(public_keys),
        tuple(secrets),
        secret,
        private_tree,
    )


# --- a receiver (§7.5, §12.4.2) ----------------------------------------------------------


def merge_update_path(
    tree: RatchetTree,
    sender: int,
    path: UpdatePath,
    *,
    group_id: bytes,
    exclude: Collection[int] = (),
    required_capabilities: RequiredCapabilities | None = None,
) -> None:
    """Validate ``path`` from leaf ``sender`` and merge it into ``tree`` (§7.5, §12.4.2).

    ``tree`` is the tree after the commit's proposals; ``exclude`` lists the
    leaves those proposals added. Checks, before changing anything: the new
    LeafNode (§7.3: source ``commit``, signature over ``group_id`` and
    ``sender``, capabilities), one UpdatePathNode per node of the filtered
    direct path with one ciphertext per resolution entry (§7.6), public keys
    new to the tree (§12.4.2), and the leaf's parent_hash against the chain
    recomputed from the path (§7.9.2). Then sets the leaf and the path nodes
    with empty unmerged_leaves. Raises `ProtocolError` or `VerificationError`.
    """
    leaf = path.leaf_node
    validate_leaf_in_tree(
        tree,
        leaf,
        source=LeafNodeSource.commit,
        group_id=group_id,
        leaf_index=sender,
        replacing=sender if tree.leaf_node(sender) is not None else None,
        clock=None,
        required_capabilities=required_capabilities,
    )
    filtered = tree.filtered_path(sender)
    if len(path.nodes) != len(filtered):
        raise ProtocolError(
            f"UpdatePath has {len(path.nodes)} nodes, the filtered direct path has {len(filtered)}", section="7.6"
        )
    excluded = {2 * index for index in exclude}
    for (x, sibling), node in zip(filtered, path.nodes, strict=True):
        expected = sum(1 for r in tree.resolution(sibling) if r not in excluded)
        if len(node.encrypted_path_secret) != expected:
            raise ProtocolError(
                f"UpdatePath node for {x} has {len(node.encrypted_path_secret)} ciphertexts, "
                f"the resolution of {sibling} has {expected} members",
                section="7.6",
            )
    public_keys = [node.encryption_key for node in path.nodes]
    new_keys = [leaf.encryption_key, *public_keys]
    if len(set(new_keys)) != len(new_keys):
        raise ProtocolError("UpdatePath repeats a public key", section="12.4.2")
    for key in public_keys:
        holder = tree.node_index_of_encryption_key(key)
        if holder is not None:
            raise ProtocolError(f"UpdatePath key already used by node {holder}", section="12.4.2")
    parents, leaf_parent_hash = _parent_nodes(tree, filtered, public_keys)
    if leaf.parent_hash != leaf_parent_hash:
        raise VerificationError("the committer's parent_hash does not match its UpdatePath", section="7.9.2")
    _set_path(tree, sender, leaf, filtered, parents)


@dataclass(frozen=True, slots=True, eq=False)
class ReceivedPath:
    """What a receiver learns from an UpdatePath.

    ``path_secret`` was decrypted for ``node`` (the lowest common ancestor of
    the sender and us); ``private_tree`` is our state with the new keys.
    """

    node: NodeIndex
    path_secret: Secret
    commit_secret: Secret
    private_tree: PrivateTree


def decrypt_update_path(
    tree: RatchetTree,
    private_tree: PrivateTree,
    sender: int,
    path: UpdatePath,
    group_context: bytes,
    *,
    exclude: Collection[int] = (),
) -> ReceivedPath:
    """Decrypt our path secret from ``path`` and derive the keys above it (§7.5).

    ``tree`` must already hold the merged path (`merge_update_path`);
    ``group_context`` is the encoded provisional GroupContext and ``exclude``
    the leaves added by the commit. Raises `DecryptionError` if we hold no
    key for the resolution or the ciphertext does not open, and
    `VerificationError` if a derived public key differs from the path's.
    """
    suite = tree.suite
    me = private_tree.leaf_index
    if me == sender:
        raise UsageError("a committer does not decrypt its own UpdatePath: use its PreparedPath")
    filtered = tree.filtered_path(sender)
    if len(path.nodes) != len(filtered):
        raise ProtocolError("UpdatePath does not match the sender's filtered direct path", section="7.6")
    ancestor = common_ancestor(NodeIndex(2 * me), NodeIndex(2 * sender))
    position = next((i for i, (x, _) in enumerate(filtered) if x == ancestor), None)
    if position is None:
        raise UsageError(f"leaf {me} is not below the sender's filtered direct path")
    excluded = {2 * index for index in exclude}
    resolution = [r for r in tree.resolution(filtered[position][1]) if r not in excluded]
    ciphertexts = path.nodes[position].encrypted_path_secret
    found = next(((j, k) for j, r in enumerate(resolution) if (k := private_tree.private_key(r)) is not None), None)
    if found is None:
        raise DecryptionError(f"no private key for the resolution of node {filtered[position][1]}", section="7.5")
    j, key = found
    if j >= len(ciphertexts):
        raise ProtocolError("UpdatePath has too few ciphertexts for the resolution", section="7.6")
    ct = ciphertexts[j]
    secret = Secret(suite.decrypt_with_label(key, _LABEL, group_context, ct.kem_output, ct.ciphertext))
    decrypted = secret
    keys: dict[int, bytes] = {}
    for (x, _), node in zip(filtered[position:], path.nodes[position:], strict=True):
        pair = derive_node_key_pair(suite, secret)
        if pair.public_key != node.encryption_key:
            raise VerificationError(f"the path secret for node {x} does not give its public key", section="7.5")
        keys[x] = pair.private_key
        secret = next_path_secret(suite, secret)
    # Our keys at and above the common ancestor are replaced or now blank.
    replaced = frozenset(x for x in private_tree.keys if x != 2 * me and _is_at_or_above(x, ancestor))
    updated = private_tree.with_keys(keys, drop=replaced).pruned(tree)
    return ReceivedPath(NodeIndex(ancestor), decrypted, secret, updated)


def _is_at_or_above(x: int, node: int) -> bool:
    """Whether ``x`` is ``node`` or one of its ancestors."""
    kx = (x ^ (x + 1)).bit_length() - 1
    kn = (node ^ (node + 1)).bit_length() - 1
    return kx >= kn and (x >> (kx + 1)) == (node >> (kx + 1))


# --- a joiner (§12.4.3.1) ------------------------------------------------------------


def private_tree_for_joiner(
    tree: RatchetTree,
    leaf_index: int,
    leaf_private_key: bytes,
    *,
    committer: int | None = None,
    path_secret: bytes | None = None,
) -> PrivateTree:
    """A new member's private keys: its leaf key, and those derived from the Welcome's path secret.

    ``path_secret`` (GroupSecrets.path_secret) belongs to the lowest common
    ancestor of ``leaf_index`` and ``committer`` (GroupInfo.signer); the
    keys of the committer's filtered direct path above it follow by
    DeriveSecret(., "path"). Raises `VerificationError` if a derived public
    key does not match the tree, `UsageError` if ``leaf_private_key`` does not
    belong to the leaf.
    """
    suite = tree.suite
    leaf = tree.leaf_node(leaf_index)
    if leaf is None or suite.hpke_public_key(leaf_private_key) != leaf.encryption_key:
        raise UsageError(f"the private key does not belong to leaf {leaf_index}")
    private_tree = PrivateTree.create(leaf_index, leaf_private_key)
    if path_secret is None:
        return private_tree
    if committer is None:
        raise UsageError("a path secret needs the committer's leaf index")
    ancestor = common_ancestor(NodeIndex(2 * leaf_index), NodeIndex(2 * committer))
    above = [x for x in tree.filtered_direct_path(committer) if _is_at_or_above(x, ancestor)]
    if not above or above[0] != ancestor:
        raise ProtocolError(f"node {ancestor} is not on the committer's filtered direct path", section="12.4.3.1")
    keys: dict[int, bytes] = {}
    secret = Secret(path_secret)
    for x in above:
        node = tree.node(x)
        pair = derive_node_key_pair(suite, secret)
        if node is None or pair.public_key != node.encryption_key:
            raise VerificationError(f"the path secret does not give node {x}'s public key", section="12.4.3.1")
        keys[x] = pair.private_key
        secret = next_path_secret(suite, secret)
    return private_tree.with_keys(keys)
