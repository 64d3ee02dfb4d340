"""Fixtures for the CLI's tests: a real server on loopback, and ``calpico`` run in-process or as a process.

`Cli` runs one command line through `calpico.cli.app.run` (the function
behind the console script) with its own ``CALPICO_HOME``, and returns the
exit code and what went to stdout and stderr. `Cli.spawn` starts the real
``calpico`` in a subprocess, for the commands that stay running (``listen``,
``chat``, both sides of ``device link``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from calpico.cli.app import run

from ..client.server import ThreadServer

SRC = str(Path(__file__).resolve().parents[2] / "src")
# A shell starts background jobs with SIGINT ignored and children inherit that;
# Python then installs no KeyboardInterrupt handler, and a test that presses
# Ctrl-C would wait forever when the suite itself runs as ``cmd &``. The CLI
# under test gets SIGINT back at its default, as in a terminal.
LAUNCH = "import signal; signal.signal(signal.SIGINT, signal.default_int_handler); from calpico.cli import main; main()"


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        assert self.code == 0, self.err
        lines = [line for line in self.out.splitlines() if line.strip()]
        assert len(lines) == 1, f"expected one JSON line, got: {self.out!r}"
        return json.loads(lines[0])

    @property
    def error_line(self) -> str:
        """The one line an error prints (asserting it is exactly one, with no traceback)."""
        lines = self.err.strip().splitlines()
        assert len(lines) == 1, f"expected one error line, got: {self.err!r}"
        assert "Traceback" not in self.err
        return lines[0]


class Cli:
    """``calpico`` with a home folder of its own, against one server."""

    def __init__(self, home: Path, server_url: str, capsys: pytest.CaptureFixture[str]) -> None:
        self.home = home
        self.server_url = server_url
        self._capsys = capsys

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CALPICO_")}
        env.update(CALPICO_HOME=str(self.home), COLUMNS="200", PYTHONPATH=SRC + os.pathsep + env.get("PYTHONPATH", ""))
        env.update(extra)
        return env

    def __call__(self, *args: str, input: str | None = None) -> Result:
        """Run one command line in this process."""
        self._capsys.readouterr()
        code = run(list(args))
        captured = self._capsys.readouterr()
        return Result(code, captured.out, captured.err)

    def ok(self, *args: str) -> Result:
        result = self(*args)
        assert result.code == 0, f"{args} failed ({result.code}): {result.err}"
        return result

    def json(self, *args: str) -> Any:
        return self.ok(*args, "--json").json()

    def create(self, username: str | None = None, profile: str | None = None) -> str:
        """A new account (key file, so no prompt) in its own profile; returns the username."""
        name = username or f"u{uuid.uuid4().hex[:10]}"
        self.ok("account", "create", name, "--server", self.server_url, "--key", "file", "--profile", profile or name)
        return name

    def spawn(self, *args: str, stdin: int | None = subprocess.PIPE, **popen: Any) -> subprocess.Popen[str]:
        """The real ``calpico`` in a subprocess (text mode, line-buffered pipes)."""
        return subprocess.Popen(
            [sys.executable, "-u", "-c", LAUNCH, *args],
            stdin=stdin,
            stdout=popen.pop("stdout", subprocess.PIPE),
            stderr=popen.pop("stderr", subprocess.PIPE),
            text=True,
            bufsize=1,
            env=self.env(**popen.pop("env", {})),
            **popen,
        )


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadServer]:
    srv = ThreadServer(tmp_path_factory.mktemp("server") / "data").start()
    yield srv
    srv.stop()


@pytest.fixture
def cli(
    server: ThreadServer, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Cli:
    home = tmp_path / "home"
    for name in [k for k in os.environ if k.startswith("CALPICO_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("CALPICO_HOME", str(home))
    monkeypatch.setenv("COLUMNS", "200")
    return Cli(home, server.url, capsys)
