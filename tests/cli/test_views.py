"""How messages and events look: unsupported types shown (never dropped), JSON with stable keys."""

from __future__ import annotations

import json

from calpico.cli.views import describe, event_json, event_line, message_json, message_line
from calpico.client.events import MemberLeft, MessageReceived, TypingChanged
from calpico.client.store import Message, ReactionEntry
from calpico.wire.app import Attachment, Text, decode_app_message, encode_app_message


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
