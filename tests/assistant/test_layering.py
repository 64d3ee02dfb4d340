"""`calpico.assistant` is built on the SDK's public API only: no server, no MLS, no SDK internals."""

from __future__ import annotations

import ast
from pathlib import Path

import calpico.assistant

ROOT = Path(calpico.assistant.__file__).parent
ALLOWED = ("calpico.assistant", "calpico.wire", "calpico.client")
SDK_INTERNALS = (
    "calpico.client.conversations.engine",
    "calpico.client.conversations.operations",
    "calpico.client.conversations.state",
    "calpico.client.transport",
    "calpico.client.sync",
    "calpico.client.push",
)


def _imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module)
        elif isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
    return found


def test_only_the_sdk_and_the_wire_schemas() -> None:
    sources = sorted(ROOT.rglob("*.py"))
    assert len(sources) >= 8
    for path in sources:
        for module in _imports(path):
            if module.startswith("calpico"):
                assert module.startswith(ALLOWED), f"{path.name} imports {module}"
                assert not module.startswith(SDK_INTERNALS), f"{path.name} reaches into the SDK: {module}"
