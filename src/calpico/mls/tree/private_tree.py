"""RFC 9420 §4.3 and §7.4 — the private keys one member holds in the ratchet tree.

A member knows the HPKE private key of its own leaf and of some of the parent
nodes above it (the tree invariant, §4.3). `PrivateTree` keeps them by node
index. It is immutable: TreeKEM returns a new one after each change, so a
staged commit never disturbs the state it was staged from.

It serialises to a compact Calpico-specific encoding (not an RFC struct)::

    struct {
        uint32 node;
        opaque private_key<V>;
    } NodePrivateKey;

    struct {
        uint32 leaf_index;
        NodePrivateKey keys<V>;
    } PrivateTreeState;
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from ..codec import U32, Struct, Vec, VLBytes, wire
from ..errors import DecodeError, UsageError, VerificationError
from ..secret import Secret
from .ratchet_tree import RatchetTree
from .treemath import LeafIndex, NodeIndex

__all__ = ["PrivateTree"]


@wire
@dataclass(frozen=True, slots=True)
class _NodePrivateKey(Struct):
    """``struct { uint32 node; opaque private_key<V>; } NodePrivateKey;``"""

    node: U32
    private_key: VLBytes


@wire
@dataclass(frozen=True, slots=True)
class _PrivateTreeState(Struct):
    """``struct { uint32 leaf_index; NodePrivateKey keys<V>; } PrivateTreeState;``"""

    leaf_index: U32
    keys: Vec[_NodePrivateKey]


@dataclass(frozen=True, slots=True, eq=False)
class PrivateTree:
    """The HPKE private keys a member holds: its leaf's and those of parent nodes above it.

    ``keys`` maps node indices to private keys; the leaf's own key is at
    node ``2 * leaf_index``. Build one with `create`, then let
    `calpico.mls.tree.treekem` derive the path keys.
    """

    leaf_index: LeafIndex
    keys: Mapping[NodeIndex, Secret]

    @classmethod
    def create(cls, leaf_index: int, leaf_private_key: bytes) -> PrivateTree:
        """The state of a member that knows only its own leaf key."""
        return cls(LeafIndex(leaf_index), MappingProxyType({NodeIndex(2 * leaf_index): Secret(leaf_private_key)}))

    @property
    def leaf_private_key(self) -> Secret:
        """The private key of the member's own leaf."""
        return self.keys[NodeIndex(2 * self.leaf_index)]

    def private_key(self, node: int) -> Secret | None:
        """The private key held for ``node``, or None."""
        return self.keys.get(NodeIndex(node))

    def with_keys(self, keys: Mapping[int, bytes], *, drop: tuple[int, ...] | frozenset[int] = ()) -> PrivateTree:
        """A copy without the keys of the nodes in ``drop``, then with ``keys`` added or replaced."""
        merged = {x: k for x, k in self.keys.items() if x not in drop}
        merged.update({NodeIndex(x): Secret(k) for x, k in keys.items()})
        return PrivateTree(self.leaf_index, MappingProxyType(merged))

    def with_leaf_key(self, leaf_private_key: bytes) -> PrivateTree:
        """A copy whose leaf key is replaced (our own Update was committed)."""
        return self.with_keys({2 * self.leaf_index: leaf_private_key})

    def pruned(self, tree: RatchetTree) -> PrivateTree:
        """A copy without keys for nodes that are blank in ``tree`` or beyond its width.

        Keys of blank nodes can never be used again: a node on our direct path
        that is set later comes with a fresh path secret.
        """
        width = tree.n_nodes
        stale = frozenset(x for x in self.keys if x >= width or tree.node(x) is None)
        if not stale:
            return self
        if NodeIndex(2 * self.leaf_index) in stale:
            raise UsageError(f"leaf {self.leaf_index} is blank in this tree")
        return self.with_keys({}, drop=stale)

    def verify(self, tree: RatchetTree) -> None:
        """Check that every key we hold is for a non-blank node of ``tree`` with the matching public key.

        Derives each public key, so it costs one scalar multiplication per key.
        Raises `VerificationError`.
        """
        suite = tree.suite
        for x, private_key in sorted(self.keys.items()):
            node = tree.node(x) if x < tree.n_nodes else None
            if node is None:
                raise VerificationError(f"we hold a private key for node {x}, which is blank", section="4.3")
            if suite.hpke_public_key(private_key) != node.encryption_key:
                raise VerificationError(f"our private key for node {x} does not match its public key", section="4.3")

    def encode(self) -> bytes:
        """The compact encoding, for the group state's persistence."""
        keys = tuple(_NodePrivateKey(x, bytes(k)) for x, k in sorted(self.keys.items()))
        return _PrivateTreeState(self.leaf_index, keys).encode()

    @classmethod
    def decode(cls, data: bytes) -> PrivateTree:
        """Inverse of `encode`; raises `DecodeError` for malformed data or a missing leaf key."""
        state = _PrivateTreeState.decode(data)
        keys = {NodeIndex(k.node): Secret(k.private_key) for k in state.keys}
        if NodeIndex(2 * state.leaf_index) not in keys:
            raise DecodeError("PrivateTreeState: no key for the member's own leaf")
        return cls(LeafIndex(state.leaf_index), MappingProxyType(keys))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PrivateTree):
            return NotImplemented
        return self.leaf_index == other.leaf_index and dict(self.keys) == dict(other.keys)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"PrivateTree(leaf_index={self.leaf_index}, nodes={sorted(self.keys)})"
