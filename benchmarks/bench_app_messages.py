"""Encode and decode cost of the application-message schema (`calpico.wire.app`).

    .venv/bin/python benchmarks/bench_app_messages.py

Prints messages per second and microseconds per message for a short text, a
text with a reply and mentions, a reaction, an attachment reference and an
unknown type, plus the encoded sizes; and, for scale, `json.loads` of the same
text bytes (the floor any JSON schema pays). Figures only, no assertions.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from calpico.wire.app import (
    AppMessage,
    Attachment,
    Mention,
    Reaction,
    Text,
    decode_app_message,
    encode_app_message,
)

ENVELOPE = {"id": "q2VhY2gtbWVzc2FnZS1pZA", "sent_at": 1_733_000_000_000}
SAMPLES: dict[str, AppMessage] = {
    "text (short)": Text(**ENVELOPE, body="see you at 8?"),
    "text (reply, 2 mentions)": Text(
        **ENVELOPE,
        body="@bob @ann the station, platform 4 " * 3,
        reply_to="cHJldmlvdXMtbWVzc2FnZQ",
        mentions=(Mention(username="bob"), Mention(username="ann")),
    ),
    "reaction": Reaction(**ENVELOPE, target="cHJldmlvdXMtbWVzc2FnZQ", emoji="👍"),
    "attachment": Attachment(
        **ENVELOPE,
        capability="Y2FwYWJpbGl0eS1pZC0zMi1ieXRlcy1sb25nLWJhc2U2NA",
        key=b"k" * 32,
        sha256=b"h" * 32,
        size=48_213,
        media_type="image/jpeg",
        name="IMG_0042.jpg",
    ),
}


def per_second(fn: Callable[[], object], seconds: float = 0.4) -> float:
    runs, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        for _ in range(100):
            fn()
        runs += 100
    return runs / elapsed


def main() -> None:
    print(f"{'message':<28} {'bytes':>6} {'encode/s':>12} {'µs':>6} {'decode/s':>12} {'µs':>6}")
    for label, message in SAMPLES.items():
        data = encode_app_message(message)
        enc = per_second(lambda m=message: encode_app_message(m))  # type: ignore[misc]
        dec = per_second(lambda d=data: decode_app_message(d))  # type: ignore[misc]
        print(f"{label:<28} {len(data):>6} {enc:>12,.0f} {1e6 / enc:>6.1f} {dec:>12,.0f} {1e6 / dec:>6.1f}")
    unknown = b'{"v":1,"type":"hologram","id":"x","sent_at":1,"beam":[1,2,3]}'
    dec = per_second(lambda: decode_app_message(unknown))
    print(f"{'unknown type (kept)':<28} {len(unknown):>6} {'':>12} {'':>6} {dec:>12,.0f} {1e6 / dec:>6.1f}")
    text = encode_app_message(SAMPLES["text (short)"])
    floor = per_second(lambda: json.loads(text))
    print(f"{'json.loads of short text':<28} {len(text):>6} {'':>12} {'':>6} {floor:>12,.0f} {1e6 / floor:>6.1f}")


if __name__ == "__main__":
    main()
