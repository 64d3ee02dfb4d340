"""RFC 9420 §5.3 — Credential and Certificate on the wire."""

from __future__ import annotations

import pytest

from calpico.mls.credentials import Certificate, Credential, CredentialType
from calpico.mls.errors import DecodeError, EncodeError


def test_basic_credential_is_type_then_identity() -> None:
    credential = Credential.basic(b"alice")
    assert credential.credential_type is CredentialType.basic
    assert credential.certificates is None
    assert credential.encode() == bytes.fromhex("0001") + b"\x05alice"
    assert Credential.decode(credential.encode()) == credential


def test_x509_credential_keeps_the_chain_in_order() -> None:
    credential = Credential.x509([b"leaf-cert", Certificate(b"ca-cert")])
    assert credential.certificates == (Certificate(b"leaf-cert"), Certificate(b"ca-cert"))
    assert credential.identity is None
    # type, vector length (1 + 9 + 1 + 7), then each cert_data<V>.
    assert credential.encode() == bytes.fromhex("0002") + b"\x12" + b"\x09leaf-cert" + b"\x07ca-cert"
    assert Credential.decode(credential.encode()) == credential


@pytest.mark.parametrize(
    "credential",
    [
        Credential(CredentialType.basic),
        Credential(CredentialType.x509, identity=b"alice"),
        Credential(CredentialType.basic, identity=b"alice", certificates=()),
    ],
    ids=["basic-without-identity", "x509-with-identity", "basic-with-certificates"],
)
def test_select_arms_must_match_the_type(credential: Credential) -> None:
    with pytest.raises(EncodeError):
        credential.encode()


@pytest.mark.parametrize("credential_type", ["0000", "0003", "0a0a"], ids=["reserved", "unknown", "grease"])
def test_credentials_of_unknown_type_cannot_be_parsed(credential_type: str) -> None:
    # Without a length in front of the body, an unknown type cannot be skipped.
    with pytest.raises(DecodeError, match="unknown value"):
        Credential.decode(bytes.fromhex(credential_type + "0161"))
