"""RFC 9420 §5.2 — KeyPackageRef and ProposalRef, checked against the references in official vectors."""

from __future__ import annotations

import pytest

from calpico.mls.crypto import get_suite
from calpico.mls.errors import UsageError
from calpico.mls.framing import AuthenticatedContent, ContentType, WireFormat
from calpico.mls.messages import MLSMessage
from calpico.mls.refs import KEY_PACKAGE_REF_LABEL, PROPOSAL_REF_LABEL, make_key_package_ref, make_proposal_ref

from ..vectors import load
from .samples import auth, framed_content, key_package


def test_every_welcome_vector_addresses_its_key_package_by_our_ref() -> None:
    for case in load("welcome.json"):
        suite = get_suite(case["cipher_suite"])
        message = MLSMessage.decode(bytes.fromhex(case["key_package"]))
        assert message.key_package is not None
        ref = make_key_package_ref(suite, message.key_package)
        welcome = MLSMessage.decode(bytes.fromhex(case["welcome"])).welcome
        assert welcome is not None
        assert welcome.secrets_for(ref) is not None, f"cipher suite {case['cipher_suite']}"
        # The ref hashes the KeyPackage, not the MLSMessage around it.
        assert welcome.secrets_for(suite.ref_hash(KEY_PACKAGE_REF_LABEL, bytes.fromhex(case["key_package"]))) is None


def test_commits_in_the_passive_client_vectors_reference_proposals_by_our_ref() -> None:
    checked = 0
    for case in load("passive-client-handling-commit.json"):
        suite = get_suite(case["cipher_suite"])
        for epoch in case["epochs"]:
            refs = set()
            for proposal in epoch["proposals"]:
                public = MLSMessage.decode(bytes.fromhex(proposal)).public_message
                assert public is not None
                refs.add(make_proposal_ref(suite, public.authenticated_content()))
            commit = MLSMessage.decode(bytes.fromhex(epoch["commit"])).public_message
            assert commit is not None and commit.content.commit is not None
            for entry in commit.content.commit.proposals:
                if entry.reference is not None:
                    assert entry.reference in refs
                    checked += 1
    assert checked > 50


def test_refs_are_ref_hashes_of_the_encodings() -> None:
    suite = get_suite(1)
    package = key_package()
    assert make_key_package_ref(suite, package) == suite.ref_hash(KEY_PACKAGE_REF_LABEL, package.encode())
    proposal = AuthenticatedContent(
        WireFormat.mls_private_message, framed_content(ContentType.proposal), auth(ContentType.proposal)
    )
    assert make_proposal_ref(suite, proposal) == suite.ref_hash(PROPOSAL_REF_LABEL, proposal.encode())
    public = AuthenticatedContent(WireFormat.mls_public_message, proposal.content, proposal.auth)
    assert make_proposal_ref(suite, public) != make_proposal_ref(suite, proposal)  # the wire format is hashed too


def test_refs_refuse_misuse() -> None:
    with pytest.raises(UsageError):
        make_key_package_ref(get_suite(2), key_package())  # a suite-1 package
    commit = AuthenticatedContent(
        WireFormat.mls_public_message, framed_content(ContentType.commit), auth(ContentType.commit)
    )
    with pytest.raises(UsageError):
        make_proposal_ref(get_suite(1), commit)
