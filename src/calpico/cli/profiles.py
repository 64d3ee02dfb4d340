"""Profiles: where a device's store lives, how its key is unlocked, which server it talks to.

A profile is one device of one person. Everything about it lives in the
Calpico home folder::

    $CALPICO_HOME (default $XDG_DATA_HOME/calpico, else ~/.local/share/calpico), mode 0700
    ├── <profile>.json    what the CLI remembers: server URL, username, how the key is unlocked
    ├── <profile>.db      the device's encrypted store (calpico.client.store; the SDK owns it)
    └── <profile>.key     the key file, for profiles unlocked by one (mode 0600)

The profile is chosen by ``--profile NAME``, else ``$CALPICO_PROFILE``, else
``default``. The store's key comes from one of (``--key`` at creation,
remembered in the profile):

``passphrase``  ``$CALPICO_PASSPHRASE`` if set, else a hidden prompt (Argon2id)
``keyring``     a random key in the OS keyring (the ``keyring`` package)
``file``        a random key in ``<profile>.key`` (or ``--key-file PATH``), for unattended use
"""

from __future__ import annotations

import contextlib
import enum
import getpass
import json
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from calpico.client import KeyFile, KeySource, OSKeyring, Passphrase

from .errors import CliError, UsageProblem

__all__ = [
    "DEFAULT_PROFILE",
    "DEFAULT_SERVER",
    "KeyMethod",
    "Profile",
    "ProfileSettings",
    "calpico_home",
    "profile_name",
]

DEFAULT_PROFILE = "default"
DEFAULT_SERVER = "http://127.0.0.1:8470"
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$")
_VERSION = 1


class KeyMethod(enum.StrEnum):
    """How a profile's store key is unlocked."""

    PASSPHRASE = "passphrase"  # noqa: S105 (the name of a method, not a secret)
    KEYRING = "keyring"
    FILE = "file"


def calpico_home(explicit: Path | None = None, env: dict[str, str] | None = None) -> Path:
    """The folder of every profile.

    ``--home``, else ``$CALPICO_HOME``, else ``$XDG_DATA_HOME/calpico``, else ``~/.local/share/calpico``.
    """
    env = dict(os.environ) if env is None else env
    if explicit is not None:
        return explicit.expanduser()
    if env.get("CALPICO_HOME"):
        return Path(env["CALPICO_HOME"]).expanduser()
    if env.get("XDG_DATA_HOME"):
        return Path(env["XDG_DATA_HOME"]).expanduser() / "calpico"
    return Path.home() / ".local" / "share" / "calpico"


def profile_name(explicit: str | None = None) -> str:
    """The profile to use: ``--profile``, ``$CALPICO_PROFILE`` or ``default``; raises `UsageProblem` if malformed."""
    name = explicit or os.environ.get("CALPICO_PROFILE") or DEFAULT_PROFILE
    if not _NAME.match(name):
        raise UsageProblem(f"bad profile name {name!r}: use letters, digits, '_', '.', '-' (at most 64)")
    return name


@dataclass(frozen=True, slots=True)
class ProfileSettings:
    """What ``<profile>.json`` remembers (the server URL and username are also in the store)."""

    server: str
    username: str
    key: KeyMethod
    key_file: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"version": _VERSION, "server": self.server, "username": self.username}
        out["key"] = self.key.value
        if self.key_file is not None:
            out["key_file"] = self.key_file
        return out

    @classmethod
    def from_json(cls, data: object, where: Path) -> ProfileSettings:
        try:
            assert isinstance(data, dict)
            key_file = data.get("key_file")
            return cls(
                server=str(data["server"]),
                username=str(data["username"]),
                key=KeyMethod(data["key"]),
                key_file=None if key_file is None else str(key_file),
            )
        except (AssertionError, KeyError, ValueError, TypeError):
            raise CliError(f"the profile file {where} is damaged (expected server, username and key)") from None


@dataclass(frozen=True, slots=True)
class Profile:
    """One profile in one home folder; nothing on disk is touched until asked."""

    home: Path
    name: str

    @property
    def settings_path(self) -> Path:
        return self.home / f"{self.name}.json"

    @property
    def store_path(self) -> Path:
        return self.home / f"{self.name}.db"

    @property
    def default_key_file(self) -> Path:
        return self.home / f"{self.name}.key"

    def exists(self) -> bool:
        return self.settings_path.exists()

    def ensure_home(self) -> None:
        """Create the home folder (mode 0700) if it is missing."""
        try:
            self.home.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise CliError(f"cannot create {self.home}: {exc.strerror or exc}") from None

    def load(self) -> ProfileSettings:
        """The remembered settings; raises `UsageProblem` if this profile has no account yet."""
        try:
            text = self.settings_path.read_text(encoding="utf-8")
        except FileNotFoundError:
            hint = "" if self.name == DEFAULT_PROFILE else f" --profile {self.name}"
            raise UsageProblem(
                f"no account in profile {self.name!r} ({self.home}): run `calpico account create USERNAME{hint}`"
            ) from None
        except OSError as exc:
            raise CliError(f"cannot read {self.settings_path}: {exc.strerror or exc}") from None
        try:
            data = json.loads(text)
        except ValueError:
            raise CliError(f"the profile file {self.settings_path} is not valid JSON") from None
        return ProfileSettings.from_json(data, self.settings_path)

    def save(self, settings: ProfileSettings) -> None:
        """Write the settings atomically (mode 0600)."""
        self.ensure_home()
        tmp = self.settings_path.with_suffix(".json.tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(settings.to_json(), f, indent=2)
                f.write("\n")
            os.replace(tmp, self.settings_path)
        except OSError as exc:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise CliError(f"cannot write {self.settings_path}: {exc.strerror or exc}") from None

    def forget(self) -> None:
        """Remove the settings file (after a failed creation)."""
        with contextlib.suppress(OSError):
            self.settings_path.unlink()

    def key_source(self, settings: ProfileSettings, *, creating: bool = False) -> KeySource:
        """The `KeySource` that unlocks this profile's store (prompting for a passphrase if needed)."""
        if settings.key is KeyMethod.FILE:
            return KeyFile(Path(settings.key_file) if settings.key_file else self.default_key_file)
        if settings.key is KeyMethod.KEYRING:
            return OSKeyring(service="calpico")  # one entry per store, named by the store's id
        return Passphrase(read_passphrase(self.name, confirm=creating))


def read_passphrase(profile: str, *, confirm: bool = False) -> str:
    """``$CALPICO_PASSPHRASE``, else a hidden prompt on the terminal; raises `UsageProblem` with neither."""
    env = os.environ.get("CALPICO_PASSPHRASE")
    if env:
        return env
    if not sys.stdin.isatty():
        raise UsageProblem(
            f"profile {profile!r} is locked with a passphrase: set CALPICO_PASSPHRASE or run in a terminal"
        )
    try:
        first = getpass.getpass(f"Passphrase for profile {profile!r}: ")
        if not first:
            raise UsageProblem("an empty passphrase is not allowed")
        if confirm and getpass.getpass("Repeat it: ") != first:
            raise UsageProblem("the two passphrases differ")
    except EOFError:
        raise UsageProblem("no passphrase given") from None
    return first
