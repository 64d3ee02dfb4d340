"""Bad input is refused with a typed error naming its RFC section, and the group state does not change.

Each test builds one bad message, hands it to a member, and checks the error
type and section and that ``to_bytes()`` is the same before and after. Bad
commits are forged by a member who holds the epoch's keys (so they pass the
membership tag and signature and reach the rule under test).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from calpico.mls import (
    ApplicationMessage,
    Credential,
    DecryptionError,
    Group,
    GroupConfig,
    MLSError,
    MLSMessage,
    PolicyContext,
    ProposalInContext,
    ProtocolError,
    UsageError,
    VerificationError,
    create_key_package,
)
from calpico.mls.authentication import framed_content_tbs, sign_framed_content
from calpico.mls.commit import Commit, UpdatePath
from calpico.mls.framing import FramedContent, FramedContentAuthData, PublicMessage, Sender, SenderType, WireFormat
from calpico.mls.private_message import PrivateMessage
from calpico.mls.proposals import (
    Add,
    ExternalInit,
    GroupContextExtensions,
    PreSharedKey,
    Proposal,
    ProposalOrRef,
    ReInit,
    Remove,
)
from calpico.mls.psk import PreSharedKeyID
from calpico.mls.public_protection import membership_tag
from calpico.mls.tree.nodes import LeafNodeTBS, Lifetime

from ..damage import damaged
from .harness import SUITES, Client, Room

pytestmark = pytest.mark.parametrize("suite", SUITES, ids=lambda s: f"cs{s:#06x}")


def refused(group: Group, message: bytes | MLSMessage, error: type[MLSError], section: str) -> MLSError:
    """``group.process(message)`` raises ``error`` naming ``section`` and leaves the state unchanged."""
    before = group.to_bytes()
    with pytest.raises(error) as caught:
        group.process(message)
    assert caught.value.section == section, f"{caught.value} names §{caught.value.section}, not §{section}"
    assert group.to_bytes() == before
    return caught.value


def forge(
    forger: Group,
    commit: Commit,
    *,
    signer: bytes | None = None,
    tag: Callable[[bytes], bytes] | None = None,
    epoch: int | None = None,
) -> bytes:
    """A commit from ``forger``'s leaf, signed (by ``signer`` if given) and with a valid membership tag."""
    state = forger._epoch
    suite = state.suite
    context = state.context if epoch is None else dataclasses.replace(state.context, epoch=epoch)
    content = FramedContent.of(context.group_id, context.epoch, Sender.member(forger.own_leaf_index), commit)
    tbs = framed_content_tbs(WireFormat.mls_public_message, content, SenderType.member, context)
    signature = sign_framed_content(suite, signer or forger._signature_key, tbs)
    auth = FramedContentAuthData(signature, bytes(suite.nh))
    mac = membership_tag(suite, state.secrets.membership_key, tbs, auth.encode())
    if tag is not None:
        mac = tag(mac)
    return MLSMessage.of(PublicMessage(content, auth, mac)).encode()


def refs(*items: Proposal | bytes) -> tuple[ProposalOrRef, ...]:
    return tuple(ProposalOrRef.of(item) for item in items)


def update_path_of(group: Group) -> UpdatePath:
    """A real UpdatePath from ``group``'s member (its commit is discarded)."""
    result = group.commit(update=True)
    group.discard(result.staged)
    body = result.commit.body
    assert isinstance(body, PublicMessage) and body.content.commit is not None
    assert body.content.commit.path is not None
    return body.content.commit.path


# --- framing and protection (§6) ------------------------------------------------------------


def test_bad_signature(suite: int) -> None:
    room = Room.with_members(3, suite)
    wrong_key = room.clients[2].signature_private
    refused(room.group(1), forge(room.group(0), Commit(), signer=wrong_key), VerificationError, "6.1")


def test_wrong_epoch(suite: int) -> None:
    room = Room.with_members(3, suite)
    refused(room.group(1), forge(room.group(0), Commit(), epoch=7), ProtocolError, "6")
    late_handshake = room.group(0).propose_update()
    room.deliver_commit(room.clients[2], room.group(2).commit(update=True))
    refused(room.group(1), late_handshake, ProtocolError, "6")


def test_wrong_membership_tag(suite: int) -> None:
    room = Room.with_members(3, suite)
    message = forge(room.group(0), Commit(), tag=lambda mac: bytes([mac[0] ^ 1]) + mac[1:])
    refused(room.group(1), message, VerificationError, "6.2")


def test_tampered_ciphertext(suite: int) -> None:
    room = Room.with_members(3, suite)
    wire = bytearray(room.group(0).protect(b"attack at dawn").encode())
    wire[-5] ^= 0x40
    refused(room.group(1), bytes(wire), DecryptionError, "6.3")
    genuine = room.group(0).protect(b"the real one")
    body = genuine.body
    assert isinstance(body, PrivateMessage)
    sender_data = bytes([body.encrypted_sender_data[0] ^ 1]) + body.encrypted_sender_data[1:]
    tampered = dataclasses.replace(body, encrypted_sender_data=sender_data)
    refused(room.group(1), MLSMessage.of(tampered), DecryptionError, "6.3")
    assert room.group(1).process(genuine).data == b"the real one"  # type: ignore[union-attr]


def test_commit_with_bad_confirmation_tag(suite: int) -> None:
    room = Room.with_members(3, suite)
    path = update_path_of(room.group(0))
    refused(room.group(1), forge(room.group(0), Commit((), path)), VerificationError, "8.2")


# --- the path (§7, §12.4.2) -------------------------------------------------------------------


def test_bad_parent_hash(suite: int) -> None:
    room = Room.with_members(4, suite)
    forger = room.group(0)
    path = update_path_of(forger)
    leaf = path.leaf_node
    tbs = LeafNodeTBS(
        leaf.encryption_key,
        leaf.signature_key,
        leaf.credential,
        leaf.capabilities,
        leaf.leaf_node_source,
        None,
        bytes(len(leaf.parent_hash or b"")),
        leaf.extensions,
        forger.group_id,
        forger.own_leaf_index,
    )
    signature = forger.cipher_suite.sign_with_label(forger._signature_key, b"LeafNodeTBS", tbs.encode())
    bad_leaf = tbs.with_signature(signature)
    message = forge(forger, Commit((), UpdatePath(bad_leaf, path.nodes)))
    refused(room.group(1), message, VerificationError, "7.9.2")


def test_path_missing_where_required(suite: int) -> None:
    room = Room.with_members(3, suite)
    refused(room.group(1), forge(room.group(0), Commit()), ProtocolError, "12.4.2")
    refused(room.group(1), forge(room.group(0), Commit(refs(Proposal.of(Remove(2))))), ProtocolError, "12.4.2")
    gce = Proposal.of(GroupContextExtensions(()))
    refused(room.group(1), forge(room.group(0), Commit(refs(gce))), ProtocolError, "12.4.2")


# --- keys (§7.3) and KeyPackages (§10.1) --------------------------------------------------------


def test_duplicate_encryption_key(suite: int) -> None:
    room = Room.with_members(3, suite)
    stranger = room.client("stranger")
    bundle = stranger.key_package()
    taken = room.group(0).ratchet_tree.leaf_node(1)
    assert taken is not None
    leaf = bundle.key_package.leaf_node
    tbs = dataclasses.replace(leaf.tbs(), encryption_key=taken.encryption_key)
    suite_ = room.group(0).cipher_suite
    forged_leaf = tbs.with_signature(suite_.sign_with_label(stranger.signature_private, b"LeafNodeTBS", tbs.encode()))
    kp_tbs = dataclasses.replace(bundle.key_package, leaf_node=forged_leaf).tbs()
    kp = kp_tbs.with_signature(suite_.sign_with_label(stranger.signature_private, b"KeyPackageTBS", kp_tbs.encode()))
    message = forge(room.group(0), Commit(refs(Proposal.of(Add(kp)))))
    refused(room.group(1), message, ProtocolError, "7.3")


def test_duplicate_signature_key(suite: int) -> None:
    room = Room.with_members(3, suite)
    member = room.clients[2]
    second = create_key_package(suite, member.credential, member.signature_private)  # same signature key
    message = forge(room.group(0), Commit(refs(Proposal.of(Add(second.key_package)))))
    refused(room.group(1), message, ProtocolError, "12.2")


def test_bad_key_package_signature(suite: int) -> None:
    room = Room.with_members(2, suite)
    kp = room.client("x").key_package().key_package
    bad = dataclasses.replace(kp, signature=bytes(len(kp.signature)))
    refused(room.group(1), forge(room.group(0), Commit(refs(Proposal.of(Add(bad))))), VerificationError, "10.1")


def test_expired_key_package(suite: int) -> None:
    room = Room.with_members(2, suite)
    late = room.client("late")
    expired = late.key_package(lifetime=60, now=1_000_000).key_package
    assert expired.leaf_node.lifetime == Lifetime(1_000_000 - 3600, 1_000_060)
    before = room.group(0).to_bytes()
    with pytest.raises(ProtocolError) as caught:
        room.group(0).commit(add=[expired])  # the sender MUST check (§7.3)
    assert caught.value.section == "7.3" and room.group(0).to_bytes() == before
    with pytest.raises(ProtocolError):
        room.group(0).propose_add(expired)
    # A receiver checks too when its policy says so.
    strict = Group.from_bytes(room.group(1).to_bytes(), config=GroupConfig(check_received_lifetimes=True))
    refused(strict, forge(room.group(0), Commit(refs(Proposal.of(Add(expired))))), ProtocolError, "7.3")


def test_welcome_not_meant_for_us(suite: int) -> None:
    room = Room.with_members(2, suite)
    invited, outsider = room.client("invited"), room.client("outsider")
    result = room.group(0).commit(add=[invited.key_package().key_package])
    assert result.welcome is not None
    with pytest.raises(ProtocolError) as caught:
        Group.join(result.welcome, outsider.key_package(), outsider.signature_private)
    assert caught.value.section == "12.4.3.1"


# --- proposal lists (§12.2) --------------------------------------------------------------------

INVALID_LISTS: dict[str, Callable[[Room], tuple[ProposalOrRef, ...]]] = {
    "remove of the committer": lambda room: refs(Proposal.of(Remove(0))),
    "two removes of one leaf": lambda room: refs(Proposal.of(Remove(2)), Proposal.of(Remove(2))),
    "two adds of one client": lambda room: twice(Add(room.client("twice").key_package().key_package)),
    "the same PSK twice": lambda room: twice(
        PreSharedKey(PreSharedKeyID.external(b"id", bytes(room.group(0).cipher_suite.nh)))
    ),
    "two GroupContextExtensions": lambda room: refs(
        Proposal.of(GroupContextExtensions(())), Proposal.of(GroupContextExtensions(()))
    ),
    "a ReInit with another proposal": lambda room: refs(
        Proposal.of(ReInit(b"g", 1, room.suite_id, ())), Proposal.of(Remove(2))
    ),
    "an ExternalInit in a regular commit": lambda room: refs(Proposal.of(ExternalInit(b"kem output"))),
    "an Update by value from the committer": lambda room: refs(update_body(room.group(0))),
}


def twice(body: Add | PreSharedKey) -> tuple[ProposalOrRef, ...]:
    return refs(Proposal.of(body), Proposal.of(body))


def update_body(group: Group) -> Proposal:
    message = group.propose_update()
    body = message.body
    assert isinstance(body, PublicMessage) and body.content.proposal is not None
    return body.content.proposal


@pytest.mark.parametrize("case", sorted(INVALID_LISTS))
def test_invalid_proposal_list(suite: int, case: str) -> None:
    room = Room.with_members(4, suite)
    path = update_path_of(room.group(0))
    message = forge(room.group(0), Commit(INVALID_LISTS[case](room), path))
    refused(room.group(1), message, ProtocolError, "12.2")


def test_committers_own_update_and_conflicts_by_reference(suite: int) -> None:
    room = Room.with_members(4, suite)
    own_update = room.group(0).propose_update()
    room.deliver(room.clients[0], own_update)
    update_2 = room.group(2).propose_update()
    room.deliver(room.clients[2], update_2)
    pending = {p.sender.leaf_index: p.ref for p in room.group(1).pending_proposals}
    path = update_path_of(room.group(0))
    refused(room.group(1), forge(room.group(0), Commit(refs(pending[0]), path)), ProtocolError, "12.2")
    both = refs(pending[2], Proposal.of(Remove(2)))
    refused(room.group(1), forge(room.group(0), Commit(both, path)), ProtocolError, "12.2")
    refused(room.group(1), forge(room.group(0), Commit(refs(b"\x00" * 32), path)), ProtocolError, "12.4.2")
    # Creating such a list is refused as well.
    with pytest.raises(ProtocolError) as caught:
        room.group(0).commit(remove=[2, 2])
    assert caught.value.section == "12.2"


# --- application rules ------------------------------------------------------------------------


class OnlyAdminRemoves:
    """A GroupPolicy: only leaf 0 may remove members."""

    def check_proposal(self, context: PolicyContext, proposal: ProposalInContext) -> None:
        if proposal.proposal.remove is not None and proposal.sender.leaf_index != 0:
            raise ProtocolError("only the admin removes members", section="12.2")

    def check_commit(self, context: PolicyContext, committer: Sender, proposals: object) -> None:
        for item in proposals:  # type: ignore[attr-defined]
            self.check_proposal(context, item)


class NoMallory:
    def validate(self, credential: Credential, signature_key: bytes) -> None:
        if credential.identity == b"mallory":
            raise ProtocolError("unknown identity", section="5.3.1")

    def same_client(self, old: Credential, new: Credential) -> bool:
        return old == new


def test_policy_veto(suite: int) -> None:
    room = Room.with_members(3, suite)
    policy = GroupConfig(policy=OnlyAdminRemoves())
    guarded = Group.from_bytes(room.group(2).to_bytes(), config=policy)
    refused(guarded, room.group(1).propose_remove(0), ProtocolError, "12.2")
    path = update_path_of(room.group(1))
    refused(guarded, forge(room.group(1), Commit(refs(Proposal.of(Remove(0))), path)), ProtocolError, "12.2")


def test_policy_veto_of_a_private_proposal_spends_no_key(suite: int) -> None:
    # An authentic PrivateMessage proposal that our rules refuse changes nothing, not even the
    # sender's ratchet: the next message from the same sender still opens.
    room = Room.with_members(3, suite)
    private = GroupConfig(handshake_wire_format=WireFormat.mls_private_message)
    sender = Group.from_bytes(room.group(1).to_bytes(), config=private)
    guarded = Group.from_bytes(room.group(2).to_bytes(), config=GroupConfig(policy=OnlyAdminRemoves()))
    proposal = sender.propose_remove(0)
    assert proposal.private_message is not None
    refused(guarded, proposal, ProtocolError, "12.2")
    later = guarded.process(sender.protect(b"still here"))
    assert isinstance(later, ApplicationMessage) and later.data == b"still here"


def test_credential_validator_veto(suite: int) -> None:
    room = Room.with_members(2, suite)
    mallory = room.client("mallory")
    guarded = Group.from_bytes(room.group(1).to_bytes(), config=GroupConfig(credentials=NoMallory()))
    result = room.group(0).commit(add=[mallory.key_package().key_package])
    refused(guarded, result.commit, ProtocolError, "5.3.1")


# --- every refusal names its section -------------------------------------------------------------


@dataclasses.dataclass
class Damageable:
    """Real messages of a 4-member group, and the state of a member to feed damaged copies to."""

    receiver_state: bytes
    joiner: Client
    messages: dict[str, bytes]


_DAMAGEABLE: dict[int, Damageable] = {}


def damageable(suite: int) -> Damageable:
    if suite not in _DAMAGEABLE:
        room = Room.with_members(3, suite)
        joiner = room.client("joiner")
        added = room.group(0).commit(add=[joiner.key_package().key_package])
        assert added.welcome is not None
        receiver_state = room.group(1).to_bytes()
        commit = room.group(0).commit(update=True)
        room.group(0).discard(commit.staged)
        messages = {
            "commit": commit.commit.encode(),
            "proposal": room.group(0).propose_remove(2).encode(),
            "application": room.group(0).protect(b"hello").encode(),
            "welcome": added.welcome.encode(),
        }
        _DAMAGEABLE[suite] = Damageable(receiver_state, joiner, messages)
    return _DAMAGEABLE[suite]


@settings(max_examples=120, deadline=None)
@given(data=st.data())
def test_every_refusal_of_damaged_input_names_its_section(suite: int, data: st.DataObject) -> None:
    """Damaged commits, proposals, application messages and Welcomes: each refusal is typed, names
    an RFC section, and leaves the receiver as it was."""
    case = damageable(suite)
    kind = data.draw(st.sampled_from(sorted(case.messages)))
    message = data.draw(damaged(case.messages[kind]))
    receiver = Group.from_bytes(case.receiver_state)
    try:
        if kind == "welcome":
            Group.join(message, case.joiner.bundles[-1], case.joiner.signature_private)
        else:
            receiver.process(message)
    except UsageError:
        pass  # e.g. bytes that now parse as a KeyPackage: local misuse, not a protocol rule
    except MLSError as exc:
        assert exc.section is not None, f"{type(exc).__name__} without a section: {exc}"
        assert receiver.to_bytes() == case.receiver_state
