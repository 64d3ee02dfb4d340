"""The exceptions `calpico.mls` raises.

Every failure is raised, never returned: a caller that forgets to look at a
result must not end up trusting bad data. All errors derive from `MLSError`::

    MLSError                       root; carries the RFC 9420 section, if one applies
    ├── DecodeError                bytes that do not parse (§2.1 and the struct grammar)
    ├── EncodeError                a value that cannot be put on the wire (local bug)
    ├── ProtocolError              well-formed input that breaks a rule of the RFC
    │   ├── VerificationError      a signature, MAC, tag or hash that does not match
    │   └── DecryptionError        AEAD or HPKE open failed, key or generation unknown
    ├── UnsupportedError           a cipher suite, version or feature we do not implement
    └── UsageError                 the caller asked for something the state does not allow

Errors that come from third-party code (``cryptography``) are wrapped where
they cross into this package, so callers only ever have to catch `MLSError`.

``section``: every error about received input names the RFC 9420 section of
the rule it broke (a malformed encoding names §2.1, §2.1.1 or §2.1.2). The
crypto layer's primitive failures (an AEAD tag, a MAC) name none of their
own: the protocol code that called them re-raises them with the rule's
section (§6.2, §6.3, §8.2, §12.4.3.1). Only `UsageError` (local misuse) and
the decode errors of Calpico's own persisted state records, which no RFC
rule governs, may come without one.
"""

from __future__ import annotations

__all__ = [
    "DecodeError",
    "DecryptionError",
    "EncodeError",
    "MLSError",
    "ProtocolError",
    "UnsupportedError",
    "UsageError",
    "VerificationError",
]


class MLSError(Exception):
    """Root of every error raised by `calpico.mls`.

    ``section`` names the part of RFC 9420 whose rule was broken (for example
    ``"12.2"``), when there is one; it is part of the message as well.
    """

    section: str | None

    def __init__(self, message: str, *, section: str | None = None) -> None:
        self.section = section
        self.reason = message
        if section is not None:
            message = f"{message} (RFC 9420 §{section})"
        super().__init__(message)


class DecodeError(MLSError):
    """The input is not a valid encoding of the expected structure."""


class EncodeError(MLSError):
    """A value cannot be encoded (out of range, or inconsistent select fields)."""


class ProtocolError(MLSError):
    """The input parsed, but a rule of the protocol forbids it."""


class VerificationError(ProtocolError):
    """A signature, MAC, confirmation tag, parent hash or tree hash does not verify."""


class DecryptionError(ProtocolError):
    """Ciphertext could not be opened: wrong key, tampered data, or a stale generation."""


class UnsupportedError(MLSError):
    """A known-but-unimplemented cipher suite, protocol version or feature."""


class UsageError(MLSError):
    """Local misuse of the API: wrong state, wrong argument."""
