"""Secret bytes: redacted when printed, compared in constant time.

`Secret` is a `bytes` subclass, so it goes straight into HKDF, HMAC and AEAD
calls without copying, while ``repr``/``str``/f-strings show only its length
and ``==`` runs in time independent of where the inputs differ. Slicing or
concatenating gives plain `bytes` (the result is no longer marked secret), so
wrap derived values again where they are stored.
"""

from __future__ import annotations

import hmac

__all__ = ["Secret"]


class Secret(bytes):
    """Key material. ``repr`` is redacted; equality is constant-time."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"Secret(<{len(self)} bytes redacted>)"

    __str__ = __repr__

    def __format__(self, format_spec: str) -> str:
        return repr(self)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, (bytes, bytearray, memoryview)):
            return NotImplemented
        return hmac.compare_digest(bytes(self), bytes(other))

    def __ne__(self, other: object) -> bool:
        result = self.__eq__(other)
        return result if result is NotImplemented else not result

    # Secrets are not dictionary keys: hashing would leak through timing and
    # collide with the equal plain bytes.
    __hash__ = None  # type: ignore[assignment]

    def __reduce__(self) -> tuple[type[Secret], tuple[bytes]]:
        return (Secret, (bytes(self),))

    @classmethod
    def zero(cls, length: int) -> Secret:
        """The all-zero secret of ``length`` bytes (RFC 9420 uses it for absent inputs)."""
        return cls(bytes(length))
