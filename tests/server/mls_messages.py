"""Builders for the MLS messages the server tests send.

The server never verifies MLS signatures or MACs (it has no group keys), so
these messages carry dummy signatures and tags; everything the server does
read — framing, senders, proposals, KeyPackages and their refs, Welcome
recipients — is real `calpico.mls` structure.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from calpico.mls.commit import Commit, HPKECiphertext
from calpico.mls.credentials import Credential
from calpico.mls.crypto import get_suite
from calpico.mls.framing import ContentType, FramedContent, FramedContentAuthData, PublicMessage, Sender
from calpico.mls.group_context import ProtocolVersion
from calpico.mls.key_package import KeyPackage
from calpico.mls.messages import MLSMessage
from calpico.mls.private_message import PrivateMessage
from calpico.mls.proposals import Add, Proposal, ProposalOrRef, Remove
from calpico.mls.tree.nodes import Capabilities, LeafNode, LeafNodeSource, Lifetime
from calpico.mls.welcome import EncryptedGroupSecrets, Welcome
from calpico.wire.accounts import AUTH_CHALLENGE_LABEL, auth_challenge_content

SUITE = 1
KP_LABEL = b"MLS 1.0 KeyPackage Reference"


@dataclass(frozen=True)
class DeviceKeys:
    private_key: bytes
    public_key: bytes

    @classmethod
    def generate(cls) -> DeviceKeys:
        pair = get_suite(SUITE).generate_signature_key_pair()
        return cls(bytes(pair.private_key), pair.public_key)

    def sign_challenge(self, nonce: bytes, device_id: str, server_name: str) -> bytes:
        content = auth_challenge_content(nonce, device_id, server_name)
        return get_suite(SUITE).sign_with_label(self.private_key, AUTH_CHALLENGE_LABEL, content)


def key_package(keys: DeviceKeys, identity: bytes = b"device") -> bytes:
    """An MLSMessage(KeyPackage) whose leaf carries ``keys``' signature key."""
    leaf = LeafNode(
        encryption_key=os.urandom(32),
        signature_key=keys.public_key,
        credential=Credential.basic(identity),
        capabilities=Capabilities(versions=(1,), cipher_suites=(SUITE,), credentials=(1,)),
        leaf_node_source=LeafNodeSource.key_package,
        lifetime=Lifetime(0, 2**64 - 1),
        parent_hash=None,
        extensions=(),
        signature=b"leaf-signature",
    )
    kp = KeyPackage(ProtocolVersion.mls10, SUITE, os.urandom(32), leaf, (), b"kp-signature")
    return MLSMessage.of(kp).encode()


def key_package_ref(kp_message: bytes) -> bytes:
    kp = MLSMessage.decode(kp_message).key_package
    assert kp is not None
    return get_suite(SUITE).ref_hash(KP_LABEL, kp.encode())


def application(group_id: bytes, epoch: int, ciphertext: bytes) -> bytes:
    """An MLSMessage(PrivateMessage) with opaque ``ciphertext``."""
    pm = PrivateMessage(group_id, epoch, ContentType.application, b"", os.urandom(16), ciphertext)
    return MLSMessage.of(pm).encode()


def _public(group_id: bytes, epoch: int, leaf: int, body: Proposal | Commit) -> bytes:
    content = FramedContent.of(group_id, epoch, Sender.member(leaf), body)
    tag = b"confirmation-tag" if isinstance(body, Commit) else None
    auth = FramedContentAuthData(b"signature", tag)
    return MLSMessage.of(PublicMessage(content, auth, b"membership-tag")).encode()


def commit(
    group_id: bytes,
    epoch: int,
    leaf: int,
    adds: tuple[bytes, ...] = (),
    removes: tuple[int, ...] = (),
    refs: tuple[bytes, ...] = (),
) -> bytes:
    """A PublicMessage commit from ``leaf`` adding the given KeyPackages and removing leaves."""
    items: list[ProposalOrRef] = []
    for kp in adds:
        decoded = MLSMessage.decode(kp).key_package
        assert decoded is not None
        items.append(ProposalOrRef.of(Add(decoded)))
    items.extend(ProposalOrRef.of(Remove(r)) for r in removes)
    items.extend(ProposalOrRef.of(r) for r in refs)
    return _public(group_id, epoch, leaf, Commit(tuple(items), None))


def remove_proposal(group_id: bytes, epoch: int, leaf: int, removed: int) -> bytes:
    return _public(group_id, epoch, leaf, Proposal.of(Remove(removed)))


def proposal_ref(message: bytes) -> bytes:
    public = MLSMessage.decode(message).public_message
    assert public is not None
    return get_suite(SUITE).ref_hash(b"MLS 1.0 Proposal Reference", public.authenticated_content().encode())


def welcome(*kp_messages: bytes) -> bytes:
    """An MLSMessage(Welcome) with secrets for the holders of these KeyPackages."""
    secrets = tuple(
        EncryptedGroupSecrets(key_package_ref(kp), HPKECiphertext(os.urandom(32), os.urandom(48))) for kp in kp_messages
    )
    return MLSMessage.of(Welcome(SUITE, secrets, os.urandom(64))).encode()
