"""Driving long-running ``calpico`` processes: read their output as it comes, under a pipe or a pty."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import queue
import re
import signal
import struct
import subprocess
import termios
import threading
import time
from collections.abc import Callable
from typing import Any

from .conftest import LAUNCH, Cli

_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07]*\x07|\x1b[=>()][0-9A-Za-z]?|\r")


def strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)


class Lines:
    """Everything a process writes to one stream, collected by a reader thread."""

    def __init__(self, read: Callable[[], str]) -> None:
        self.seen = ""
        self._chunks: queue.Queue[str] = queue.Queue()
        self._read = read
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        while True:
            try:
                chunk = self._read()
            except OSError:
                chunk = ""
            if not chunk:
                return
            self._chunks.put(chunk)

    def _drain(self, wait: float) -> None:
        try:
            self.seen += self._chunks.get(timeout=wait)
            while True:
                self.seen += self._chunks.get_nowait()
        except queue.Empty:
            pass

    def expect(self, needle: str | Callable[[str], bool], timeout: float = 60.0) -> str:
        """Wait until the output (ANSI codes removed) contains ``needle`` or satisfies it."""
        check = needle if callable(needle) else (lambda text: needle in text)
        deadline = time.monotonic() + timeout
        while not check(strip_ansi(self.seen)):
            left = deadline - time.monotonic()
            assert left > 0, f"timed out waiting for {needle!r}; output so far:\n{strip_ansi(self.seen)}"
            self._drain(min(left, 0.2))
        return strip_ansi(self.seen)

    def json_lines(self) -> list[dict[str, Any]]:
        self._drain(0)
        return [json.loads(line) for line in self.seen.splitlines() if line.startswith("{")]

    def expect_json(self, match: Callable[[dict[str, Any]], bool], timeout: float = 60.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            for obj in self.json_lines():
                if match(obj):
                    return obj
            assert time.monotonic() < deadline, f"timed out; JSON lines so far: {self.json_lines()}"
            self._drain(0.2)


class Piped:
    """``calpico ...`` with stdin, stdout and stderr on pipes."""

    def __init__(self, cli: Cli, *args: str) -> None:
        self.proc = cli.spawn(*args)
        assert self.proc.stdout is not None and self.proc.stderr is not None
        out, err = self.proc.stdout, self.proc.stderr
        self.out = Lines(out.readline)
        self.err = Lines(err.readline)

    def send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def close_input(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()

    def interrupt(self) -> None:
        self.proc.send_signal(signal.SIGINT)

    def wait(self, timeout: float = 60.0) -> int:
        return self.proc.wait(timeout)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


class OnTerminal:
    """``calpico ...`` on a pseudo-terminal (120x40), as a person would run it."""

    def __init__(self, cli: Cli, *args: str) -> None:
        import sys

        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
        env = cli.env(TERM="xterm-256color", PROMPT_TOOLKIT_NO_CPR="1")
        self.proc = subprocess.Popen(
            [sys.executable, "-c", LAUNCH, *args],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            start_new_session=True,
            close_fds=True,
        )
        os.close(slave)
        self.master = master
        self._closed = False
        self.out = Lines(self._read)

    def _read(self) -> str:
        return os.read(self.master, 65536).decode("utf-8", "replace")

    def type(self, text: str) -> None:
        os.write(self.master, text.encode())

    def wait(self, timeout: float = 60.0) -> int:
        return self.proc.wait(timeout)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        if not self._closed:
            self._closed = True
            os.close(self.master)
