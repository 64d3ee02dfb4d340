"""The credential identity format ``username:device_id``."""

from __future__ import annotations

import pytest

from calpico.client.errors import CredentialMismatch
from calpico.client.identity import DeviceIdentity
from calpico.mls.credentials import Credential


def test_round_trip_through_a_basic_credential() -> None:
    identity = DeviceIdentity("alice.b-2", "Xk9_mPzR1vYt-3q2")
    assert identity.encode() == b"alice.b-2:Xk9_mPzR1vYt-3q2"
    assert DeviceIdentity.from_credential(identity.credential()) == identity
    assert str(identity) == "alice.b-2:Xk9_mPzR1vYt-3q2"


@pytest.mark.parametrize(
    "raw",
    [b"alice", b"alice:", b":dev", b"Alice:dev", b"alice:dev:extra", b"alice:de v", b"\xffalice:dev", b"al ice:dev"],
)
def test_anything_else_is_refused(raw: bytes) -> None:
    with pytest.raises(CredentialMismatch):
        DeviceIdentity.parse(raw)


def test_only_basic_credentials_name_devices() -> None:
    with pytest.raises(CredentialMismatch):
        DeviceIdentity.from_credential(Credential.x509([b"\x30\x00"]))
