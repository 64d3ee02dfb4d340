"""Interop with mls-rs (agentvault-mls-rs-uniffi), suite 0x0001, in both directions.

Facts about the binding: ../shared/docs/mls-brief.md §4. After every commit,
every member (Calpico and mls-rs) agrees on the epoch and the exporter output.
"""

from __future__ import annotations

import pytest

from calpico.mls import ApplicationMessage, Credential, Group, MLSMessage, StagedCommit, create_key_package, get_suite

mls_rs = pytest.importorskip("mls_rs_uniffi")

SUITE = 1
LABEL, CONTEXT = b"interop", b"check"


def rs_client(name: bytes) -> object:
    keypair = mls_rs.generate_signature_keypair(mls_rs.CipherSuite.CURVE25519_AES128)
    return mls_rs.Client(name, keypair, mls_rs.client_config_default())


def rs_message(message: MLSMessage) -> object:
    return mls_rs.Message.from_bytes(message.encode())


class Calpico:
    def __init__(self, name: bytes) -> None:
        self.name = name
        self.signature_private, self.signature_public = get_suite(SUITE).generate_signature_key_pair()
        self.group: Group | None = None

    def key_package(self) -> tuple[MLSMessage, object]:
        bundle = create_key_package(SUITE, Credential.basic(self.name), self.signature_private)
        return MLSMessage.of(bundle.key_package), bundle

    def process_commit(self, wire: bytes) -> StagedCommit:
        assert self.group is not None
        staged = self.group.process(wire)
        assert isinstance(staged, StagedCommit)
        self.group.merge(staged)
        return staged


def agree(calpico: list[Calpico], rust: list[object]) -> None:
    groups = [c.group for c in calpico if c.group is not None]
    exported = {bytes(rs.export_secret(LABEL, CONTEXT, 32)) for rs in rust}
    exported |= {g.export_secret(LABEL, CONTEXT, 32) for g in groups}
    assert len(exported) == 1
    epochs = {g.epoch for g in groups}
    assert len(epochs) == 1


def test_mls_rs_creates_the_group_and_calpico_joins() -> None:
    alice = rs_client(b"alice")
    alice_group = alice.create_group(b"interop room")
    bob = Calpico(b"bob")
    kp_message, bundle = bob.key_package()
    out = alice_group.add_members([mls_rs.Message.from_bytes(kp_message.encode())])
    alice_group.process_incoming_message(out.commit_message)
    bob.group = Group.join(out.welcome_message.to_bytes(), bundle, bob.signature_private)
    agree([bob], [alice_group])
    assert bob.group.member_count == 2

    # Application messages, both ways.
    received = bob.group.process(alice_group.encrypt_application_message(b"hi bob").to_bytes())
    assert isinstance(received, ApplicationMessage) and received.data == b"hi bob"
    assert received.sender.credential == Credential.basic(b"alice")
    answer = alice_group.process_incoming_message(rs_message(bob.group.protect(b"hi alice")))
    assert answer.is_application_message() and answer.data == b"hi alice"

    # An empty commit (with a path).
    out = alice_group.commit()
    alice_group.process_incoming_message(out.commit_message)
    bob.process_commit(out.commit_message.to_bytes())
    agree([bob], [alice_group])

    # An Add of another mls-rs client, then its removal.
    carol = rs_client(b"carol")
    out = alice_group.add_members([carol.generate_key_package_message()])
    alice_group.process_incoming_message(out.commit_message)
    staged = bob.process_commit(out.commit_message.to_bytes())
    assert [type(e).__name__ for e in staged.events] == ["MemberAdded"]
    carol_group = carol.join_group(None, out.welcome_message).group
    agree([bob], [alice_group, carol_group])

    out = alice_group.remove_members([carol.signing_identity()])
    alice_group.process_incoming_message(out.commit_message)
    staged = bob.process_commit(out.commit_message.to_bytes())
    assert [type(e).__name__ for e in staged.events] == ["MemberRemoved"]
    agree([bob], [alice_group])
    assert bob.group.member_count == 2

    received = bob.group.process(alice_group.encrypt_application_message(b"still here").to_bytes())
    assert isinstance(received, ApplicationMessage) and received.data == b"still here"
    answer = alice_group.process_incoming_message(rs_message(bob.group.protect(b"me too")))
    assert answer.data == b"me too"


def test_calpico_creates_the_group_with_mls_rs_members() -> None:
    alice = Calpico(b"alice")
    alice.group = Group.create(SUITE, Credential.basic(b"alice"), alice.signature_private, group_id=b"calpico room")
    bob, carol = rs_client(b"bob"), rs_client(b"carol")
    dave = Calpico(b"dave")
    dave_kp, dave_bundle = dave.key_package()
    packages = [
        MLSMessage.decode(bob.generate_key_package_message().to_bytes()),
        MLSMessage.decode(carol.generate_key_package_message().to_bytes()),
        dave_kp,
    ]
    result = alice.group.commit(add=packages)
    alice.group.merge(result.staged)
    assert result.welcome is not None
    welcome = rs_message(result.welcome)
    bob_group = bob.join_group(None, welcome).group
    carol_group = carol.join_group(None, welcome).group
    dave.group = Group.join(result.welcome.encode(), dave_bundle, dave.signature_private)
    agree([alice, dave], [bob_group, carol_group])

    # A commit with a path, processed by everyone.
    result = alice.group.commit(update=True)
    alice.group.merge(result.staged)
    for group in (bob_group, carol_group):
        assert group.process_incoming_message(rs_message(result.commit)).is_commit()
    dave.process_commit(result.commit.encode())
    agree([alice, dave], [bob_group, carol_group])

    # Remove carol (an mls-rs member).
    carol_leaf = next(m.leaf_index for m in alice.group.members() if m.credential == Credential.basic(b"carol"))
    result = alice.group.commit(remove=[carol_leaf])
    alice.group.merge(result.staged)
    bob_group.process_incoming_message(rs_message(result.commit))
    dave.process_commit(result.commit.encode())
    agree([alice, dave], [bob_group])
    assert alice.group.member_count == 3

    # An mls-rs commit processed by the Calpico members.
    out = bob_group.commit()
    bob_group.process_incoming_message(out.commit_message)
    alice.process_commit(out.commit_message.to_bytes())
    dave.process_commit(out.commit_message.to_bytes())
    agree([alice, dave], [bob_group])

    # Messages both ways.
    wire = alice.group.protect(b"hello from calpico")
    assert bob_group.process_incoming_message(rs_message(wire)).data == b"hello from calpico"
    received = dave.group.process(wire.encode())
    assert isinstance(received, ApplicationMessage) and received.data == b"hello from calpico"
    from_rs = bob_group.encrypt_application_message(b"hello from mls-rs").to_bytes()
    for member in (alice, dave):
        assert member.group is not None
        received = member.group.process(from_rs)
        assert isinstance(received, ApplicationMessage) and received.data == b"hello from mls-rs"
