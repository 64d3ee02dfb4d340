"""Events published after each stored batch and consumed by every process's `Hub`.

An event is a JSON list of items, applied in order:

- ``["m", group, seq, frame, targets, sender]``: a stored message; ``frame``
  is the WebSocket text frame, encoded once and sent as-is to every
  recipient; ``targets`` is null (every device in the group) or the device
  ids a Welcome is for; the sending device does not get its own message.
- ``["r", group, epoch, added, removed]``: a roster change after a commit;
  ``added`` is ``[[device_id, joined_seq], ...]``, ``removed`` device ids.
- ``["x", device_id]``: the device was revoked; drop its connections and tokens.

Group ids are base64url. Events never carry plaintext (there is none), and
frames carry only what the recipients may see.
"""

from __future__ import annotations

import json
from typing import Any

from calpico.wire.common import b64encode
from calpico.wire.delivery import MessageKind

__all__ = ["KIND_CODES", "KIND_NAMES", "encode_event", "message_frame"]

KIND_CODES = {
    MessageKind.APPLICATION: 1,
    MessageKind.PROPOSAL: 2,
    MessageKind.COMMIT: 3,
    MessageKind.WELCOME: 4,
}
KIND_NAMES = {v: k for k, v in KIND_CODES.items()}

_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=True).encode


def message_frame(
    group_b64: str, seq: int, epoch: int, kind: int, sender: str, client_id: str, body: bytes, sent_at: float
) -> str:
    """The WebSocket text frame of one stored message (`calpico.wire.push.MessageFrame`)."""
    return _dumps(
        {
            "type": "message",
            "group_id": group_b64,
            "seq": seq,
            "epoch": epoch,
            "kind": KIND_NAMES[kind].value,
            "sender": sender,
            "client_id": client_id,
            "body": b64encode(body),
            "sent_at": sent_at,
        }
    )


def encode_event(items: list[list[Any]]) -> bytes:
    return _dumps(items).encode("ascii")
