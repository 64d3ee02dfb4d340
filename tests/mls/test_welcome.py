"""RFC 9420 §12.4.3 — GroupInfo, GroupSecrets and Welcome."""

from __future__ import annotations

import pytest

from calpico.mls.codec import encode_opaque, encode_varint
from calpico.mls.commit import HPKECiphertext
from calpico.mls.errors import DecodeError
from calpico.mls.extensions import ExtensionType, ExternalPub, find_extension
from calpico.mls.welcome import (
    EncryptedGroupSecrets,
    GroupInfo,
    GroupInfoTBS,
    GroupSecrets,
    PathSecret,
    Welcome,
)

from .samples import GREASE_EXTENSION, group_info, psk_id


def test_group_info_round_trips_and_keeps_grease_extensions() -> None:
    info = group_info()
    decoded = GroupInfo.decode(info.encode())
    assert decoded == info
    assert GREASE_EXTENSION in decoded.extensions
    external_pub = find_extension(decoded.extensions, ExtensionType.external_pub)
    assert external_pub is not None
    assert external_pub.parse(ExternalPub) == ExternalPub(b"X" * 32)


def test_group_info_tbs_is_everything_but_the_signature() -> None:
    info = group_info()
    encoded = info.encode()
    tbs = info.tbs()
    assert tbs.encode() == encoded[: len(encoded) - len(encode_opaque(info.signature))]
    assert tbs.encode().endswith(b"\x03tag" + (3).to_bytes(4, "big"))
    assert GroupInfoTBS.decode(tbs.encode()) == tbs
    assert tbs.with_signature(info.signature) == info


def test_group_secrets_without_path_secret_or_psks() -> None:
    secrets = GroupSecrets(b"joiner")
    assert secrets.encode() == b"\x06joiner" + b"\x00" + b"\x00"
    assert GroupSecrets.decode(secrets.encode()) == secrets


def test_group_secrets_with_path_secret_and_psks() -> None:
    secrets = GroupSecrets(b"joiner", PathSecret(b"path"), (psk_id(), psk_id()))
    encoded = secrets.encode()
    psks = psk_id().encode() * 2
    assert encoded == b"\x06joiner" + b"\x01\x04path" + encode_varint(len(psks)) + psks
    assert GroupSecrets.decode(encoded) == secrets


def test_welcome_finds_the_secrets_for_a_key_package() -> None:
    entries = (
        EncryptedGroupSecrets(b"ref-a", HPKECiphertext(b"kem-a", b"ct-a")),
        EncryptedGroupSecrets(b"ref-b", HPKECiphertext(b"kem-b", b"ct-b")),
    )
    welcome = Welcome(1, entries, b"encrypted group info")
    assert Welcome.decode(welcome.encode()) == welcome
    assert welcome.encode().startswith(b"\x00\x01")
    assert welcome.secrets_for(b"ref-b") is entries[1]
    assert welcome.secrets_for(b"ref-c") is None


def test_group_secrets_reject_trailing_data() -> None:
    with pytest.raises(DecodeError, match="trailing"):
        GroupSecrets.decode(GroupSecrets(b"j").encode() + b"\x00")
