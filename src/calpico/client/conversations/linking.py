"""Linking a new device with a one-time code (implementation follows)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..store import KeySource

from .model import LinkOffer

if TYPE_CHECKING:
    from ..client import Client
    from .engine import Engine

__all__ = ["link_new_device"]


async def link_new_device(
    server_url: str,
    path: Path | str,
    key: KeySource,
    code: str,
    *,
    device_name: str = "",
    timeout: float = 120.0,
    **account_options: Any,
) -> Client:
    raise NotImplementedError


async def offer_link(engine: Engine, ttl: float) -> LinkOffer:
    raise NotImplementedError


async def complete_link(engine: Engine, offer: LinkOffer, timeout: float) -> str:
    raise NotImplementedError
