"""How messages and events look: unsupported types shown (never dropped), JSON with stable keys."""

from __future__ import annotations

import json

from calpico.cli.views import card_notice, describe, event_json, event_line, message_json, message_line
from calpico.client import AssistantMember
from calpico.client.events import AssistantCardChanged, MemberLeft, MessageReceived, TypingChanged
from calpico.client.store import Message, ReactionEntry
from calpico.wire.app import (
    AssistantCard,
    AssistantReply,
    Attachment,
    InferenceLocation,
    Text,
    decode_app_message,
    encode_app_message,
)


def _message(content: bytes, **kw: object) -> Message:
    base: dict[str, object] = {
        "conversation_id": "c1",
        "message_id": "m1",
        "sender_user": "bob",
        "sender_device": "d1",
        "sent_at": 1_700_000_000.0,
        "received_at": 1_700_000_001.0,
        "content": content,
        "seq": 7,
    }
    base.update(kw)
    return Message(**base)  # type: ignore[arg-type]


def test_an_unknown_message_type_is_shown_as_unsupported() -> None:
    future = json.dumps({"v": 1, "type": "hologram", "id": "m9", "sent_at": 1}).encode()
    assert describe(decode_app_message(future)) == "[unsupported message 'hologram']"
    data = message_json(_message(future))
    assert data["type"] == "hologram" and data["text"] == "[unsupported message 'hologram']"
    assert "unsupported message" in message_line(_message(future)).plain


def test_text_attachment_edits_reactions_and_deletes() -> None:
    text = encode_app_message(Text(body="hello", id="m1", sent_at=1))
    line = message_line(_message(text, edited_at=2.0, reactions=(ReactionEntry("amy", "👍"),))).plain
    assert line.endswith("bob: hello (edited) 👍 amy")
    assert message_line(_message(text, deleted=True)).plain.endswith("bob: message deleted")
    assert message_json(_message(text, deleted=True))["text"] is None
    assert "(sending)" in message_line(_message(text, seq=None), me="bob").plain
    assert "(sending)" not in message_line(_message(text, seq=None), me="bob", pending=False).plain
    refused = _message(text, seq=None, send_error="server refused (stale_epoch)")
    assert message_line(refused, me="bob").plain.endswith("bob: hello (not sent)")
    assert message_json(refused)["state"] == "failed"
    assert message_json(_message(text, seq=None))["state"] == "sending"
    assert message_json(_message(text))["state"] == "sent"
    shared = Attachment(id="m2", sent_at=1, capability="cap", key=b"k" * 32, sha256=b"h" * 32, size=10, name="a.txt")
    assert describe(shared) == "[file a.txt, 10 bytes]"


def test_events_as_json_and_as_lines() -> None:
    text = encode_app_message(Text(body="hi", id="m1", sent_at=1))
    received = event_json(MessageReceived("c1", _message(text)))
    assert received["event"] == "message_received" and received["conversation_id"] == "c1"
    assert received["message"]["text"] == "hi" and received["message"]["sender"] == "bob"
    left = {"event": "member_left", "conversation_id": "c1", "username": "carol"}
    assert event_json(MemberLeft("c1", "carol")) == left
    line = event_line(MemberLeft("c1", "carol"), "#plans")
    assert line is not None and line.plain == "#plans ← carol left"
    assert event_line(TypingChanged("c1", "bob", False), "#plans") is None


def _card(**changes: object) -> AssistantCard:
    fields: dict[str, object] = {
        "id": "k1",
        "sent_at": 1,
        "assistant_device": "pico1",
        "owner": "alice",
        "name": "Pico",
        "model": "llama3.1",
        "provider": "openai-compatible",
        "inference": InferenceLocation.SELF_HOSTED,
        "inference_host": "gpu.lan",
        "signer_device": "a1",
    }
    fields.update(changes)
    return AssistantCard(**fields)  # type: ignore[arg-type]


def test_assistant_messages_name_the_assistant_and_its_owner_and_are_marked_ai_generated() -> None:
    reply = encode_app_message(AssistantReply(id="r1", sent_at=1, body="try the lake", final=True))
    m = _message(reply, sender_user="alice", sender_device="pico1")
    known = {"pico1": AssistantMember("pico1", "alice", _card())}
    assert message_line(m, assistants=known).plain.endswith("Pico (alice's assistant) [AI-generated]: try the lake")
    data = message_json(m, known)
    assert data["shown_as"] == "Pico (alice's assistant)" and data["ai_generated"] is True
    assert data["assistant"] == {"device_id": "pico1", "owner": "alice", "name": "Pico", "verified": True}
    # not (yet) known to this view: never a name it chose, but still its owner's and AI-generated
    away = encode_app_message(AssistantReply(id="r2", sent_at=1, body="back Monday", away=True))
    line = message_line(_message(away, sender_user="alice", sender_device="pico1")).plain
    assert "alice's assistant (unverified) [AI-generated, auto-reply on alice's behalf]: back Monday" in line
    streaming = encode_app_message(AssistantReply(id="r3", sent_at=1, body="let me", final=False))
    assert message_line(_message(streaming, sender_device="pico1"), assistants=known).plain.endswith("let me …")


def test_a_card_is_a_visible_notice_first_in_full_then_field_by_field() -> None:
    first = event_line(AssistantCardChanged("c1", "alice", "pico1", _card()), "#plans")
    assert first is not None and first.plain.startswith("#plans notice: Pico (alice's assistant) is a member here")
    assert "llama3.1 via openai-compatible" in first.plain and "self-hosted server (gpu.lan)" in first.plain
    renamed = AssistantCardChanged("c1", "alice", "pico1", _card(name="Nova", revision=2), ("name",))
    line = event_line(renamed, "#plans")
    assert line is not None
    assert line.plain == "#plans notice: alice's assistant changed its card: name → Nova (now Nova, card rev 2)"
    moved = _card(inference=InferenceLocation.THIRD_PARTY, inference_host="api.example", revision=3)
    text = card_notice(AssistantCardChanged("c1", "alice", "pico1", moved, ("inference", "inference_host")))
    assert "where it runs → third_party; host → api.example" in text
    data = event_json(renamed)
    assert data["event"] == "assistant_card_changed" and data["changed"] == ["name"]
    assert data["card"]["name"] == "Nova" and data["card"]["inference"] == "self_hosted"
    json.dumps(data)
