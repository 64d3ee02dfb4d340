"""Every official vector file, every case, through the conformance checkers.

The files are read where they are (see tests/vectors.py). A kind listed in
`REQUIRED` must pass every case with nothing skipped.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from calpico.mls.conformance import CHECKERS, KINDS, Skip, _load_checkers, detect_kind

from ..vectors import REPO, case_params, load, vectors_dir

ENV = {**os.environ, "PYTHONPATH": str(REPO / "src")}

FILES = [
    "deserialization.json",
    "tree-math.json",
    "crypto-basics.json",
    "secret-tree.json",
    "key-schedule.json",
    "psk_secret.json",
    "transcript-hashes.json",
    "messages.json",
    "message-protection.json",
    "tree-validation.json",
    "tree-operations.json",
    "treekem.json",
    "welcome.json",
    "passive-client-welcome.json",
    "passive-client-handling-commit.json",
]

# Kinds that must be fully supported: no case may be skipped.
REQUIRED = {
    "deserialization",
    "tree-math",
    "crypto-basics",
    "secret-tree",
    "key-schedule",
    "psk_secret",
    "transcript-hashes",
    "messages",
    "message-protection",
    "tree-validation",
    "tree-operations",
    "treekem",
    "welcome",
    "passive-client",
}


@pytest.mark.parametrize(
    ("name", "index"),
    [
        pytest.param(name, p.values[0], id=f"{name.removesuffix('.json')}-{p.id}")
        for name in FILES
        for p in case_params(name)
    ],
)
def test_vector_case(name: str, index: int | None) -> None:
    cases = load(name)
    assert index is not None
    kind = detect_kind(cases)
    assert kind is not None, f"{name} was not recognised"
    _load_checkers()
    check = CHECKERS.get(kind)
    if check is None:
        pytest.skip(f"{kind} vectors are not supported yet")
    try:
        check(cases[index])
    except Skip as skip:
        if kind in REQUIRED:
            raise AssertionError(f"required vector kind {kind} skipped a case: {skip}") from None
        pytest.skip(str(skip))


@pytest.mark.parametrize("name", FILES)
def test_file_is_recognised(name: str) -> None:
    cases = load(name)
    assert detect_kind(cases) in KINDS


def test_required_kinds_have_checkers() -> None:
    # Each case of a required kind must pass (test_vector_case fails on a skip);
    # here: every required kind is a real kind with a registered checker.
    _load_checkers()
    assert set(KINDS) >= REQUIRED
    assert set(CHECKERS) >= REQUIRED


def test_runner_command_reports_counts_and_exit_status(tmp_path) -> None:
    good = vectors_dir() / "tree-math.json"
    load("tree-math.json")
    out = subprocess.run(
        [sys.executable, "-m", "calpico.mls.conformance", str(good)],
        capture_output=True,
        text=True,
        check=False,
        env=ENV,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "10 passed, 0 failed, 0 skipped" in out.stdout

    broken = tmp_path / "broken-tree-math.json"
    case = dict(load("tree-math.json")[1])
    case["root"] = case["root"] + 2
    broken.write_text(__import__("json").dumps([case, load("tree-math.json")[0]]))
    out = subprocess.run(
        [sys.executable, "-m", "calpico.mls.conformance", str(broken)],
        capture_output=True,
        text=True,
        check=False,
        env=ENV,
    )
    assert out.returncode == 1
    assert "1 passed, 1 failed, 0 skipped" in out.stdout
    assert "root" in out.stdout

    unknown = tmp_path / "other.json"
    unknown.write_text('[{"something": 1}]')
    out = subprocess.run(
        [sys.executable, "-m", "calpico.mls.conformance", str(unknown)],
        capture_output=True,
        text=True,
        check=False,
        env=ENV,
    )
    assert out.returncode == 0
    assert "0 passed, 0 failed, 1 skipped" in out.stdout
    assert "unknown vector file kind" in out.stdout
