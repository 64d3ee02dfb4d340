"""RFC 9420 §9 — Secret tree and sender ratchets (with §6.3.2 sender-data keys).

Theory of operation
-------------------
The epoch's ``encryption_secret`` sits at the root of a tree shaped like the
ratchet tree; each child secret is ``ExpandWithLabel(parent, "tree",
"left"|"right", Nh)``. A leaf's secret starts two sender ratchets,
"handshake" (proposals and commits) and "application", and each ratchet step
gives a key, a nonce and the next ratchet secret (§9.1)::

    key[j]    = DeriveTreeSecret(secret[j], "key",    j, Nk)
    nonce[j]  = DeriveTreeSecret(secret[j], "nonce",  j, Nn)
    secret[j+1] = DeriveTreeSecret(secret[j], "secret", j, Nh)

Groups reach 10,000 members, so nothing is derived up front: the tree keeps a
*frontier* of node secrets, initially just the root. Reaching leaf L pops its
nearest stored ancestor, derives down the path, keeps each off-path sibling
and starts L's ratchets; the consumed path secrets are gone (§9.2). The cost
is O(log n) per leaf, once.

Deletion and reordering (§9.2, §15.3): a ratchet keeps only its next secret,
plus the keys of skipped generations at most ``out_of_order_window`` below
the newest one received, for messages that arrive late. A message may be at most
``max_forward_distance`` generations ahead (a bound on the work a sender can
force on us). A used or dropped generation is refused. Receiving is
two-phase: `SecretTree.decryption_key` derives a key without changing any
state (for a leaf not reached yet it derives the leaf's ratchets too, and
keeps them in the pending key, not in the tree), and `SecretTree.consume`
stores everything once the message has fully verified. A forged message
therefore cannot burn a generation, nor move the frontier.

Persistent form (`SecretTree.to_bytes`, format 1)::

    struct { uint32 generation; opaque key<V>; opaque nonce<V>; } SkippedKey;
    struct { uint64 generation; opaque secret<V>; SkippedKey skipped<V>; } Ratchet;
    struct { uint32 leaf; Ratchet handshake; Ratchet application; } LeafRatchets;
    struct { uint32 node; opaque secret<V>; } NodeSecret;
    struct {
        uint8 format = 1; uint16 cipher_suite; uint32 n_leaves;
        uint32 out_of_order_window; uint32 max_forward_distance;
        NodeSecret nodes<V>; LeafRatchets leaves<V>;
    } SecretTreeRecord;

(A ratchet's generation is 2^32 once it is exhausted, hence the uint64.)
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from .codec import U8, U16, U32, U64, Struct, Vec, VLBytes, encode_opaque, wire
from .crypto import CipherSuite, get_suite
from .errors import DecodeError, DecryptionError, UsageError
from .framing import ContentType
from .secret import Secret
from .tree.treemath import NodeIndex, left, parent, right, root

__all__ = [
    "DEFAULT_MAX_FORWARD_DISTANCE",
    "DEFAULT_OUT_OF_ORDER_WINDOW",
    "RatchetKey",
    "RatchetType",
    "SecretTree",
    "sender_data_key_nonce",
]

DEFAULT_OUT_OF_ORDER_WINDOW = 32
"""Keys of up to this many generations below the newest received one are kept for late messages."""
DEFAULT_MAX_FORWARD_DISTANCE = 1024
"""A message may be at most this many generations ahead of its ratchet (§15.3)."""

_GENERATION_LIMIT = 1 << 32  # generations are uint32 (§9.1)
_RECORD_FORMAT = 1


class RatchetType(enum.IntEnum):
    """The two sender ratchets of a leaf (§9); handshake serves proposals and commits."""

    handshake = 0
    application = 1

    @classmethod
    def for_content(cls, content_type: ContentType) -> RatchetType:
        """The ratchet that protects content of ``content_type`` (§6.3.1)."""
        return cls.application if content_type == ContentType.application else cls.handshake


def sender_data_key_nonce(suite: CipherSuite, sender_data_secret: bytes, ciphertext: bytes) -> tuple[Secret, Secret]:
    """``sender_data_key``, ``sender_data_nonce`` for a PrivateMessage ``ciphertext`` (§6.3.2).

    The sample is the first KDF.Nh bytes of the ciphertext (all of it if shorter).
    """
    sample = ciphertext[: suite.nh]
    key = suite.expand_with_label(sender_data_secret, b"key", sample, suite.nk)
    return key, suite.expand_with_label(sender_data_secret, b"nonce", sample, suite.nn)


class RatchetKey:
    """A key and nonce of one generation of a sender ratchet (§9.1).

    One from `SecretTree.decryption_key` is still pending: hand it to
    `SecretTree.consume` once the message verified.
    """

    __slots__ = ("_advance", "generation", "key", "leaf_index", "nonce", "ratchet")

    def __init__(
        self,
        leaf_index: int,
        ratchet: RatchetType,
        generation: int,
        key: Secret,
        nonce: Secret,
        advance: _Advance | None = None,
    ) -> None:
        self.leaf_index = leaf_index
        self.ratchet = ratchet
        self.generation = generation
        self.key = key
        self.nonce = nonce
        self._advance = advance

    def __repr__(self) -> str:
        return f"RatchetKey(leaf {self.leaf_index}, {self.ratchet.name}, generation {self.generation})"


@dataclass(frozen=True, slots=True)
class _Advance:
    """How consuming a pending key changes its ratchet (and, for a leaf not reached yet, the tree)."""

    from_generation: int
    next_secret: Secret | None  # None: the key came from the skipped keys
    skipped: tuple[tuple[int, Secret, Secret], ...] = ()
    start: _LeafStart | None = None


@dataclass(frozen=True, slots=True)
class _LeafStart:
    """A leaf's ratchets derived from the frontier but not yet stored (§9).

    Storing them pops ``ancestor`` from the frontier and adds the off-path
    siblings of the derivation, ``frontier``.
    """

    leaf_index: int
    ancestor: int
    frontier: tuple[tuple[int, Secret], ...]
    ratchets: tuple[_Ratchet, _Ratchet]


class _Ratchet:
    """One sender ratchet: the secret of ``generation`` and the kept keys of skipped generations."""

    __slots__ = ("generation", "secret", "skipped")

    def __init__(
        self, secret: Secret, generation: int = 0, skipped: dict[int, tuple[Secret, Secret]] | None = None
    ) -> None:
        self.secret = secret
        self.generation = generation
        # Ascending generations (insertion order), all below `generation`.
        self.skipped: dict[int, tuple[Secret, Secret]] = skipped if skipped is not None else {}


class SecretTree:
    """The secret tree of one epoch, derived lazily (§9), with per-leaf sender ratchets (§9.1)."""

    __slots__ = (
        "_heads",
        "_mac",
        "_nodes",
        "_ratchets",
        "_root",
        "max_forward_distance",
        "n_leaves",
        "out_of_order_window",
        "suite",
    )

    def __init__(
        self,
        suite: CipherSuite,
        encryption_secret: bytes,
        n_leaves: int,
        *,
        out_of_order_window: int = DEFAULT_OUT_OF_ORDER_WINDOW,
        max_forward_distance: int = DEFAULT_MAX_FORWARD_DISTANCE,
    ) -> None:
        """A tree for ``n_leaves`` leaves rooted at ``encryption_secret``.

        Raises `UsageError` for a secret of the wrong length, no leaves, or negative limits.
        """
        if len(encryption_secret) != suite.nh:
            raise UsageError(f"encryption_secret is {suite.nh} bytes for this suite", section="9")
        if not 1 <= n_leaves < _GENERATION_LIMIT or out_of_order_window < 0 or max_forward_distance < 0:
            raise UsageError("secret tree: need 1 <= n_leaves < 2^32 and non-negative limits")
        self.suite = suite
        self.n_leaves = n_leaves
        self.out_of_order_window = out_of_order_window
        self.max_forward_distance = max_forward_distance
        self._root = root(n_leaves)
        self._nodes: dict[int, Secret] = {self._root: Secret(encryption_secret)}
        self._ratchets: dict[int, tuple[_Ratchet, _Ratchet]] = {}
        # DeriveTreeSecret(s, L, j, n) = ExpandWithLabel(s, L, uint32(j), n), and n <= Nh here, so it is one
        # HKDF-Expand block: HMAC(s, KDFLabel || 0x01) with KDFLabel = uint16(n) || "MLS 1.0 "+L <V> || j <V>.
        # The heads are fixed per suite; the secret-tree vectors pin the result to DeriveTreeSecret.
        self._heads = tuple(
            n.to_bytes(2, "big") + encode_opaque(b"MLS 1.0 " + label)
            for label, n in ((b"key", suite.nk), (b"nonce", suite.nn), (b"secret", suite.nh))
        )
        self._mac = suite.mac

    def __repr__(self) -> str:
        started = len(self._ratchets)
        return f"<SecretTree {self.n_leaves} leaves, {len(self._nodes)} node secrets, {started} leaves started>"

    @property
    def stored_node_secrets(self) -> int:
        """How many tree-node secrets are held: the frontier of the lazy derivation (diagnostics)."""
        return len(self._nodes)

    @property
    def started_leaves(self) -> int:
        """How many leaves have their sender ratchets started (diagnostics)."""
        return len(self._ratchets)

    # --- §9: the tree ----------------------------------------------------------------

    def _leaf(self, leaf_index: int) -> tuple[_Ratchet, _Ratchet]:
        """The leaf's ratchets, started now if they were not (which changes the frontier)."""
        ratchets = self._ratchets.get(leaf_index)
        if ratchets is not None:
            return ratchets
        return self._install(self._derive_leaf(leaf_index))

    def _derive_leaf(self, leaf_index: int) -> _LeafStart:
        """Derive a leaf's ratchets from its nearest stored ancestor, changing nothing."""
        if not 0 <= leaf_index < self.n_leaves:
            raise UsageError(f"leaf {leaf_index} is outside a secret tree of {self.n_leaves} leaves")
        target = 2 * leaf_index
        node = target
        nodes = self._nodes
        while node not in nodes:  # the nearest ancestor still holding its secret
            if node == self._root:
                raise UsageError(f"secret tree: leaf {leaf_index} has no stored ancestor")  # broken invariant
            node = parent(NodeIndex(node), self.n_leaves)
        ancestor, secret = node, nodes[node]
        frontier: list[tuple[int, Secret]] = []
        expand, nh = self.suite.expand_with_label, self.suite.nh
        while node != target:
            left_secret = expand(secret, b"tree", b"left", nh)
            right_secret = expand(secret, b"tree", b"right", nh)
            if target < node:
                frontier.append((right(NodeIndex(node)), right_secret))
                node, secret = left(NodeIndex(node)), left_secret
            else:
                frontier.append((left(NodeIndex(node)), left_secret))
                node, secret = right(NodeIndex(node)), right_secret
        ratchets = (
            _Ratchet(expand(secret, b"handshake", b"", nh)),
            _Ratchet(expand(secret, b"application", b"", nh)),
        )
        return _LeafStart(leaf_index, ancestor, tuple(frontier), ratchets)

    def _install(self, start: _LeafStart) -> tuple[_Ratchet, _Ratchet]:
        """Store a derived leaf start: the consumed ancestor secret is deleted (§9.2)."""
        nodes = self._nodes
        if start.leaf_index in self._ratchets or start.ancestor not in nodes:
            # The frontier moved since the derivation (another leaf was reached): derive again.
            return self._leaf(start.leaf_index)
        del nodes[start.ancestor]
        nodes.update(start.frontier)
        self._ratchets[start.leaf_index] = start.ratchets
        return start.ratchets

    # --- §9.1: ratchet steps --------------------------------------------------------

    def _step(self, secret: bytes, generation: int) -> tuple[Secret, Secret, Secret]:
        """``DeriveTreeSecret(secret, "key"/"nonce"/"secret", generation, Nk/Nn/Nh)`` (§9.1)."""
        tail = b"\x04" + generation.to_bytes(4, "big") + b"\x01"
        mac, (key_head, nonce_head, secret_head) = self._mac, self._heads
        suite = self.suite
        return (
            Secret(mac(secret, key_head + tail)[: suite.nk]),
            Secret(mac(secret, nonce_head + tail)[: suite.nn]),
            Secret(mac(secret, secret_head + tail)),
        )

    def encryption_key(self, leaf_index: int, ratchet: RatchetType) -> RatchetKey:
        """The next unused key of our own ratchet, consumed at once (§9.2: never reuse a generation).

        Raises `UsageError` for a leaf outside the tree or an exhausted ratchet.
        """
        r = (self._ratchets.get(leaf_index) or self._leaf(leaf_index))[ratchet]
        generation = r.generation
        if generation >= _GENERATION_LIMIT:
            raise UsageError("this sender ratchet is exhausted; a Commit must start a new epoch", section="9.1")
        key, nonce, r.secret = self._step(r.secret, generation)
        r.generation = generation + 1
        return RatchetKey(leaf_index, ratchet, generation, key, nonce)

    def decryption_key(self, leaf_index: int, ratchet: RatchetType, generation: int) -> RatchetKey:
        """The key for a received message of ``generation``, *without* consuming it.

        Call `consume` with the result once the message has verified; if it
        does not verify, drop the result: the tree is as it was, even for a
        leaf reached for the first time. Raises `DecryptionError` if the
        generation was used or dropped, or is more than
        ``max_forward_distance`` ahead; `UsageError` for a leaf outside the tree.
        """
        ratchets = self._ratchets.get(leaf_index)
        start = None
        if ratchets is None:
            start = self._derive_leaf(leaf_index)
            ratchets = start.ratchets
        r = ratchets[ratchet]
        current = r.generation
        if generation < current:
            kept = r.skipped.get(generation)
            if kept is None:
                raise DecryptionError(
                    f"generation {generation} of leaf {leaf_index}'s {ratchet.name} ratchet "
                    "was already used or is too old",
                    section="9.2",
                )
            return RatchetKey(leaf_index, ratchet, generation, *kept, advance=_Advance(current, None))
        if generation - current > self.max_forward_distance or generation >= _GENERATION_LIMIT:
            raise DecryptionError(
                f"generation {generation} is more than {self.max_forward_distance} ahead of "
                f"leaf {leaf_index}'s {ratchet.name} ratchet (at {current})",
                section="15.3",
            )
        secret = r.secret
        keep_from = generation - self.out_of_order_window
        skipped: list[tuple[int, Secret, Secret]] = []
        derive, nh = self.suite.derive_tree_secret, self.suite.nh
        for g in range(current, generation):
            if g >= keep_from:
                key, nonce, secret = self._step(secret, g)
                skipped.append((g, key, nonce))
            else:  # too old to keep: only the ratchet secret moves on
                secret = derive(secret, b"secret", g, nh)
        key, nonce, next_secret = self._step(secret, generation)
        advance = _Advance(current, next_secret, tuple(skipped), start)
        return RatchetKey(leaf_index, ratchet, generation, key, nonce, advance)

    def consume(self, key: RatchetKey) -> None:
        """Delete a key from `decryption_key` and everything before it that is no longer kept (§9.2).

        Raises `DecryptionError` if the key was consumed meanwhile (a replay
        processed in between), `UsageError` for a key that is not pending.
        """
        advance = key._advance
        if advance is None:
            raise UsageError("this key is not a pending decryption key")
        key._advance = None
        ratchets = self._ratchets.get(key.leaf_index)
        if ratchets is None:
            # The leaf's first message: store its ratchets (derived again if the frontier moved since).
            ratchets = self._install(advance.start) if advance.start is not None else self._leaf(key.leaf_index)
        r = ratchets[key.ratchet]
        if advance.next_secret is None:
            if r.skipped.pop(key.generation, None) is None:
                raise DecryptionError(f"generation {key.generation} was consumed meanwhile", section="9.2")
            return
        if r.generation != advance.from_generation:
            raise DecryptionError(f"the {key.ratchet.name} ratchet moved since the key was derived", section="9.2")
        r.secret = advance.next_secret
        r.generation = key.generation + 1
        skipped = r.skipped
        for g, k, n in advance.skipped:
            skipped[g] = (k, n)
        oldest_kept = key.generation - self.out_of_order_window
        while skipped:
            first = next(iter(skipped))
            if first >= oldest_kept:
                break
            del skipped[first]

    # --- persistence -----------------------------------------------------------------

    def to_bytes(self) -> bytes:
        """The persistent form (see the module docstring)."""
        nodes = tuple(_NodeSecret(node, secret) for node, secret in sorted(self._nodes.items()))
        leaves = tuple(
            _LeafRatchets(leaf, *(_record_of(r) for r in ratchets)) for leaf, ratchets in sorted(self._ratchets.items())
        )
        return _SecretTreeRecord(
            _RECORD_FORMAT,
            self.suite.suite_id,
            self.n_leaves,
            self.out_of_order_window,
            self.max_forward_distance,
            nodes,
            leaves,
        ).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> SecretTree:
        """Load `to_bytes` output.

        Raises `DecodeError` for another format or inconsistent data,
        `UnsupportedError` for an unknown cipher suite.
        """
        record = _SecretTreeRecord.decode(data)
        if record.format != _RECORD_FORMAT:
            raise DecodeError(f"SecretTree: unknown record format {record.format}")
        suite = get_suite(record.cipher_suite)
        nh = suite.nh
        try:
            tree = cls(
                suite,
                bytes(nh),
                record.n_leaves,
                out_of_order_window=record.out_of_order_window,
                max_forward_distance=record.max_forward_distance,
            )
        except UsageError as exc:
            raise DecodeError(f"SecretTree: {exc.reason}") from None
        width = 2 * record.n_leaves - 1
        tree._nodes = {}
        # Entries are in ascending order (as to_bytes writes them), so one state has one encoding.
        previous = -1
        for entry in record.nodes:
            if not previous < entry.node < width or len(entry.secret) != nh:
                raise DecodeError("SecretTree: bad node secret")
            tree._nodes[entry.node] = Secret(entry.secret)
            previous = entry.node
        previous = -1
        for leaf in record.leaves:
            if not previous < leaf.leaf < record.n_leaves:
                raise DecodeError("SecretTree: bad leaf ratchets")
            previous = leaf.leaf
            tree._ratchets[leaf.leaf] = (_ratchet_of(leaf.handshake, suite), _ratchet_of(leaf.application, suite))
        return tree


def _record_of(r: _Ratchet) -> _RatchetRecord:
    return _RatchetRecord(r.generation, r.secret, tuple(_SkippedKey(g, k, n) for g, (k, n) in r.skipped.items()))


def _ratchet_of(record: _RatchetRecord, suite: CipherSuite) -> _Ratchet:
    if record.generation > _GENERATION_LIMIT or len(record.secret) != suite.nh:
        raise DecodeError("SecretTree: bad ratchet")
    skipped: dict[int, tuple[Secret, Secret]] = {}
    for entry in record.skipped:
        # Ascending, below the ratchet, and of the suite's sizes: consume() relies on the order.
        if skipped and entry.generation <= next(reversed(skipped)):
            raise DecodeError("SecretTree: skipped keys out of order")
        if entry.generation >= record.generation or len(entry.key) != suite.nk or len(entry.nonce) != suite.nn:
            raise DecodeError("SecretTree: bad skipped key")
        skipped[entry.generation] = (Secret(entry.key), Secret(entry.nonce))
    return _Ratchet(Secret(record.secret), record.generation, skipped)


@wire
@dataclass(frozen=True, slots=True)
class _SkippedKey(Struct):
    generation: U32
    key: VLBytes
    nonce: VLBytes


@wire
@dataclass(frozen=True, slots=True)
class _RatchetRecord(Struct):
    generation: U64
    secret: VLBytes
    skipped: Vec[_SkippedKey]


@wire
@dataclass(frozen=True, slots=True)
class _LeafRatchets(Struct):
    leaf: U32
    handshake: _RatchetRecord
    application: _RatchetRecord


@wire
@dataclass(frozen=True, slots=True)
class _NodeSecret(Struct):
    node: U32
    secret: VLBytes


@wire
@dataclass(frozen=True, slots=True)
class _SecretTreeRecord(Struct):
    format: U8
    cipher_suite: U16
    n_leaves: U32
    out_of_order_window: U32
    max_forward_distance: U32
    nodes: Vec[_NodeSecret]
    leaves: Vec[_LeafRatchets]
