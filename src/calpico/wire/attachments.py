"""Encrypted attachments: upload a blob, fetch it by capability id."""

from __future__ import annotations

from .common import Model

__all__ = ["AttachmentCreated"]


class AttachmentCreated(Model):
    """``id`` is a capability: whoever knows it may fetch the (encrypted) blob until it expires."""

    id: str
    size: int
    expires_at: float
