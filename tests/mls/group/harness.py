"""An in-memory harness for N-member groups: a fake delivery service that orders commits.

`Room` is the ConnectionPair of the group tests (STYLE.md): clients share one
ordered log, like the server would keep. A client sends; `deliver` hands the
message to every other member, and a commit is merged by its author (as
after the server's acceptance) and by everyone who processed it. After
each commit `check_agreement` asserts that all members share the epoch,
epoch authenticator, tree hash and exporter output.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from calpico.mls import (
    ApplicationMessage,
    Credential,
    Group,
    GroupConfig,
    KeyPackageBundle,
    MLSMessage,
    ProposalReceived,
    ProtocolError,
    StagedCommit,
    create_key_package,
    get_suite,
)
from calpico.mls.group import CommitResult

SUITES = [1, 0x004D]


@dataclass
class Client:
    """A device: its name, signature key pair and (once joined) its group."""

    name: bytes
    suite_id: int
    signature_private: bytes
    signature_public: bytes
    config: GroupConfig
    group: Group | None = None
    bundles: list[KeyPackageBundle] = field(default_factory=list)

    @classmethod
    def new(cls, name: str, suite_id: int = 1, rng: random.Random | None = None, **config: object) -> Client:
        suite = get_suite(suite_id)
        gen = rng.randbytes if rng is not None else None
        private, public = suite.generate_signature_key_pair(gen)
        return cls(name.encode(), suite_id, private, public, GroupConfig(**config))  # type: ignore[arg-type]

    @property
    def credential(self) -> Credential:
        return Credential.basic(self.name)

    def key_package(self, **kwargs: object) -> KeyPackageBundle:
        bundle = create_key_package(
            self.suite_id,
            self.credential,
            self.signature_private,
            rng=self.config.rng,
            **kwargs,  # type: ignore[arg-type]
        )
        self.bundles.append(bundle)
        return bundle

    def join(self, welcome: MLSMessage, ratchet_tree: bytes | None = None) -> Group:
        wire = welcome.encode()
        error: Exception | None = None
        for bundle in reversed(self.bundles):  # the newest KeyPackage first
            try:
                self.group = Group.join(
                    wire, bundle, self.signature_private, ratchet_tree=ratchet_tree, config=self.config
                )
            except Exception as exc:
                error = exc
                continue
            return self.group
        assert error is not None, f"{self.name!r} has no KeyPackage"
        raise error


class Room:
    """Clients in one group, and a delivery service that hands each message to every other member."""

    def __init__(self, suite_id: int = 1, seed: int | None = None) -> None:
        self.suite_id = suite_id
        self.rng = random.Random(seed) if seed is not None else None
        self.clients: list[Client] = []

    def client(self, name: str) -> Client:
        config: dict[str, object] = {}
        if self.rng is not None:
            config["rng"] = self.rng.randbytes
        return Client.new(name, self.suite_id, self.rng, **config)

    @classmethod
    def with_members(cls, n: int, suite_id: int = 1, seed: int | None = None) -> Room:
        room = cls(suite_id, seed)
        creator = room.client("member-0")
        creator.group = Group.create(suite_id, creator.credential, creator.signature_private, config=creator.config)
        room.clients.append(creator)
        if n > 1:
            joiners = [room.client(f"member-{i}") for i in range(1, n)]
            room.add(creator, joiners)
        return room

    @property
    def members(self) -> list[Client]:
        return [c for c in self.clients if c.group is not None and c.group.is_active]

    def group(self, index: int) -> Group:
        group = self.clients[index].group
        assert group is not None
        return group

    def add(self, committer: Client, joiners: list[Client]) -> CommitResult:
        assert committer.group is not None
        packages = [j.key_package().key_package for j in joiners]
        result = committer.group.commit(add=packages)
        self.clients.extend(joiners)
        self.deliver_commit(committer, result)
        self.check_agreement()
        return result

    def join_waiting(self, welcome: MLSMessage) -> None:
        """Clients waiting to join (proposed or added) join from ``welcome`` if it is for them.

        A Welcome not for a waiting client means its Add was not committed in
        that epoch, so it never will be: it stops waiting.
        """
        for client in self.clients:
            if client.group is None and client.bundles:
                try:
                    client.join(MLSMessage.decode(welcome.encode()))
                except ProtocolError as exc:
                    assert exc.section == "12.4.3.1"
                    client.bundles.clear()

    def deliver(self, sender: Client, message: MLSMessage) -> dict[bytes, object]:
        """Hand ``message`` to every other active member; returns what each one's process() gave."""
        wire = message.encode()
        out: dict[bytes, object] = {}
        for client in self.members:
            if client is sender:
                continue
            assert client.group is not None
            out[client.name] = client.group.process(wire)
        return out

    def deliver_commit(self, committer: Client, result: CommitResult) -> dict[bytes, object]:
        """The server accepted ``result.commit``: everyone else processes and merges it; so does the committer."""
        receivers = [c for c in self.members if c is not committer]
        staged_by: dict[bytes, object] = {}
        for client in receivers:
            assert client.group is not None
            staged = client.group.process(result.commit.encode())
            assert isinstance(staged, StagedCommit)
            staged_by[client.name] = staged
        assert committer.group is not None
        committer.group.merge(result.staged)
        for client in receivers:
            assert client.group is not None
            staged = staged_by[client.name]
            assert isinstance(staged, StagedCommit)
            client.group.merge(staged)
        if result.welcome is not None:
            self.join_waiting(result.welcome)
        return staged_by

    def check_agreement(self) -> None:
        groups = [c.group for c in self.members if c.group is not None]
        first = groups[0]
        for group in groups[1:]:
            assert group.epoch == first.epoch
            assert group.epoch_authenticator == first.epoch_authenticator
            assert group.tree_hash() == first.tree_hash()
            assert group.export_secret(b"check", b"", 16) == first.export_secret(b"check", b"", 16)
        assert first.member_count == len(groups)


__all__ = ["SUITES", "ApplicationMessage", "Client", "ProposalReceived", "Room"]
