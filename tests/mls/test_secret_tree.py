"""RFC 9420 §9 — the secret tree: lazy derivation, sender ratchets, deletion, reordering, persistence."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings

from calpico.mls.codec import encode_opaque
from calpico.mls.crypto import SUITES, CipherSuite, get_suite
from calpico.mls.errors import DecodeError, DecryptionError, UnsupportedError, UsageError
from calpico.mls.framing import ContentType
from calpico.mls.secret_tree import (
    DEFAULT_MAX_FORWARD_DISTANCE,
    RatchetType,
    SecretTree,
    sender_data_key_nonce,
)
from calpico.mls.tree.treemath import NodeIndex, left, level, right, root

from .damage import damaged

SUITE = get_suite(1)
ROOT_SECRET = bytes(range(32))
APP = RatchetType.application
HS = RatchetType.handshake


def eager_leaf_secret(suite: CipherSuite, secret: bytes, n_leaves: int, leaf: int) -> bytes:
    """The leaf secret, derived straight down from the root as §9 draws it."""
    node, target = root(n_leaves), 2 * leaf
    while level(node) > 0:
        go_left = target < node
        secret = suite.expand_with_label(secret, b"tree", b"left" if go_left else b"right", suite.nh)
        node = left(NodeIndex(node)) if go_left else right(NodeIndex(node))
    return secret


def eager_keys(suite: CipherSuite, leaf_secret: bytes, label: bytes, generation: int) -> tuple[bytes, bytes]:
    """Key and nonce of ``generation`` by walking the ratchet with DeriveTreeSecret (§9.1)."""
    secret = suite.expand_with_label(leaf_secret, label, b"", suite.nh)
    for g in range(generation):
        secret = suite.derive_tree_secret(secret, b"secret", g, suite.nh)
    return (
        suite.derive_tree_secret(secret, b"key", generation, suite.nk),
        suite.derive_tree_secret(secret, b"nonce", generation, suite.nn),
    )


def receive(tree: SecretTree, leaf: int, ratchet: RatchetType, generation: int) -> tuple[bytes, bytes]:
    key = tree.decryption_key(leaf, ratchet, generation)
    tree.consume(key)
    return key.key, key.nonce


@pytest.mark.parametrize("suite_id", sorted(SUITES), ids=lambda s: f"cs{s}")
def test_lazy_tree_gives_the_eagerly_derived_keys_in_any_order(suite_id: int) -> None:
    suite = get_suite(suite_id)
    secret = bytes(suite.nh)
    n = 8
    for order in ([7, 0, 3, 4], [2, 5, 1, 6, 0]):
        tree = SecretTree(suite, secret, n)
        for leaf in order:
            leaf_secret = eager_leaf_secret(suite, secret, n, leaf)
            for ratchet, label in ((HS, b"handshake"), (APP, b"application")):
                assert receive(tree, leaf, ratchet, 3) == eager_keys(suite, leaf_secret, label, 3)


def test_only_the_frontier_is_stored_for_a_large_group() -> None:
    n = 16384  # a 10,000-member group's tree
    tree = SecretTree(SUITE, ROOT_SECRET, n)
    assert (tree.stored_node_secrets, tree.started_leaves) == (1, 0)
    tree.encryption_key(9999, APP)
    # The path to leaf 9999 was consumed; one sibling per level below the root is kept.
    assert tree.stored_node_secrets == 14
    assert tree.started_leaves == 1
    tree.encryption_key(9998, APP)  # its sibling leaf: one stored node secret turns into ratchets
    assert (tree.stored_node_secrets, tree.started_leaves) == (13, 2)
    assert "redacted" not in repr(tree) and "16384 leaves" in repr(tree)


def test_sender_and_receiver_trees_agree_and_ratchets_are_independent() -> None:
    sender, receiver = SecretTree(SUITE, ROOT_SECRET, 4), SecretTree(SUITE, ROOT_SECRET, 4)
    sent = [sender.encryption_key(2, APP) for _ in range(3)] + [sender.encryption_key(2, HS)]
    assert [k.generation for k in sent] == [0, 1, 2, 0]
    assert len({bytes(k.key) for k in sent}) == 4
    for key in sent:
        assert receive(receiver, 2, key.ratchet, key.generation) == (key.key, key.nonce)
    assert "generation 0" in repr(sent[3]) and "handshake" in repr(sent[3])


def test_ratchet_for_content() -> None:
    assert RatchetType.for_content(ContentType.application) is APP
    assert RatchetType.for_content(ContentType.proposal) is HS
    assert RatchetType.for_content(ContentType.commit) is HS


def test_a_consumed_generation_is_refused() -> None:
    tree = SecretTree(SUITE, ROOT_SECRET, 2)
    receive(tree, 1, APP, 0)
    with pytest.raises(DecryptionError) as info:
        tree.decryption_key(1, APP, 0)
    assert info.value.section == "9.2"


def test_out_of_order_messages_within_the_window() -> None:
    tree = SecretTree(SUITE, ROOT_SECRET, 2)
    expected = {g: eager_keys(SUITE, eager_leaf_secret(SUITE, ROOT_SECRET, 2, 1), b"application", g) for g in range(6)}
    for generation in (5, 2, 0, 1, 4, 3):
        assert receive(tree, 1, APP, generation) == expected[generation]
    for generation in range(6):
        with pytest.raises(DecryptionError):
            tree.decryption_key(1, APP, generation)
    assert receive(tree, 1, APP, 6) == eager_keys(SUITE, eager_leaf_secret(SUITE, ROOT_SECRET, 2, 1), b"application", 6)


def test_keys_older_than_the_window_are_deleted() -> None:
    tree = SecretTree(SUITE, ROOT_SECRET, 2, out_of_order_window=4)
    receive(tree, 0, APP, 10)
    for generation in range(6):  # more than 4 below the newest: gone
        with pytest.raises(DecryptionError):
            tree.decryption_key(0, APP, generation)
    for generation in (9, 6, 8, 7):
        receive(tree, 0, APP, generation)
    receive(tree, 0, APP, 11)
    # Moving on drops the oldest kept keys as well.
    tree2 = SecretTree(SUITE, ROOT_SECRET, 2, out_of_order_window=4)
    receive(tree2, 0, APP, 3)  # keeps 0, 1, 2
    receive(tree2, 0, APP, 5)  # keeps 4; 0 falls out (5 + 1 - 4 = 2)
    with pytest.raises(DecryptionError):
        tree2.decryption_key(0, APP, 0)
    for generation in (1, 2, 4):
        receive(tree2, 0, APP, generation)


def test_window_zero_keeps_nothing_behind() -> None:
    tree = SecretTree(SUITE, ROOT_SECRET, 2, out_of_order_window=0)
    receive(tree, 0, APP, 2)
    for generation in (0, 1):
        with pytest.raises(DecryptionError):
            tree.decryption_key(0, APP, generation)


def test_forward_ratcheting_is_bounded() -> None:
    tree = SecretTree(SUITE, ROOT_SECRET, 2, max_forward_distance=50)
    with pytest.raises(DecryptionError) as info:
        tree.decryption_key(0, APP, 51)
    assert info.value.section == "15.3"
    receive(tree, 0, APP, 50)
    receive(tree, 0, APP, 101)  # 50 ahead of the new position
    with pytest.raises(DecryptionError):
        tree.decryption_key(0, APP, 153)
    assert SecretTree(SUITE, ROOT_SECRET, 2).max_forward_distance == DEFAULT_MAX_FORWARD_DISTANCE


def test_a_pending_key_changes_nothing_until_consumed() -> None:
    tree = SecretTree(SUITE, ROOT_SECRET, 2)
    first = tree.decryption_key(1, APP, 3)
    second = tree.decryption_key(1, APP, 3)
    assert (first.key, first.nonce) == (second.key, second.nonce)
    tree.consume(first)
    with pytest.raises(DecryptionError, match="moved"):
        tree.consume(second)  # a replay verified in between must not roll the ratchet back
    with pytest.raises(UsageError):
        tree.consume(first)  # not pending any more
    with pytest.raises(UsageError):
        tree.consume(tree.encryption_key(0, APP))


def test_a_first_message_from_a_leaf_leaves_the_tree_untouched_until_consumed() -> None:
    # Reaching a leaf for the first time derives its path (§9); a message that fails to verify
    # must not leave even that behind, so the derivation waits for consume().
    tree = SecretTree(SUITE, ROOT_SECRET, 64)
    tree.encryption_key(0, APP)
    before = tree.to_bytes()
    pending = tree.decryption_key(41, HS, 2)
    assert tree.to_bytes() == before
    assert (tree.stored_node_secrets, tree.started_leaves) == (6, 1)
    tree.consume(pending)
    reached = SecretTree(SUITE, ROOT_SECRET, 64)
    reached.encryption_key(0, APP)
    receive(reached, 41, HS, 2)
    assert tree.to_bytes() == reached.to_bytes()
    assert (pending.key, pending.nonce) == eager_keys(
        SUITE, eager_leaf_secret(SUITE, ROOT_SECRET, 64, 41), b"handshake", 2
    )


@pytest.mark.parametrize("consume_order", [(0, 1, 2), (2, 1, 0), (1, 2, 0)])
def test_first_messages_of_several_leaves_pending_together(consume_order: tuple[int, ...]) -> None:
    """Keys derived from one frontier and consumed in any order give the state of receiving them in turn."""
    leaves = (5, 4, 12)  # 5 and 4 are siblings: consuming one moves the frontier under the other
    tree = SecretTree(SUITE, ROOT_SECRET, 16)
    pending = [tree.decryption_key(leaf, APP, 1) for leaf in leaves]
    for i in consume_order:
        tree.consume(pending[i])
    expected = SecretTree(SUITE, ROOT_SECRET, 16)
    for i in consume_order:
        receive(expected, leaves[i], APP, 1)
    assert tree.to_bytes() == expected.to_bytes()
    for leaf, key in zip(leaves, pending, strict=True):
        assert (key.key, key.nonce) == eager_keys(
            SUITE, eager_leaf_secret(SUITE, ROOT_SECRET, 16, leaf), b"application", 1
        )


def test_a_first_key_consumed_after_the_leaf_was_reached_another_way() -> None:
    tree = SecretTree(SUITE, ROOT_SECRET, 8)
    handshake, application = tree.decryption_key(3, HS, 0), tree.decryption_key(3, APP, 0)
    tree.consume(handshake)
    tree.consume(application)  # the leaf was started by the first consume: the second one just advances
    with pytest.raises(DecryptionError, match="already used"):
        tree.decryption_key(3, APP, 0)
    stale = tree.decryption_key(6, APP, 0)
    receive(tree, 6, APP, 0)
    with pytest.raises(DecryptionError, match="moved"):
        tree.consume(stale)


def test_a_kept_key_consumed_twice_is_refused() -> None:
    tree = SecretTree(SUITE, ROOT_SECRET, 2)
    receive(tree, 1, APP, 2)
    first, second = tree.decryption_key(1, APP, 0), tree.decryption_key(1, APP, 0)
    tree.consume(first)
    with pytest.raises(DecryptionError, match="meanwhile"):
        tree.consume(second)


def test_bad_arguments() -> None:
    with pytest.raises(UsageError):
        SecretTree(SUITE, bytes(31), 2)
    with pytest.raises(UsageError):
        SecretTree(SUITE, ROOT_SECRET, 0)
    with pytest.raises(UsageError):
        SecretTree(SUITE, ROOT_SECRET, 2, out_of_order_window=-1)
    tree = SecretTree(SUITE, ROOT_SECRET, 4)
    with pytest.raises(UsageError):
        tree.encryption_key(4, APP)
    with pytest.raises(UsageError):
        tree.decryption_key(-1, APP, 0)


def test_sender_data_key_nonce_samples_the_first_nh_bytes() -> None:
    secret = bytes(32)
    long_ciphertext = bytes(range(100))
    key, nonce = sender_data_key_nonce(SUITE, secret, long_ciphertext)
    assert key == SUITE.expand_with_label(secret, b"key", long_ciphertext[:32], 16)
    assert nonce == SUITE.expand_with_label(secret, b"nonce", long_ciphertext[:32], 12)
    assert sender_data_key_nonce(SUITE, secret, long_ciphertext[:32] + b"other") == (key, nonce)
    short = bytes(5)  # shorter than Nh: the whole ciphertext is the sample
    assert sender_data_key_nonce(SUITE, secret, short)[0] == SUITE.expand_with_label(secret, b"key", short, 16)


# --- persistence ---------------------------------------------------------------------


def test_persistence_round_trip_mid_use() -> None:
    tree = SecretTree(SUITE, ROOT_SECRET, 8, out_of_order_window=8, max_forward_distance=99)
    tree.encryption_key(3, HS)
    receive(tree, 5, APP, 6)  # keeps the keys of generations 0-5
    restored = SecretTree.from_bytes(tree.to_bytes())
    assert restored.to_bytes() == tree.to_bytes()
    assert (restored.n_leaves, restored.out_of_order_window, restored.max_forward_distance) == (8, 8, 99)
    for generation in (2, 0, 5, 7):
        assert receive(restored, 5, APP, generation) == receive(tree, 5, APP, generation)
    for leaf in range(8):  # untouched leaves still derive from the stored frontier
        assert restored.encryption_key(leaf, APP).key == tree.encryption_key(leaf, APP).key
    with pytest.raises(DecryptionError):
        restored.decryption_key(5, APP, 6)


def _record(suite_id: int, n_leaves: int, nodes: bytes, leaves: bytes, fmt: int = 1) -> bytes:
    """A SecretTreeRecord, written by hand from the format in secret_tree's docstring."""
    head = bytes([fmt]) + suite_id.to_bytes(2, "big") + n_leaves.to_bytes(4, "big")
    return head + (32).to_bytes(4, "big") + (1024).to_bytes(4, "big") + encode_opaque(nodes) + encode_opaque(leaves)


def _ratchet(generation: int, secret: bytes, skipped: bytes = b"") -> bytes:
    return generation.to_bytes(8, "big") + encode_opaque(secret) + encode_opaque(skipped)


def test_the_documented_format_loads_and_an_exhausted_ratchet_stops() -> None:
    last = 2**32 - 1
    leaves = (0).to_bytes(4, "big") + _ratchet(last, bytes(32)) + _ratchet(0, bytes(32))
    tree = SecretTree.from_bytes(_record(1, 1, b"", leaves))
    key = tree.encryption_key(0, HS)
    assert key.generation == last
    assert key.key == SUITE.derive_tree_secret(bytes(32), b"key", last, 16)
    with pytest.raises(UsageError, match="exhausted"):
        tree.encryption_key(0, HS)
    assert tree.encryption_key(0, APP).generation == 0
    assert SecretTree.from_bytes(tree.to_bytes()).to_bytes() == tree.to_bytes()


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (_record(1, 2, b"", b"", fmt=2), DecodeError),
        (_record(1, 0, b"", b""), DecodeError),
        (_record(1, 2, (3).to_bytes(4, "big") + encode_opaque(bytes(32)), b""), DecodeError),  # node outside
        (_record(1, 2, (1).to_bytes(4, "big") + encode_opaque(bytes(31)), b""), DecodeError),  # short secret
        (_record(1, 2, b"", (2).to_bytes(4, "big") + _ratchet(0, bytes(32)) * 2), DecodeError),  # leaf outside
        (_record(1, 2, b"", (0).to_bytes(4, "big") + _ratchet(2**32 + 1, bytes(32)) * 2), DecodeError),
        (_record(1, 2, b"", (0).to_bytes(4, "big") + _ratchet(0, bytes(32)) * 2) * 1, None),
        (_record(0x7777, 2, b"", b""), UnsupportedError),
        (b"\x01\x00", DecodeError),
    ],
    ids=["format", "no-leaves", "node", "secret", "leaf", "generation", "valid", "suite", "truncated"],
)
def test_bad_records_are_refused(data: bytes, error: type[Exception] | None) -> None:
    if error is None:
        SecretTree.from_bytes(data)
        return
    with pytest.raises(error):
        SecretTree.from_bytes(data)


def test_bad_skipped_keys_are_refused() -> None:
    def skipped(generation: int, key_length: int = 16) -> bytes:
        return generation.to_bytes(4, "big") + encode_opaque(bytes(key_length)) + encode_opaque(bytes(12))

    def load(entries: bytes, generation: int = 5) -> SecretTree:
        leaves = (0).to_bytes(4, "big") + _ratchet(generation, bytes(32), entries) + _ratchet(0, bytes(32))
        return SecretTree.from_bytes(_record(1, 2, b"", leaves))

    tree = load(skipped(1) + skipped(3))
    receive(tree, 0, HS, 3)
    for entries in (skipped(3) + skipped(1), skipped(1) + skipped(1), skipped(5), skipped(1, key_length=15)):
        with pytest.raises(DecodeError):
            load(entries)


@pytest.mark.parametrize("suite_id", sorted(SUITES), ids=lambda s: f"cs{s}")
def test_every_suite_persists(suite_id: int) -> None:
    suite = get_suite(suite_id)
    tree = SecretTree(suite, bytes(suite.nh), 4)
    for leaf, ratchet in itertools.product(range(2), RatchetType):
        receive(tree, leaf, ratchet, 2)
    restored = SecretTree.from_bytes(tree.to_bytes())
    assert receive(restored, 1, APP, 0) == receive(tree, 1, APP, 0)


def _used_tree_bytes() -> bytes:
    tree = SecretTree(SUITE, ROOT_SECRET, 8)
    receive(tree, 3, APP, 4)
    tree.encryption_key(6, HS)
    return tree.to_bytes()


@settings(max_examples=300, deadline=None)
@given(damaged(_used_tree_bytes()))
def test_damaged_records_raise_only_typed_errors(data: bytes) -> None:
    try:
        tree = SecretTree.from_bytes(data)
    except (DecodeError, UnsupportedError):
        return
    assert tree.to_bytes() == data  # whatever loads is canonical
