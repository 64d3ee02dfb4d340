"""Bad input: every top-level decoder raises only DecodeError, and never hangs.

Two kinds of input go to every decoder:

- random bytes, and
- real encodings (the official ``messages`` vectors when present, and the
  samples of tests/mls/samples.py) with bytes flipped, inserted, deleted,
  overwritten with length-prefix boundary values, or cut off, so that the
  decoders get deep into the grammar before they meet the damage.

Anything but `DecodeError` escaping (IndexError, struct.error, ValueError,
UnicodeDecodeError, RecursionError, ...) fails the test. When damaged input
still parses, it must re-encode to exactly the same bytes: the codec accepts
only canonical encodings, so no two byte strings decode to the same message.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from functools import partial
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from calpico.mls.codec import Struct
from calpico.mls.commit import Commit, UpdatePath
from calpico.mls.credentials import Credential
from calpico.mls.errors import DecodeError
from calpico.mls.extensions import ExternalSenders, RequiredCapabilities
from calpico.mls.framing import (
    AuthenticatedContent,
    AuthenticatedContentTBM,
    ContentType,
    FramedContent,
    FramedContentAuthData,
    FramedContentTBS,
    PublicMessage,
    Sender,
    WireFormat,
)
from calpico.mls.group_context import GroupContext
from calpico.mls.key_package import KeyPackage, KeyPackageTBS
from calpico.mls.messages import MLSMessage
from calpico.mls.private_message import PrivateMessage, PrivateMessageContent, SenderData
from calpico.mls.proposals import Proposal, ProposalOrRef
from calpico.mls.psk import PreSharedKeyID
from calpico.mls.tree.nodes import LeafNode, LeafNodeSource, LeafNodeTBS, Node, RatchetTree
from calpico.mls.welcome import GroupInfo, GroupInfoTBS, GroupSecrets, Welcome

from ..vectors import vectors_dir
from . import samples

STRUCTS: list[type[Struct]] = [
    MLSMessage,
    KeyPackage,
    KeyPackageTBS,
    Welcome,
    GroupInfo,
    GroupInfoTBS,
    GroupSecrets,
    GroupContext,
    RatchetTree,
    Node,
    LeafNode,
    LeafNodeTBS,
    Credential,
    Proposal,
    ProposalOrRef,
    Commit,
    UpdatePath,
    PreSharedKeyID,
    RequiredCapabilities,
    ExternalSenders,
    FramedContent,
    FramedContentTBS,
    AuthenticatedContent,
    AuthenticatedContentTBM,
    PublicMessage,
    PrivateMessage,
    SenderData,
]

Decoder = Callable[[bytes], Any]
DECODERS: dict[str, Decoder] = {cls.__name__: cls.decode for cls in STRUCTS}
for _content_type in ContentType:
    DECODERS[f"PrivateMessageContent[{_content_type.name}]"] = partial(PrivateMessageContent.decode_for, _content_type)
    DECODERS[f"FramedContentAuthData[{_content_type.name}]"] = partial(FramedContentAuthData.decode_for, _content_type)


def _seeds_from(message: MLSMessage, commit_message: PublicMessage) -> list[tuple[str, bytes]]:
    """Encodings of the structs found in and under two messages."""
    seeds: list[tuple[str, bytes]] = [("MLSMessage", message.encode())]
    kp = message.key_package
    if kp is not None:
        leaf = kp.leaf_node
        seeds += [
            ("KeyPackage", kp.encode()),
            ("KeyPackageTBS", kp.tbs().encode()),
            ("LeafNode", leaf.encode()),
            ("LeafNodeTBS", leaf.tbs().encode()),
            ("Node", Node.of(leaf).encode()),
        ]
    content = commit_message.content
    commit, auth = content.commit, commit_message.auth
    assert commit is not None
    seeds += [
        ("PublicMessage", commit_message.encode()),
        ("FramedContent", content.encode()),
        ("AuthenticatedContent", commit_message.authenticated_content().encode()),
        ("Commit", commit.encode()),
        ("PrivateMessageContent[commit]", PrivateMessageContent.of(commit, auth, 7).encode()),
        ("FramedContentAuthData[commit]", auth.encode()),
    ]
    if commit.path is not None:
        leaf = commit.path.leaf_node
        seeds += [("UpdatePath", commit.path.encode()), ("LeafNodeTBS", leaf.tbs(b"group", 3).encode())]
    return seeds


def _sample_seeds() -> list[tuple[str, bytes]]:
    kp_message = MLSMessage.of(samples.key_package())
    commit_message = samples.public_message(ContentType.commit)
    info = samples.group_info()
    proposal = samples.framed_content(ContentType.proposal).proposal
    assert proposal is not None
    context = samples.group_context()
    tbs = FramedContentTBS.of(WireFormat.mls_public_message, commit_message.content, context)
    return [
        *_seeds_from(kp_message, commit_message),
        ("MLSMessage", MLSMessage.of(info).encode()),
        ("GroupInfo", info.encode()),
        ("GroupInfoTBS", info.tbs().encode()),
        ("GroupContext", context.encode()),
        ("GroupSecrets", GroupSecrets(b"j" * 32, None, (samples.psk_id(),)).encode()),
        ("PreSharedKeyID", samples.psk_id().encode()),
        ("Proposal", proposal.encode()),
        ("FramedContentTBS", tbs.encode()),
        ("AuthenticatedContentTBM", AuthenticatedContentTBM(tbs, commit_message.auth).encode()),
        (
            "PrivateMessageContent[application]",
            PrivateMessageContent.of(b"hi", samples.auth(ContentType.application), 3).encode(),
        ),
        ("RatchetTree", RatchetTree((Node.of(samples.leaf_node(LeafNodeSource.update)), None)).encode()),
        ("Credential", Credential.x509([b"a", b"b"]).encode()),
        ("SenderData", SenderData(1, 2, b"abcd").encode()),
        ("PublicMessage", samples.public_message(ContentType.proposal, Sender.external(1)).encode()),
    ]


MLS_MESSAGE_FIELDS = (
    "mls_welcome",
    "mls_group_info",
    "mls_key_package",
    "public_message_application",
    "public_message_proposal",
    "public_message_commit",
    "private_message",
)


def _vector_seeds(cases: int = 4) -> list[tuple[str, bytes]]:
    """Seeds from the first few cases of the official messages vectors, if present."""
    path = vectors_dir() / "messages.json"
    if not path.is_file():
        return []
    seeds: list[tuple[str, bytes]] = []
    for case in json.loads(path.read_text())[:cases]:
        wrapped = {field: bytes.fromhex(case[field]) for field in MLS_MESSAGE_FIELDS}
        commit_message = MLSMessage.decode(wrapped["public_message_commit"]).public_message
        assert commit_message is not None
        seeds += _seeds_from(MLSMessage.decode(wrapped["mls_key_package"]), commit_message)
        seeds += [("MLSMessage", data) for data in wrapped.values()]
        seeds += [
            ("RatchetTree", bytes.fromhex(case["ratchet_tree"])),
            ("GroupSecrets", bytes.fromhex(case["group_secrets"])),
            ("Commit", bytes.fromhex(case["commit"])),
        ]
    return seeds


SEEDS = _sample_seeds() + _vector_seeds()
# Values that sit on varint prefix boundaries, presence flags and enum edges.
BOUNDARY_BYTES = [0x00, 0x01, 0x02, 0x03, 0x3F, 0x40, 0x7F, 0x80, 0xBF, 0xC0, 0xFF]


@st.composite
def mutated_encodings(draw: st.DrawFn) -> tuple[str, bytes]:
    name, seed = draw(st.sampled_from(SEEDS))
    data = bytearray(seed)
    for _ in range(draw(st.integers(1, 4))):
        if not data:
            break
        at = draw(st.integers(0, len(data) - 1))
        op = draw(st.sampled_from(["flip", "boundary", "insert", "delete", "truncate"]))
        if op == "flip":
            data[at] ^= draw(st.integers(1, 255))
        elif op == "boundary":
            data[at] = draw(st.sampled_from(BOUNDARY_BYTES))
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif op == "delete":
            del data[at : at + draw(st.integers(1, 8))]
        else:
            del data[at:]
    return name, bytes(data)


def _decode_or_reject(name: str, decode: Decoder, data: bytes) -> None:
    """Decoding either raises DecodeError or gives a value that encodes back to ``data``."""
    with contextlib.suppress(DecodeError):
        value = decode(data)
        assert value.encode() == data, f"{name} accepted a non-canonical encoding"


FUZZ = settings(
    max_examples=800,
    deadline=None,  # a shared 2-core machine: no per-example timing
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def test_seeds_are_valid() -> None:
    for name, data in SEEDS:
        assert DECODERS[name](data).encode() == data, name


@pytest.mark.timeout(120)
@FUZZ
@given(mutated_encodings())
def test_mutated_encodings_raise_only_decode_error(example: tuple[str, bytes]) -> None:
    name, data = example
    _decode_or_reject(name, DECODERS[name], data)
    for other, decode in DECODERS.items():
        _decode_or_reject(other, decode, data)


@pytest.mark.timeout(120)
@FUZZ
@given(st.binary(max_size=400))
def test_random_bytes_raise_only_decode_error(data: bytes) -> None:
    for name, decode in DECODERS.items():
        _decode_or_reject(name, decode, data)
