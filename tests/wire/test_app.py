"""The application-message schema: round trips of every type, determinism, unknown types kept whole."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from calpico.wire import app
from calpico.wire.app import (
    APP_TYPES,
    AppMessage,
    AssistantCard,
    AssistantMode,
    AssistantPolicy,
    AssistantReply,
    AssistantSettings,
    Attachment,
    Checklist,
    ChecklistCheck,
    Delete,
    DisappearingTimer,
    Edit,
    InferenceLocation,
    Mention,
    Poll,
    PollVote,
    Reaction,
    Receipt,
    ReceiptKind,
    RoomUpdate,
    SharedChat,
    Text,
    TranscriptEntry,
    TranscriptRole,
    Typing,
    Unknown,
    decode_app_message,
    encode_app_message,
)

E = {"id": "AAAAAAAAAAAAAAAAAAAAAA", "sent_at": 1_733_000_000_000}

SAMPLES: list[AppMessage] = [
    Text(
        **E,
        body="hello 👋",
        reply_to="prev",
        mentions=(Mention(username="bob"), Mention(username="ann", device_id="d1")),
    ),
    Reaction(**E, target="m1", emoji="🎉"),
    Reaction(**E, target="m1", emoji="🎉", remove=True),
    Edit(**E, target="m1", body="fixed"),
    Delete(**E, target="m1"),
    Receipt(**E, kind=ReceiptKind.READ, targets=("m1", "m2")),
    Typing(**E, active=False),
    Attachment(
        **E,
        capability="cap_ABC-123",
        key=b"k" * 32,
        sha256=b"h" * 32,
        size=1234,
        media_type="image/png",
        name="cat.png",
        caption="a cat",
    ),
    RoomUpdate(**E, name="Plans", topic="weekend", admins=("alice", "bob"), assistant_policy=AssistantPolicy.MENTION),
    RoomUpdate(**E, topic=""),
    DisappearingTimer(**E, seconds=3600),
    AssistantCard(
        **E,
        assistant_device="dev-pico",
        owner="dana",
        name="Pico",
        personality="terse",
        model="llama-3-8b",
        provider="ollama",
        inference=InferenceLocation.ON_DEVICE,
        retention="none",
        signer_device="dev-dana",
        signature=b"\x01" * 64,
    ),
    AssistantCard(
        **E,
        assistant_device="dev-pico",
        owner="dana",
        name="Pico",
        model="gpt-x",
        provider="openai-compatible",
        inference=InferenceLocation.SELF_HOSTED,
        inference_host="gpu.example",
        revision=3,
        signer_device="dev-dana",
        signature=b"\x02" * 64,
        assistant_key=b"\x03" * 32,
    ),
    AssistantReply(**E, body="Here is a summary", reply_to="m1", updates="m0", final=False, model="llama"),
    AssistantReply(**E, body="Dana is away; I can help", away=True),
    AssistantSettings(**E, assistant_device="dev-pico", mode=AssistantMode.AUTO, instructions="be brief", away=False),
    AssistantSettings(**E, assistant_device="dev-pico", away=True, away_note="back Monday"),
    SharedChat(
        **E,
        title="Trip ideas",
        assistant="Pico",
        entries=(
            TranscriptEntry(role=TranscriptRole.USER, author="dana", body="ideas?"),
            TranscriptEntry(role=TranscriptRole.ASSISTANT, author="Pico", body="Lisbon", sent_at=5),
        ),
    ),
    Poll(**E, question="Lunch?", options=("pizza", "sushi"), multiple=True),
    PollVote(**E, target="p1", choices=(1,)),
    Checklist(**E, title="Packing", items=("tent", "stove")),
    ChecklistCheck(**E, target="c1", item=1),
]


def test_every_type_has_a_sample() -> None:
    assert {type(s) for s in SAMPLES} == set(APP_TYPES.values())


@pytest.mark.parametrize("message", SAMPLES, ids=lambda m: type(m).__name__)
def test_round_trip_is_exact_and_deterministic(message: AppMessage) -> None:
    data = encode_app_message(message)
    assert decode_app_message(data) == message
    assert encode_app_message(decode_app_message(data)) == data
    obj = json.loads(data)
    assert list(obj)[:4] == ["v", "type", "id", "sent_at"]
    assert obj["v"] == app.APP_SCHEMA_VERSION
    # Compact: exactly what a minimal JSON writer gives for the same object.
    assert json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode() == data


def test_assistant_replies_are_always_marked_ai_generated() -> None:
    data = encode_app_message(AssistantReply(**E, body="hi"))
    assert json.loads(data)["ai_generated"] is True
    forged = data.replace(b'"ai_generated":true', b'"ai_generated":false')
    decoded = decode_app_message(forged)
    assert isinstance(decoded, Unknown) and decoded.type == "assistant_reply"
    assert decoded.payload == forged


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b'{"v":1,"type":"hologram","id":"x1","sent_at":5,"beam":true}', "unknown message type"),
        (b'{"v":2,"type":"text","id":"x1","sent_at":5,"body":"from the future"}', "envelope version 2"),
        (b'{"v":true,"type":"text","id":"x1","sent_at":5,"body":"bool is not 1"}', "envelope version True"),
        (b'{"v":1,"type":"text","id":"x1","sent_at":5}', "malformed text: body: missing"),
        (b'{"v":1,"type":"reaction","id":"x1","sent_at":5,"target":"m","emoji":""}', "malformed reaction: emoji"),
        (b"[1,2,3]", "not a JSON object"),
        (b"\xff\xfe garbage", "not a JSON object"),
        (b"", "not a JSON object"),
    ],
)
def test_what_cannot_be_read_is_kept_as_unknown(payload: bytes, reason: str) -> None:
    decoded = decode_app_message(payload)
    assert isinstance(decoded, Unknown)
    assert reason in decoded.reason
    assert decoded.payload == payload
    assert encode_app_message(decoded) == payload  # forwarded or stored unchanged


def test_unknown_keeps_what_it_can_read() -> None:
    decoded = decode_app_message(b'{"v":1,"type":"hologram","id":"x1","sent_at":5}')
    assert isinstance(decoded, Unknown)
    assert (decoded.type, decoded.id, decoded.sent_at) == ("hologram", "x1", 5)


def test_fields_from_a_newer_client_are_ignored() -> None:
    decoded = decode_app_message(b'{"v":1,"type":"text","id":"x1","sent_at":5,"body":"hi","glow":"blue"}')
    assert decoded == Text(id="x1", sent_at=5, body="hi")


def test_binary_fields_travel_as_base64url() -> None:
    attachment = SAMPLES[7]
    obj = json.loads(encode_app_message(attachment))
    assert obj["key"] == "a2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2s"
    assert "=" not in obj["sha256"]


@given(st.binary(max_size=200))
def test_decode_never_raises(data: bytes) -> None:
    decoded = decode_app_message(data)
    assert encode_app_message(decoded) == data or not isinstance(decoded, Unknown)


@given(st.text(max_size=300), st.lists(st.sampled_from(["bob", "ann", "c.d"]), max_size=4))
def test_text_round_trips_any_unicode(body: str, mentions: list[str]) -> None:
    message = Text(**E, body=body, mentions=tuple(Mention(username=m) for m in mentions))
    assert decode_app_message(encode_app_message(message)) == message
