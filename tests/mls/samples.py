"""Small, valid instances of the MLS wire structs, for the struct tests.

Every builder takes keyword overrides for the fields a test cares about. The
byte values are arbitrary: nothing here is signed or encrypted.
"""

from __future__ import annotations

from calpico.mls.commit import Commit, HPKECiphertext, UpdatePath, UpdatePathNode
from calpico.mls.credentials import Credential
from calpico.mls.extensions import Extension, ExternalPub
from calpico.mls.framing import (
    ContentType,
    FramedContent,
    FramedContentAuthData,
    PublicMessage,
    Sender,
    SenderType,
)
from calpico.mls.group_context import GroupContext, ProtocolVersion
from calpico.mls.key_package import KeyPackage
from calpico.mls.proposals import Proposal, Remove
from calpico.mls.psk import PreSharedKeyID, ResumptionPSKUsage
from calpico.mls.tree.nodes import Capabilities, LeafNode, LeafNodeSource, Lifetime
from calpico.mls.welcome import GroupInfo

GREASE_EXTENSION = Extension(0x0A0A, b"\xff\x00 any bytes")

CAPABILITIES = Capabilities(
    versions=(1,),
    cipher_suites=(1, 0x1A1A),
    extensions=(0x0A0A, 0xF001),
    proposals=(0x2A2A,),
    credentials=(1, 0x3A3A),
)


def leaf_node(source: LeafNodeSource = LeafNodeSource.key_package, **overrides: object) -> LeafNode:
    fields: dict[str, object] = {
        "encryption_key": b"E" * 32,
        "signature_key": b"S" * 32,
        "credential": Credential.basic(b"alice"),
        "capabilities": CAPABILITIES,
        "leaf_node_source": source,
        "lifetime": Lifetime(1, 2**64 - 1) if source == LeafNodeSource.key_package else None,
        "parent_hash": b"P" * 32 if source == LeafNodeSource.commit else None,
        "extensions": (GREASE_EXTENSION,),
        "signature": b"sig" * 21,
    }
    fields.update(overrides)
    return LeafNode(**fields)  # type: ignore[arg-type]


def key_package(**overrides: object) -> KeyPackage:
    fields: dict[str, object] = {
        "version": ProtocolVersion.mls10,
        "cipher_suite": 1,
        "init_key": b"I" * 32,
        "leaf_node": leaf_node(),
        "extensions": (Extension(0x4A4A, b""),),
        "signature": b"kp-signature",
    }
    fields.update(overrides)
    return KeyPackage(**fields)  # type: ignore[arg-type]


def group_context(**overrides: object) -> GroupContext:
    fields: dict[str, object] = {
        "version": ProtocolVersion.mls10,
        "cipher_suite": 1,
        "group_id": b"group",
        "epoch": 7,
        "tree_hash": b"T" * 32,
        "confirmed_transcript_hash": b"C" * 32,
        "extensions": (),
    }
    fields.update(overrides)
    return GroupContext(**fields)  # type: ignore[arg-type]


def update_path() -> UpdatePath:
    node = UpdatePathNode(b"N" * 32, (HPKECiphertext(b"K" * 32, b"ct"), HPKECiphertext(b"k", b"")))
    return UpdatePath(leaf_node(LeafNodeSource.commit), (node,))


def commit() -> Commit:
    return Commit.of([Remove(2), b"R" * 32], update_path())


def psk_id() -> PreSharedKeyID:
    return PreSharedKeyID.resumption(ResumptionPSKUsage.application, b"other group", 3, b"n" * 32)


def auth(content_type: ContentType) -> FramedContentAuthData:
    tag = b"confirm" if content_type == ContentType.commit else None
    return FramedContentAuthData(b"signature", tag)


def framed_content(content_type: ContentType, sender: Sender | None = None) -> FramedContent:
    body: bytes | Proposal | Commit
    if content_type == ContentType.application:
        body = b"hello"
    elif content_type == ContentType.proposal:
        body = Proposal.of(Remove(1))
    else:
        body = commit()
    return FramedContent.of(b"group", 7, sender or Sender.member(0), body, authenticated_data=b"aad")


def public_message(content_type: ContentType, sender: Sender | None = None) -> PublicMessage:
    content = framed_content(content_type, sender)
    tag = b"membership" if content.sender.sender_type == SenderType.member else None
    return PublicMessage(content, auth(content_type), tag)


def group_info() -> GroupInfo:
    return GroupInfo(group_context(), (Extension.of(ExternalPub(b"X" * 32)), GREASE_EXTENSION), b"tag", 3, b"gi-sig")
