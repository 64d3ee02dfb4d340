"""RFC 9420 §12.1 and §12.4 — Proposal, its bodies, and ProposalOrRef."""

from __future__ import annotations

import pytest

from calpico.mls.errors import DecodeError, EncodeError, UsageError
from calpico.mls.extensions import Extension, ExtensionType
from calpico.mls.group_context import ProtocolVersion
from calpico.mls.proposals import (
    Add,
    ExternalInit,
    GroupContextExtensions,
    PreSharedKey,
    Proposal,
    ProposalBody,
    ProposalOrRef,
    ProposalOrRefType,
    ProposalType,
    ReInit,
    Remove,
    Update,
)
from calpico.mls.psk import PreSharedKeyID
from calpico.mls.tree.nodes import LeafNodeSource

from .samples import key_package, leaf_node

BODIES: list[tuple[ProposalBody, ProposalType, str]] = [
    (Add(key_package()), ProposalType.add, "add"),
    (Update(leaf_node(LeafNodeSource.update)), ProposalType.update, "update"),
    (Remove(7), ProposalType.remove, "remove"),
    (PreSharedKey(PreSharedKeyID.external(b"id", b"n" * 32)), ProposalType.psk, "psk"),
    (
        ReInit(b"new group", ProtocolVersion.mls10, 3, (Extension(ExtensionType.external_senders, b"\x00"),)),
        ProposalType.reinit,
        "reinit",
    ),
    (ExternalInit(b"kem output"), ProposalType.external_init, "external_init"),
    (
        GroupContextExtensions((Extension(ExtensionType.required_capabilities, b"\x00\x00\x00"),)),
        ProposalType.group_context_extensions,
        "group_context_extensions",
    ),
]


def test_registry_values() -> None:
    assert [(t.name, t.value) for t in ProposalType] == [
        ("add", 1),
        ("update", 2),
        ("remove", 3),
        ("psk", 4),
        ("reinit", 5),
        ("external_init", 6),
        ("group_context_extensions", 7),
    ]


@pytest.mark.parametrize(("body", "proposal_type", "field"), BODIES, ids=[b[2] for b in BODIES])
def test_proposal_of_tags_the_body(body: ProposalBody, proposal_type: ProposalType, field: str) -> None:
    proposal = Proposal.of(body)
    assert proposal.proposal_type is proposal_type
    assert getattr(proposal, field) == body
    assert proposal.body == body
    others = [f for _, _, f in BODIES if f != field]
    assert all(getattr(proposal, f) is None for f in others)
    assert proposal.encode() == proposal_type.to_bytes(2, "big") + body.encode()
    assert Proposal.decode(proposal.encode()) == proposal
    assert type(body).decode(body.encode()) == body


def test_remove_is_a_leaf_index() -> None:
    assert Remove(258).encode() == bytes.fromhex("00000102")


def test_select_arms_must_match_the_proposal_type() -> None:
    with pytest.raises(EncodeError, match="required by proposal_type"):
        Proposal(ProposalType.add).encode()
    with pytest.raises(EncodeError, match="not allowed"):
        Proposal(ProposalType.remove, remove=Remove(1), add=Add(key_package())).encode()
    with pytest.raises(UsageError):
        _ = Proposal(ProposalType.update).body


@pytest.mark.parametrize("proposal_type", ["0000", "0008", "0a0a", "f000"])
def test_unknown_proposal_types_cannot_be_parsed(proposal_type: str) -> None:
    with pytest.raises(DecodeError, match="proposal_type: unknown value"):
        Proposal.decode(bytes.fromhex(proposal_type + "00000001"))


def test_proposal_or_ref() -> None:
    by_value = ProposalOrRef.of(Remove(1))
    assert by_value == ProposalOrRef(ProposalOrRefType.proposal, proposal=Proposal.of(Remove(1)))
    assert ProposalOrRef.of(Proposal.of(Remove(1))) == by_value
    assert by_value.encode() == b"\x01" + Proposal.of(Remove(1)).encode()
    by_ref = ProposalOrRef.of(b"R" * 32)
    assert by_ref.type is ProposalOrRefType.reference
    assert by_ref.encode() == b"\x02\x20" + b"R" * 32
    for item in (by_value, by_ref):
        assert ProposalOrRef.decode(item.encode()) == item
    with pytest.raises(EncodeError):
        ProposalOrRef(ProposalOrRefType.reference, proposal=Proposal.of(Remove(1))).encode()
    with pytest.raises(DecodeError, match="unknown value"):
        ProposalOrRef.decode(b"\x03\x00")


def test_proposal_of_rejects_other_types() -> None:
    with pytest.raises(UsageError):
        Proposal.of(b"not a body")  # type: ignore[arg-type]
