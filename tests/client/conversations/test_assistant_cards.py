"""Assistant cards as data: what is signed, and what a signature covers (the member-level checks: tests/assistant)."""

from __future__ import annotations

import pytest

from calpico.client.conversations import ASSISTANT_CARD_LABEL, card_content
from calpico.client.conversations.assistants import AssistantMember, sign_card
from calpico.mls.crypto import get_suite
from calpico.mls.errors import MLSError
from calpico.wire.app import AssistantCard, InferenceLocation

CARD = AssistantCard(
    id="AAAAAAAAAAAAAAAAAAAAAA",
    sent_at=1,
    assistant_device="dev-pico",
    owner="alice",
    name="Pico",
    model="llama",
    provider="ollama",
    inference=InferenceLocation.ON_DEVICE,
    signer_device="dev-alice",
    assistant_key=b"\x01" * 32,
)


def test_one_signature_serves_every_conversation_but_covers_every_field() -> None:
    suite = get_suite(1)
    keys = suite.generate_signature_key_pair()
    signed = sign_card(CARD, cipher_suite=1, private_key=keys.private_key)
    reposted = signed.model_copy(update={"id": "BBBBBBBBBBBBBBBBBBBBBB", "sent_at": 99})
    suite.verify_with_label(keys.public_key, ASSISTANT_CARD_LABEL, card_content(reposted), bytes(signed.signature))
    for change in ({"name": "Mallory"}, {"assistant_key": b"\x02" * 32}, {"revision": 2}, {"owner": "bob"}):
        with pytest.raises(MLSError):
            suite.verify_with_label(
                keys.public_key,
                ASSISTANT_CARD_LABEL,
                card_content(signed.model_copy(update=change)),
                bytes(signed.signature),
            )
    assert b"signature" not in card_content(signed) and b'"id"' not in card_content(signed)


def test_how_members_are_shown() -> None:
    assert AssistantMember("d", "alice", CARD).display_name == "Pico (alice's assistant)"
    assert AssistantMember("d", "alice").display_name == "alice's assistant (unverified)"
    assert not AssistantMember("d", "alice").verified
