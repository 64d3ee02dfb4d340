"""Safety numbers: one number per pair of people, over both people's device signature keys.

Each side's half is a fingerprint of its username and the sorted set of its
devices' signature public keys::

    fingerprint = SHA-512("calpico safety number v1" ‖ vl(username) ‖ vl(key_1) ‖ … ‖ vl(key_n))

and its first 30 bytes become 30 digits (six 5-byte chunks, each read as an
integer mod 100,000). The safety number is the two halves, ordered by
username, as 60 digits in 12 groups of five — the same for both people, so
they can compare it in person or over another channel. Any added, removed or
replaced device key changes it; the client records the number a person has
verified and warns when it changes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

__all__ = ["fingerprint_digits", "format_safety_number", "safety_number"]

_DOMAIN = b"calpico safety number v1"


def _vl(data: bytes) -> bytes:
    return len(data).to_bytes(4, "big") + data


def fingerprint_digits(username: str, signature_keys: Iterable[bytes]) -> str:
    """The 30-digit half of a safety number for one person."""
    digest = hashlib.sha512(
        _DOMAIN + _vl(username.encode("utf-8")) + b"".join(_vl(k) for k in sorted(set(signature_keys)))
    ).digest()
    return "".join(f"{int.from_bytes(digest[i : i + 5], 'big') % 100_000:05d}" for i in range(0, 30, 5))


def safety_number(user_a: str, keys_a: Iterable[bytes], user_b: str, keys_b: Iterable[bytes]) -> str:
    """The 60-digit safety number of two people (symmetric in its two sides)."""
    halves = sorted([(user_a, fingerprint_digits(user_a, keys_a)), (user_b, fingerprint_digits(user_b, keys_b))])
    return halves[0][1] + halves[1][1]


def format_safety_number(number: str) -> str:
    """``12345 67890 …``: twelve groups of five digits, for people to read."""
    return " ".join(number[i : i + 5] for i in range(0, len(number), 5))
