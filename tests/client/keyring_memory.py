"""An in-memory OS keyring for tests (the machine running them may have none)."""

from __future__ import annotations


class MemoryKeyring:
    """Implements the two calls the store makes on a keyring backend."""

    def __init__(self) -> None:
        self.entries: dict[tuple[str, str], str] = {}

    def get_password(self, service_name: str, username: str) -> str | None:
        return self.entries.get((service_name, username))

    def set_password(self, service_name: str, username: str, password: str) -> None:
        self.entries[service_name, username] = password


class BrokenKeyring:
    """A keyring that fails like ``keyring``'s fail backend on a headless machine."""

    def get_password(self, service_name: str, username: str) -> str | None:
        from keyring.errors import NoKeyringError

        raise NoKeyringError("No recommended backend was available.")

    def set_password(self, service_name: str, username: str, password: str) -> None:
        from keyring.errors import NoKeyringError

        raise NoKeyringError("No recommended backend was available.")
