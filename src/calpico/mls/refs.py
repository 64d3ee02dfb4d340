"""RFC 9420 §5.2 — Hash-based identifiers: KeyPackageRef and ProposalRef.

``RefHash(label, value) = Hash(RefHashInput{label<V>, value<V>})``, with the
label used as written (it already starts with "MLS 1.0 "). A KeyPackageRef
hashes the encoded KeyPackage itself, never the MLSMessage around it, with
the hash of the KeyPackage's own cipher suite; a ProposalRef hashes the whole
AuthenticatedContent that carried the proposal (wire format, content, auth),
whether it arrived as a PublicMessage or a PrivateMessage.
"""

from __future__ import annotations

from .crypto import CipherSuite
from .errors import UsageError
from .framing import AuthenticatedContent, ContentType
from .key_package import KeyPackage

__all__ = ["KEY_PACKAGE_REF_LABEL", "PROPOSAL_REF_LABEL", "make_key_package_ref", "make_proposal_ref"]

KEY_PACKAGE_REF_LABEL = b"MLS 1.0 KeyPackage Reference"
PROPOSAL_REF_LABEL = b"MLS 1.0 Proposal Reference"


def make_key_package_ref(suite: CipherSuite, key_package: KeyPackage) -> bytes:
    """MakeKeyPackageRef(KeyPackage) (§5.2).

    Raises `UsageError` if ``suite`` is not the KeyPackage's cipher suite.
    """
    if key_package.cipher_suite != suite.suite_id:
        raise UsageError(
            f"a KeyPackage of cipher suite 0x{key_package.cipher_suite:04X} is referenced with its own suite",
            section="5.2",
        )
    return suite.ref_hash(KEY_PACKAGE_REF_LABEL, key_package.encode())


def make_proposal_ref(suite: CipherSuite, authenticated_content: AuthenticatedContent) -> bytes:
    """MakeProposalRef(AuthenticatedContent) of a proposal, with the group's suite (§5.2).

    Raises `UsageError` if the content is not a proposal.
    """
    if authenticated_content.content.content_type != ContentType.proposal:
        raise UsageError("only a proposal has a ProposalRef", section="5.2")
    return suite.ref_hash(PROPOSAL_REF_LABEL, authenticated_content.encode())
