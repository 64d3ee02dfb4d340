"""Fresh identifiers and timestamps the SDK puts on what it sends."""

from __future__ import annotations

import os
import time
from collections.abc import Callable

from calpico.wire.common import b64encode

__all__ = ["new_client_id", "new_message_id", "now_ms"]


def new_message_id() -> str:
    """A message id for `calpico.wire.app`: 16 random bytes, base64url (22 characters)."""
    return b64encode(os.urandom(16))


def new_client_id() -> str:
    """A ``client_id`` for a send: random, so a resend of the same message reuses it and nothing else does."""
    return b64encode(os.urandom(16))


def now_ms(clock: Callable[[], float] = time.time) -> int:
    """``clock()`` in whole milliseconds, the unit of ``sent_at`` in application messages."""
    return int(clock() * 1000)
