"""RFC 9420 §12.4 and §7.6 — the Commit, and the UpdatePath it may carry.

A `Commit` applies a list of proposals (by value or by reference) and may
refresh the committer's path through the tree with an `UpdatePath`: a new
leaf, then one `UpdatePathNode` per node of the committer's *filtered* direct
path, each with the node's new public key and its path secret encrypted to
every node of the copath child's resolution (`HPKECiphertext`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .codec import Opt, Struct, Vec, VLBytes, wire
from .proposals import Proposal, ProposalBody, ProposalOrRef
from .tree.nodes import LeafNode

__all__ = ["Commit", "HPKECiphertext", "UpdatePath", "UpdatePathNode"]


@wire
@dataclass(frozen=True, slots=True)
class HPKECiphertext(Struct):
    """The output of EncryptWithLabel (§5.1.3, §7.6)::

    struct {
        opaque kem_output<V>;
        opaque ciphertext<V>;
    } HPKECiphertext;
    """

    kem_output: VLBytes
    ciphertext: VLBytes


@wire
@dataclass(frozen=True, slots=True)
class UpdatePathNode(Struct):
    """One refreshed parent node on the committer's filtered direct path (§7.6)::

    struct {
        HPKEPublicKey encryption_key;
        HPKECiphertext encrypted_path_secret<V>;
    } UpdatePathNode;

    ``encrypted_path_secret`` has one entry per node in the resolution of the
    copath child, leaves added by this commit excluded, in resolution order.
    """

    encryption_key: VLBytes
    encrypted_path_secret: Vec[HPKECiphertext] = ()


@wire
@dataclass(frozen=True, slots=True)
class UpdatePath(Struct):
    """The committer's new leaf and parent nodes (§7.6)::

    struct {
        LeafNode leaf_node;
        UpdatePathNode nodes<V>;
    } UpdatePath;
    """

    leaf_node: LeafNode
    nodes: Vec[UpdatePathNode] = ()


@wire
@dataclass(frozen=True, slots=True)
class Commit(Struct):
    """Start a new epoch (§12.4)::

    struct {
        ProposalOrRef proposals<V>;
        optional<UpdatePath> path;
    } Commit;
    """

    proposals: Vec[ProposalOrRef] = ()
    path: Opt[UpdatePath] = None

    @classmethod
    def of(cls, proposals: Iterable[Proposal | ProposalBody | bytes], path: UpdatePath | None = None) -> Commit:
        """A commit covering ``proposals``: `Proposal` objects or bodies by
        value, ProposalRefs (bytes) by reference."""
        return cls(tuple(ProposalOrRef.of(p) for p in proposals), path)
