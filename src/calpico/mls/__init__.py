"""RFC 9420 (Messaging Layer Security), sans-I/O, on the ``cryptography`` package.

This package does no I/O, reads no clock or randomness it was not given, and
imports nothing else of Calpico; it could be published on its own.

The names below are the public API: `Group` and its events, configuration
and hooks, KeyPackages, credentials, messages, and the error tree.
"""

from __future__ import annotations

from .credentials import Credential, CredentialType
from .crypto import CipherSuite, CipherSuiteId, get_suite
from .errors import (
    DecodeError,
    DecryptionError,
    EncodeError,
    MLSError,
    ProtocolError,
    UnsupportedError,
    UsageError,
    VerificationError,
)
from .extensions import Extension, ExtensionType
from .group import (
    AcceptAllCredentials,
    AllowAll,
    ApplicationMessage,
    CommitEvent,
    CommitResult,
    CredentialValidator,
    ExtensionsChanged,
    Group,
    GroupConfig,
    GroupPolicy,
    GroupStatus,
    Member,
    MemberAdded,
    MemberRemoved,
    MemberUpdated,
    PolicyContext,
    ProcessedMessage,
    ProposalInContext,
    ProposalReceived,
    PskUsed,
    ReInitCommitted,
    RemovedFromGroup,
    StagedCommit,
    external_proposal,
    new_member_proposal,
)
from .key_package import KeyPackage, KeyPackageBundle, create_key_package
from .messages import MLSMessage
from .psk import PreSharedKeyID
from .tree.nodes import Capabilities

__all__ = [
    "AcceptAllCredentials",
    "AllowAll",
    "ApplicationMessage",
    "Capabilities",
    "CipherSuite",
    "CipherSuiteId",
    "CommitEvent",
    "CommitResult",
    "Credential",
    "CredentialType",
    "CredentialValidator",
    "DecodeError",
    "DecryptionError",
    "EncodeError",
    "Extension",
    "ExtensionType",
    "ExtensionsChanged",
    "Group",
    "GroupConfig",
    "GroupPolicy",
    "GroupStatus",
    "KeyPackage",
    "KeyPackageBundle",
    "MLSError",
    "MLSMessage",
    "Member",
    "MemberAdded",
    "MemberRemoved",
    "MemberUpdated",
    "PolicyContext",
    "PreSharedKeyID",
    "ProcessedMessage",
    "ProposalInContext",
    "ProposalReceived",
    "ProtocolError",
    "PskUsed",
    "ReInitCommitted",
    "RemovedFromGroup",
    "StagedCommit",
    "UnsupportedError",
    "UsageError",
    "VerificationError",
    "create_key_package",
    "external_proposal",
    "get_suite",
    "new_member_proposal",
]
