"""A small group in one epoch, for the message-protection tests: keys per leaf and the epoch's secrets.

Nothing here is protocol logic: it only holds what the group state machine
would hand to message protection (GroupContext, secrets, a secret tree per
member, and the tree's signature keys by leaf).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from calpico.mls.crypto import CipherSuite, KeyPair, get_suite
from calpico.mls.errors import ProtocolError
from calpico.mls.framing import FramedContent, Sender, SenderType
from calpico.mls.group_context import GroupContext, ProtocolVersion
from calpico.mls.key_schedule import derive_epoch
from calpico.mls.secret_tree import SecretTree


@dataclass
class Epoch:
    """An epoch of a group of ``n_leaves`` members, with blank leaves listed in ``blank``."""

    suite: CipherSuite
    n_leaves: int = 4
    blank: frozenset[int] = frozenset()
    seed: int = 1
    external_keys: list[KeyPair] = field(default_factory=list)

    def __post_init__(self) -> None:
        rng = random.Random(self.seed).randbytes
        nh = self.suite.nh
        self.context = GroupContext(
            ProtocolVersion.mls10, self.suite.suite_id, b"calpico room", 42, rng(nh), rng(nh), ()
        )
        self.schedule = derive_epoch(self.suite, rng(nh), rng(nh), self.context)
        self.signature_keys = [self.suite.generate_signature_key_pair(rng) for _ in range(self.n_leaves)]
        self.external_keys = [self.suite.generate_signature_key_pair(rng)]

    @property
    def membership_key(self) -> bytes:
        return self.schedule.secrets.membership_key

    @property
    def sender_data_secret(self) -> bytes:
        return self.schedule.secrets.sender_data_secret

    def tree(self) -> SecretTree:
        """A member's own copy of the epoch's secret tree."""
        return SecretTree(self.suite, self.schedule.encryption_secret, self.n_leaves)

    def private_key(self, leaf: int) -> bytes:
        return self.signature_keys[leaf].private_key

    def leaf_signature_key(self, leaf: int) -> bytes | None:
        """The LeafSignatureKey the ratchet tree would give."""
        if leaf in self.blank or leaf >= self.n_leaves:
            return None
        return self.signature_keys[leaf].public_key

    def signature_key(self, sender: Sender, content: FramedContent) -> bytes:
        """The SignatureKeyLookup the group would give (§6.1)."""
        if sender.sender_type == SenderType.member and sender.leaf_index is not None:
            key = self.leaf_signature_key(sender.leaf_index)
            if key is None:
                raise ProtocolError(f"leaf {sender.leaf_index} is blank", section="6.1")
            return key
        if sender.sender_type == SenderType.external and sender.sender_index == 0:
            return self.external_keys[0].public_key
        if sender.sender_type == SenderType.new_member_commit and content.commit and content.commit.path:
            return content.commit.path.leaf_node.signature_key
        if sender.sender_type == SenderType.new_member_proposal and content.proposal and content.proposal.add:
            return content.proposal.add.key_package.leaf_node.signature_key
        raise ProtocolError("unknown sender", section="6.1")


def epoch(suite_id: int = 1, **kwargs: object) -> Epoch:
    return Epoch(get_suite(suite_id), **kwargs)  # type: ignore[arg-type]
