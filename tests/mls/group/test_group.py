"""The Group API through its life: create, add, join, messages, proposals, commits, leave, PSKs, extensions.

Every test runs on suite 1 and on the post-quantum 0x004D.
"""

from __future__ import annotations

import pytest

from calpico.mls import (
    ApplicationMessage,
    Credential,
    Extension,
    ExtensionsChanged,
    Group,
    GroupConfig,
    MemberAdded,
    MemberRemoved,
    MemberUpdated,
    MLSMessage,
    PreSharedKeyID,
    ProposalReceived,
    PskUsed,
    ReInitCommitted,
    RemovedFromGroup,
    StagedCommit,
    UsageError,
)
from calpico.mls.extensions import ExternalSender, ExternalSenders
from calpico.mls.framing import SenderType, WireFormat
from calpico.mls.group import external_proposal, new_member_proposal
from calpico.mls.proposals import Remove
from calpico.mls.tree.nodes import Capabilities

from .harness import SUITES, Client, Room

pytestmark = pytest.mark.parametrize("suite", SUITES, ids=lambda s: f"cs{s:#06x}")


def test_create_add_join_and_talk(suite: int) -> None:
    room = Room.with_members(4, suite)
    alice, bob = room.clients[0], room.clients[1]
    assert room.group(0).epoch == 1 and room.group(0).member_count == 4
    assert [m.credential.identity for m in room.group(3).members()] == [b"member-%d" % i for i in range(4)]
    out = room.deliver(alice, room.group(0).protect(b"hello", authenticated_data=b"meta"))
    for event in out.values():
        assert isinstance(event, ApplicationMessage)
        assert event.data == b"hello" and event.authenticated_data == b"meta"
        assert event.sender.leaf_index == 0 and event.sender.credential == alice.credential
    out = room.deliver(bob, room.group(1).protect(b"back"))
    assert {e.data for e in out.values() if isinstance(e, ApplicationMessage)} == {b"back"}


def test_commit_events_for_adds_removes_and_updates_by_reference(suite: int) -> None:
    room = Room.with_members(5, suite)
    alice, bob, carol = room.clients[:3]
    proposals = [room.group(1).propose_update(), room.group(0).propose_remove(3)]
    room.deliver(bob, proposals[0])
    room.deliver(alice, proposals[1])
    for group in (room.group(2), room.group(4)):
        assert len(group.pending_proposals) == 2
    result = room.group(2).commit()
    staged = room.deliver_commit(carol, result)
    events = staged[b"member-0"].events  # type: ignore[attr-defined]
    assert [type(e) for e in events] == [MemberUpdated, MemberRemoved]
    assert events[1].member.leaf_index == 3 and events[1].by.leaf_index == 0
    assert isinstance(staged[b"member-3"], StagedCommit) and staged[b"member-3"].removes_us  # type: ignore[union-attr]
    assert not room.clients[3].group.is_active  # type: ignore[union-attr]
    room.check_agreement()
    assert room.group(0).member_count == 4


def test_leave_is_a_self_remove_committed_by_another_member(suite: int) -> None:
    room = Room.with_members(3, suite)
    leaver = room.clients[2]
    proposal = room.group(2).propose_leave()
    received = room.deliver(leaver, proposal)
    assert all(isinstance(e, ProposalReceived) and e.proposal.remove == Remove(2) for e in received.values())
    result = room.group(0).commit()
    leaver_staged = room.group(2).process(result.commit.encode())
    assert isinstance(leaver_staged, StagedCommit)
    assert any(isinstance(e, RemovedFromGroup) for e in leaver_staged.events)
    room.group(2).merge(leaver_staged)
    assert not room.group(2).is_active
    with pytest.raises(UsageError):
        room.group(2).protect(b"still here?")
    room.deliver_commit(room.clients[0], result)
    room.check_agreement()


def test_own_commit_is_staged_until_merged_and_can_be_discarded(suite: int) -> None:
    room = Room.with_members(3, suite)
    group = room.group(0)
    before = group.to_bytes()
    result = group.commit(update=True)
    assert group.epoch == 1 and result.staged.own
    group.discard(result.staged)
    assert group.to_bytes() == before
    # Another member's commit wins the race; ours can no longer be merged.
    other = room.group(1).commit(update=True)
    room.deliver_commit(room.clients[1], other)
    with pytest.raises(UsageError):
        group.merge(result.staged)
    room.check_agreement()


def test_group_context_extensions_and_policy_extension(suite: int) -> None:
    room = Room.with_members(3, suite)
    policy = Extension(0xFF01, b"admins: member-0")
    # Every member must support a non-default GroupContext extension: none does yet.
    with pytest.raises(Exception, match=r"12\.1\.7"):
        room.group(0).commit(extensions=[policy])
    room = Room(suite)
    capabilities = Capabilities(versions=(1,), cipher_suites=(suite,), extensions=(0xFF01,), credentials=(1,))
    creator = room.client("admin")
    creator.group = Group.create(
        suite, creator.credential, creator.signature_private, capabilities=capabilities, config=creator.config
    )
    room.clients.append(creator)
    joiner = room.client("guest")
    bundle = joiner.key_package(capabilities=capabilities)
    result = creator.group.commit(add=[bundle.key_package], extensions=[policy])
    assert result.welcome is not None
    creator.group.merge(result.staged)
    joiner.join(result.welcome)
    room.clients.append(joiner)
    room.check_agreement()
    assert joiner.group is not None and joiner.group.extensions == (policy,)
    events = result.staged.events
    assert isinstance(events[0], ExtensionsChanged) and events[0].new == (policy,)


def test_psks_external_and_resumption(suite: int) -> None:
    room = Room.with_members(3, suite)
    for client in room.clients:
        client.config.external_psks[b"shared"] = b"secret psk"  # type: ignore[index]
    group = room.group(0)
    resumption = PreSharedKeyID.resumption(1, group.group_id, group.epoch, b"\x01" * group.cipher_suite.nh)
    result = group.commit(psks=[b"shared", resumption])
    staged = room.deliver_commit(room.clients[0], result)
    psk_event = staged[b"member-1"].events[-1]  # type: ignore[attr-defined]
    assert isinstance(psk_event, PskUsed) and len(psk_event.psk_ids) == 2
    room.check_agreement()
    # A PSK proposal by reference; a member without the PSK cannot follow.
    room.deliver(room.clients[1], room.group(1).propose_psk(b"shared"))
    del room.clients[2].config.external_psks[b"shared"]  # type: ignore[attr-defined]
    result = room.group(0).commit()
    with pytest.raises(Exception, match=r"12\.4\.2"):
        room.group(2).process(result.commit.encode())


def test_welcome_with_tree_out_of_band_and_private_handshakes(suite: int) -> None:
    room = Room(suite)
    alice = room.client("alice")
    alice.config = GroupConfig(ratchet_tree_in_welcome=False, handshake_wire_format=WireFormat.mls_private_message)
    alice.group = Group.create(suite, alice.credential, alice.signature_private, config=alice.config)
    room.clients.append(alice)
    bob = room.client("bob")
    bob.config = alice.config
    result = alice.group.commit(add=[bob.key_package().key_package])
    alice.group.merge(result.staged)
    assert result.welcome is not None and result.commit.wire_format == WireFormat.mls_private_message
    with pytest.raises(Exception, match=r"12\.4\.3\.3"):
        bob.join(result.welcome)
    bob.join(result.welcome, ratchet_tree=alice.group.export_ratchet_tree())
    room.clients.append(bob)
    proposal = alice.group.propose_update()
    assert proposal.wire_format == WireFormat.mls_private_message
    room.deliver(alice, proposal)
    result = bob.group.commit()  # type: ignore[union-attr]
    room.deliver_commit(bob, result)
    room.check_agreement()


def test_external_commit_join_and_resync(suite: int) -> None:
    room = Room.with_members(3, suite)
    group_info = room.group(1).group_info()
    dana = room.client("dana")
    dana.group, commit = Group.join_external(
        group_info.encode(), dana.signature_private, dana.credential, config=dana.config
    )
    staged = {c.name: c.group.process(commit.encode()) for c in room.members}  # type: ignore[union-attr]
    for client in room.members:
        event = staged[client.name]
        assert isinstance(event, StagedCommit) and event.committer.sender_type == SenderType.new_member_commit
        assert isinstance(event.events[-1], MemberAdded) and event.events[-1].external
        client.group.merge(event)  # type: ignore[union-attr]
    room.clients.append(dana)
    room.check_agreement()
    # Resync: dana rejoins from a fresh GroupInfo, removing her old leaf.
    old_leaf = dana.group.own_leaf_index
    dana.group, commit = Group.join_external(
        room.group(0).group_info(), dana.signature_private, dana.credential, resync_leaf=old_leaf, config=dana.config
    )
    for client in room.members:
        if client is not dana:
            event = client.group.process(commit)  # type: ignore[union-attr]
            assert isinstance(event, StagedCommit)
            assert [type(e) for e in event.events] == [MemberRemoved, MemberAdded]
            client.group.merge(event)  # type: ignore[union-attr]
    room.check_agreement()
    room.deliver(dana, dana.group.protect(b"back again"))


def test_external_senders_and_new_member_proposals(suite: int) -> None:
    room = Room.with_members(2, suite)
    server = Client.new("server", suite)
    senders = ExternalSenders((ExternalSender(server.signature_public, server.credential),))
    result = room.group(0).commit(extensions=[Extension.of(senders)])
    room.deliver_commit(room.clients[0], result)
    group = room.group(0)
    proposal = external_proposal(
        group.group_id,
        group.epoch,
        suite,
        sender_index=0,
        signature_private_key=server.signature_private,
        proposal=Remove(1),
    )
    event = group.process(MLSMessage.of(proposal).encode())
    assert isinstance(event, ProposalReceived) and event.sender.sender_type == SenderType.external
    with pytest.raises(UsageError):
        external_proposal(
            group.group_id,
            group.epoch,
            suite,
            sender_index=0,
            signature_private_key=server.signature_private,
            proposal=group_update_body(group),
        )
    eve = room.client("eve")
    own = new_member_proposal(group.group_info().group_info, eve.key_package().key_package, eve.signature_private)  # type: ignore[arg-type]
    event = group.process(MLSMessage.of(own).encode())
    assert isinstance(event, ProposalReceived) and event.sender.sender_type == SenderType.new_member_proposal
    room.group(1).process(MLSMessage.of(proposal).encode())
    room.group(1).process(MLSMessage.of(own).encode())
    result = group.commit()
    assert result.welcome is not None
    staged = room.deliver_commit(room.clients[0], result)
    assert staged[b"member-1"].removes_us  # type: ignore[attr-defined]
    eve.join(result.welcome)
    assert eve.group is not None and eve.group.epoch_authenticator == group.epoch_authenticator


def group_update_body(group: Group) -> object:
    from calpico.mls.proposals import Update

    leaf = group.ratchet_tree.leaf_node(group.own_leaf_index)
    return Update(leaf)  # type: ignore[arg-type]


def test_reinit_stops_the_group(suite: int) -> None:
    room = Room.with_members(2, suite)
    proposal = room.group(1).propose_reinit(group_id=b"next room", cipher_suite=suite)
    room.deliver(room.clients[1], proposal)
    result = room.group(0).commit()  # pending ReInits are never committed alongside others ...
    room.deliver_commit(room.clients[0], result)
    assert room.group(0).is_active
    room.deliver(room.clients[1], room.group(1).propose_reinit(group_id=b"next room", cipher_suite=suite))
    from calpico.mls.proposals import ReInit

    reinit = ReInit(b"next room", 1, suite, ())
    result = room.group(0).commit(reinit=reinit)
    staged = room.deliver_commit(room.clients[0], result)
    assert isinstance(staged[b"member-1"].events[-1], ReInitCommitted)  # type: ignore[attr-defined]
    assert not room.group(0).is_active and room.group(1).pending_reinit == reinit
    assert room.group(0).resumption_psk() is not None


def test_late_application_messages_from_past_epochs(suite: int) -> None:
    room = Room.with_members(3, suite)
    late = room.group(2).protect(b"sent before the commit")
    result = room.group(0).commit(update=True)
    room.deliver_commit(room.clients[0], result)
    event = room.group(1).process(late.encode())
    assert isinstance(event, ApplicationMessage) and event.epoch == 1 and event.data == b"sent before the commit"
    # A removed member's late message still opens with its old leaf.
    late = room.group(2).protect(b"goodbye")
    result = room.group(0).commit(remove=[2])
    room.deliver_commit(room.clients[0], result)
    event = room.group(1).process(late.encode())
    assert isinstance(event, ApplicationMessage) and event.sender.credential == Credential.basic(b"member-2")


def test_persistence_round_trip_and_split(suite: int) -> None:
    room = Room.with_members(3, suite)
    room.deliver(room.clients[1], room.group(1).propose_update())
    group = room.group(0)
    data = group.to_bytes()
    restored = Group.from_bytes(data, config=group.config)
    assert restored.to_bytes() == data
    epoch_part = group.epoch_state_bytes()
    message_part = group.message_state_bytes()
    room.deliver(room.clients[1], room.group(1).protect(b"x"))
    assert group.epoch_state_bytes() == epoch_part  # the epoch part is stable within an epoch
    assert group.message_state_bytes() != message_part
    assert len(group.message_state_bytes()) < len(epoch_part)
    restored = Group.from_parts(group.epoch_state_bytes(), group.message_state_bytes(), config=group.config)
    room.clients[0].group = restored
    result = room.group(1).commit()
    room.deliver_commit(room.clients[1], result)
    room.check_agreement()
    with pytest.raises(Exception, match="another group or epoch"):
        Group.from_parts(epoch_part, room.group(0).message_state_bytes())


def test_grease_is_tolerated_in_key_packages(suite: int) -> None:
    room = Room.with_members(2, suite)
    grease = Capabilities(
        versions=(1, 0x0A0A),
        cipher_suites=(suite, 0x1A1A),
        extensions=(0x2A2A,),
        proposals=(0x3A3A,),
        credentials=(1, 0x4A4A),
    )
    newcomer = room.client("greasy")
    bundle = newcomer.key_package(
        capabilities=grease, leaf_extensions=(Extension(0x2A2A, b"ignored"),), extensions=(Extension(0x5A5A, b"x"),)
    )
    result = room.group(0).commit(add=[bundle.key_package])
    room.clients.append(newcomer)
    room.deliver_commit(room.clients[0], result)
    room.check_agreement()
    assert room.group(2).member_count == 3


def test_required_capabilities_bind_new_members(suite: int) -> None:
    from calpico.mls import ProtocolError
    from calpico.mls.extensions import RequiredCapabilities

    room = Room(suite)
    capabilities = Capabilities(versions=(1,), cipher_suites=(suite,), extensions=(0xFF01,), credentials=(1,))
    creator = room.client("creator")
    required = Extension.of(RequiredCapabilities(extension_types=(0xFF01,)))
    creator.group = Group.create(
        suite, creator.credential, creator.signature_private, extensions=[required], capabilities=capabilities
    )
    plain = room.client("plain").key_package().key_package
    with pytest.raises(ProtocolError) as caught:
        creator.group.commit(add=[plain])
    assert caught.value.section == "11.1"
    capable = room.client("capable").key_package(capabilities=capabilities).key_package
    result = creator.group.commit(add=[capable])
    creator.group.merge(result.staged)
    assert creator.group.member_count == 2
