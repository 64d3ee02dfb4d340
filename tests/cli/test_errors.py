"""Every failure is one line with a reason and a documented exit code; never a traceback."""

from __future__ import annotations

import json
import subprocess

import pytest

from calpico.cli.errors import exit_code, reason
from calpico.client.errors import Blocked, NoAccount, Offline, StoreInUse, WrongPassphrase
from calpico.wire.common import ErrorCode

from .conftest import Cli


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["dm"], "Missing argument"),
        (["send", "x"], "Missing argument"),
        (["rooms", "--bogus"], "No such option: --bogus"),
        (["room", "create"], "Missing argument"),
        (["account", "create", "x", "--key", "telepathy"], "'telepathy'"),
        (["listen", "--count", "0"], "--count"),
        (["nonsense"], "No such command"),
    ],
)
def test_bad_usage_is_one_line_and_exit_2(cli: Cli, args: list[str], needle: str) -> None:
    result = cli(*args)
    assert result.code == 2
    line = result.error_line
    assert line.startswith("calpico: ")
    assert needle in line
    assert "--help" in line
    assert result.out == ""


def test_a_json_run_does_not_make_the_next_runs_error_json(cli: Cli) -> None:
    assert cli("rooms", "--profile", "missing", "--json").error_line.startswith("{")
    line = cli("dm").error_line  # fails while parsing, before the command makes its own output
    assert line.startswith("calpico: ") and "Missing argument" in line


def test_json_errors_are_one_json_line(cli: Cli) -> None:
    result = cli("rooms", "--profile", "missing", "--json")
    assert result.code == 2
    body = json.loads(result.error_line)
    assert body == {"error": {"type": "UsageProblem", "message": body["error"]["message"], "exit_code": 2}}
    assert "'missing'" in body["error"]["message"]


def test_a_group_alone_prints_its_help(cli: Cli) -> None:
    result = cli("room")
    assert result.code == 2
    for sub in ("create", "invite", "remove", "leave", "rename"):
        assert sub in result.out


def test_the_console_script_prints_no_traceback(cli: Cli) -> None:
    proc = cli.spawn("dm", "--profile", "nobody", "bob", "hi", stdin=subprocess.DEVNULL)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("calpico: ")
    assert "Traceback" not in err


def test_exit_codes_follow_the_error_tree() -> None:
    assert exit_code(NoAccount("x")) == 2
    assert exit_code(Blocked("x", status=403, code=ErrorCode.BLOCKED)) == 3
    assert exit_code(Offline("x")) == 4
    assert exit_code(StoreInUse("x")) == 5
    assert exit_code(WrongPassphrase("x")) == 5
    assert exit_code(KeyboardInterrupt()) == 130
    assert exit_code(ZeroDivisionError("x")) == 70
    assert reason(ZeroDivisionError("division by zero")).startswith("internal error (ZeroDivisionError")
    assert "\n" not in reason(Offline("two\nlines"))
