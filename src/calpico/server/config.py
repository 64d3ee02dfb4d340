"""Server configuration: defaults, then a TOML file, then ``CALPICO_*`` env vars, then flags.

Every setting has a safe default, so ``calpico server`` runs with no set-up:
SQLite (WAL) in ``./calpico-data``, in-process pub/sub, open registration on
127.0.0.1:8470.
"""

from __future__ import annotations

import dataclasses
import enum
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Registration", "ServerConfig", "load_config"]

DAY = 86_400.0


class Registration(enum.StrEnum):
    OPEN = "open"
    INVITE = "invite"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class ServerConfig:
    """All operator settings. Durations are seconds, sizes bytes."""

    server_name: str = "localhost"
    host: str = "127.0.0.1"
    port: int = 8470
    data_dir: Path = Path("calpico-data")
    database_url: str | None = None  # None: SQLite in data_dir
    redis_url: str | None = None  # None: in-process pub/sub (single node)
    registration: Registration = Registration.OPEN
    retention: float = 30 * DAY
    token_ttl: float = 3600.0
    challenge_ttl: float = 120.0
    max_message_size: int = 256 * 1024
    max_attachment_size: int = 25 * 1024 * 1024
    max_request_size: int = 1024 * 1024
    claim_rate: float = 1.0  # KeyPackage claims refilled per second, per requesting user
    claim_burst: int = 30
    inbox_page: int = 500
    sweep_interval: float = 60.0
    push_queue_limit: int = 10_000  # frames queued for one slow connection before it is dropped
    log_level: str = "info"
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def effective_database_url(self) -> str:
        """The SQLAlchemy URL: the configured one, or SQLite in the data folder."""
        if self.database_url:
            url = self.database_url
            if url.startswith("postgresql://") or url.startswith("postgres://"):
                url = "postgresql+asyncpg://" + url.split("://", 1)[1]
            return url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'calpico.db').resolve()}"

    @property
    def attachments_dir(self) -> Path:
        return self.data_dir / "attachments"


_FIELDS = {f.name: f for f in dataclasses.fields(ServerConfig)}


def _coerce(name: str, value: Any) -> Any:
    kind = _FIELDS[name].type
    if value is None:
        return None
    if kind == "Path":
        return Path(value)
    if kind == "Registration":
        return Registration(value)
    if kind in ("int",):
        return int(value)
    if kind in ("float",):
        return float(value)
    return str(value) if kind.startswith("str") else value


def load_config(
    file: Path | None = None, env: Mapping[str, str] | None = None, overrides: Mapping[str, Any] | None = None
) -> ServerConfig:
    """Merge defaults, a TOML file (its ``[server]`` table or top level), env vars and overrides.

    Raises `ValueError` on an unknown setting or a value of the wrong kind.
    """
    values: dict[str, Any] = {}
    if file is not None:
        data = tomllib.loads(Path(file).read_text())
        data = data.get("server", data)
        for key, value in data.items():
            name = key.replace("-", "_")
            if name not in _FIELDS or name == "extra":
                raise ValueError(f"unknown setting {key!r} in {file}")
            values[name] = _coerce(name, value)
    env = os.environ if env is None else env
    for name in _FIELDS:
        raw = env.get("CALPICO_" + name.upper())
        if raw is not None and name != "extra":
            values[name] = _coerce(name, raw)
    for name, value in (overrides or {}).items():
        if value is not None:
            if name not in _FIELDS:
                raise ValueError(f"unknown setting {name!r}")
            values[name] = _coerce(name, value)
    return ServerConfig(**values)
