"""What the CLI prints: Rich for people, JSON for scripts, one line for an error.

With ``--json`` a one-shot command prints exactly one JSON object on stdout
(one line); live commands (``listen``, ``chat``) print one JSON object per
line (JSON Lines). An error is one line on stderr: ``calpico: <reason>``, or
with ``--json`` ``{"error": {"type": ..., "message": ..., "exit_code": ...}}``.
The keys of every object are listed in docs/cli.md and only ever added to.
"""

from __future__ import annotations

import contextvars
import json
import sys
from collections.abc import Callable
from typing import Any

from rich.console import Console, RenderableType

from .errors import exit_code, reason

__all__ = ["Output", "current_output", "forget_output"]

_current: contextvars.ContextVar[Output | None] = contextvars.ContextVar("calpico_output", default=None)


class Output:
    """The printing side of one command run."""

    def __init__(self, *, as_json: bool = False, color: bool | None = None) -> None:
        self.as_json = as_json
        no_color = color is False
        self.console = Console(highlight=False, no_color=no_color, force_terminal=True if color else None)
        self.err = Console(stderr=True, highlight=False, no_color=no_color)
        _current.set(self)

    # --- results -------------------------------------------------------------------------

    def json(self, data: Any) -> None:
        """One JSON value on one line of stdout."""
        sys.stdout.write(json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=str) + "\n")
        sys.stdout.flush()

    def result(self, data: Any, human: Callable[[], None]) -> None:
        """``data`` as JSON with ``--json``, else whatever ``human`` prints."""
        if self.as_json:
            self.json(data)
        else:
            human()

    def print(self, *things: RenderableType, **kw: Any) -> None:
        """Print for people (nothing with ``--json``)."""
        if not self.as_json:
            self.console.print(*things, **kw)

    def note(self, text: str) -> None:
        """A side remark for people, on stderr (so it never mixes into piped output)."""
        if not self.as_json:
            self.err.print(text)

    # --- errors --------------------------------------------------------------------------

    def error(self, error: BaseException) -> int:
        """Print ``error`` as one line on stderr; return its exit code."""
        code = exit_code(error)
        line = reason(error)
        if self.as_json:
            body = {"error": {"type": type(error).__name__, "message": line, "exit_code": code}}
            sys.stderr.write(json.dumps(body, ensure_ascii=False, separators=(",", ":")) + "\n")
        else:
            # Plain write, not Rich: Rich would wrap a long reason onto a second line.
            sys.stderr.write(f"calpico: {line}\n")
        sys.stderr.flush()
        return code


def forget_output() -> None:
    """Start a new command run: the last run's `Output` (its ``--json``) does not speak for this one."""
    _current.set(None)


def current_output() -> Output:
    """The `Output` of the running command (a plain one if none was made yet)."""
    out = _current.get()
    return out if out is not None else Output()
