"""`calpico` with no arguments shows the version and the supported MLS cipher suites."""

from __future__ import annotations

import importlib

import pytest
from typer.testing import CliRunner

import calpico
from calpico.mls.crypto import SUITES, CipherSuiteId

# The module, not the Typer object that calpico.cli re-exports under the same name.
app_module = importlib.import_module("calpico.cli.app")


def test_no_arguments_prints_version_and_every_suite(monkeypatch: pytest.MonkeyPatch) -> None:
    # A wide console, so that no suite name is wrapped inside its table cell.
    monkeypatch.setattr(app_module.console, "width", 200)
    result = CliRunner().invoke(app_module.app, [])
    assert result.exit_code == 0, result.output
    assert f"Calpico {calpico.__version__}" in result.output
    for suite_id, suite in SUITES.items():
        assert f"0x{suite_id:04X} │ {suite.name}" in result.output
    assert "MLS_256_XWING_CHACHA20POLY1305_SHA256_Ed25519" in result.output
    assert len(SUITES) == len(CipherSuiteId) == 8
