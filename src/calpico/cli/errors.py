"""The CLI's own errors and the exit code of every failure.

Every failure ends the command with exactly one line on stderr,
``calpico: <reason>`` (with ``--json``: one JSON object, see docs/cli.md),
and one of these exit codes:

====  ==========================================================================
0     done
1     failed (anything not listed below)
2     bad usage: arguments, options, an unknown profile or conversation
3     refused: by the server (blocked, not found, conflict, ...) or the room's policy (admins only)
4     the server could not be reached or answered badly
5     the local store: locked, wrong passphrase, in use by another process
6     verification failed (a safety number or key that does not match)
70    an internal error (a bug: set CALPICO_DEBUG=1 to see the traceback)
130   interrupted (Ctrl-C)
====  ==========================================================================
"""

from __future__ import annotations

from calpico.client.errors import (
    CalpicoError,
    IntegrityError,
    NotPermitted,
    ServerError,
    StoreError,
    TransportError,
    UsageError,
)

__all__ = [
    "EXIT_INTERNAL",
    "EXIT_INTERRUPTED",
    "EXIT_USAGE",
    "CliError",
    "Refused",
    "UsageProblem",
    "exit_code",
    "reason",
]

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_REFUSED = 3
EXIT_OFFLINE = 4
EXIT_STORE = 5
EXIT_INTEGRITY = 6
EXIT_INTERNAL = 70
EXIT_INTERRUPTED = 130


class CliError(Exception):
    """A failure the CLI found itself; ``str()`` is the one-line reason."""

    exit_code = EXIT_FAILED

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(message.split()))


class UsageProblem(CliError):
    """The command cannot run as asked (unknown profile, conversation or option value)."""

    exit_code = EXIT_USAGE


class Refused(CliError):
    """The action cannot reach anyone, or was refused (a DM the other person left, a message not accepted)."""

    exit_code = EXIT_REFUSED


def exit_code(error: BaseException) -> int:
    """The documented exit code for an error that ended a command."""
    if isinstance(error, CliError):
        return error.exit_code
    if isinstance(error, KeyboardInterrupt):
        return EXIT_INTERRUPTED
    for kind, code in (
        (NotPermitted, EXIT_REFUSED),
        (UsageError, EXIT_USAGE),
        (ServerError, EXIT_REFUSED),
        (TransportError, EXIT_OFFLINE),
        (StoreError, EXIT_STORE),
        (IntegrityError, EXIT_INTEGRITY),
        (CalpicoError, EXIT_FAILED),
    ):
        if isinstance(error, kind):
            return code
    if isinstance(error, OSError):
        return EXIT_FAILED
    return EXIT_INTERNAL


def reason(error: BaseException) -> str:
    """The one line a person reads for ``error``."""
    if isinstance(error, KeyboardInterrupt):
        return "interrupted"
    if isinstance(error, OSError) and not isinstance(error, CalpicoError):
        where = f": {error.filename}" if error.filename else ""
        return f"{error.strerror or error}{where}"
    text = " ".join(str(error).split())
    if isinstance(error, CliError | CalpicoError):
        return text or type(error).__name__
    return f"internal error ({type(error).__name__}: {text or 'no details'}); set CALPICO_DEBUG=1 for the traceback"
