"""Mechanical checks of the architecture rules (../shared/docs/ARCHITECTURE.md §2).

- ``calpico.mls`` imports only the standard library's pure modules, ``cryptography``
  and itself: no other Calpico layer, nothing that does I/O, and it calls no
  ``open``/``print``/``input``. The conformance runner's ``__main__`` (a command
  that reads vector files) is the one exemption.
- Only ``calpico/mls/crypto/`` touches ``cryptography.hazmat``; nothing else in
  Calpico imports ``cryptography`` at all, so every primitive goes through our
  reviewed wrappers.

Layering between the other packages is checked by import-linter (pyproject.toml).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "calpico"
MLS = SRC / "mls"

# Standard-library modules the MLS core may import: computation only.
MLS_ALLOWED_STDLIB = {
    "__future__",
    "abc",
    "bisect",
    "collections",
    "dataclasses",
    "enum",
    "functools",
    "hashlib",
    "hmac",
    "inspect",
    "itertools",
    "math",
    "operator",
    "random",
    "secrets",
    "struct",
    "sys",
    "types",
    "typing",
    "importlib",
    "traceback",
    "json",
}
# `os` only for os.urandom and `time` only for time.time, as injectable defaults.
MLS_ALLOWED_FROM = {"os": {"urandom"}, "time": {"time"}}
# The conformance runner's plumbing: __main__ reads vector files, __init__ discovers checker modules.
MLS_EXEMPT = {MLS / "conformance" / "__main__.py", MLS / "conformance" / "__init__.py"}
FORBIDDEN_CALLS = {"open", "print", "input", "breakpoint"}


def _python_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.py") if "__pycache__" not in p.parts)


def _imports(tree: ast.AST) -> list[tuple[int, str, list[str]]]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name, []) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            module = "." * node.level + (node.module or "")
            found.append((node.lineno, module, [alias.name for alias in node.names]))
    return found


@pytest.mark.parametrize("path", _python_files(MLS), ids=lambda p: str(p.relative_to(SRC)))
def test_mls_core_does_no_io_and_imports_nothing_else_of_calpico(path: Path) -> None:
    if path in MLS_EXEMPT:
        return
    tree = ast.parse(path.read_text(), str(path))
    problems = []
    for lineno, module, names in _imports(tree):
        top = module.split(".")[0]
        if module.startswith(".") or module.startswith("calpico.mls") or top == "cryptography":
            continue
        if top in MLS_ALLOWED_STDLIB:
            continue
        if top in MLS_ALLOWED_FROM and names and set(names) <= MLS_ALLOWED_FROM[top]:
            continue
        problems.append(f"line {lineno}: imports {module} {names or ''}".rstrip())
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in FORBIDDEN_CALLS:
            problems.append(f"line {node.lineno}: calls {node.func.id}()")
    assert not problems, f"{path.relative_to(SRC)} breaks the sans-I/O rule:\n" + "\n".join(problems)


@pytest.mark.parametrize("path", _python_files(SRC), ids=lambda p: str(p.relative_to(SRC)))
def test_only_mls_crypto_touches_cryptography(path: Path) -> None:
    if (MLS / "crypto") in path.parents:
        return
    tree = ast.parse(path.read_text(), str(path))
    bad = [
        f"line {lineno}: {module}"
        for lineno, module, _ in _imports(tree)
        if module == "cryptography" or module.startswith("cryptography.")
    ]
    assert not bad, f"{path.relative_to(SRC)} imports cryptography outside calpico/mls/crypto:\n" + "\n".join(bad)


def test_the_rule_catches_a_violation(tmp_path: Path) -> None:
    bad = "import socket\nfrom calpico.server import app\nopen('x')\n"
    tree = ast.parse(bad)
    modules = [m for _, m, _ in _imports(tree)]
    assert "socket" in modules and "calpico.server" in modules
    assert any(isinstance(n, ast.Call) and getattr(n.func, "id", "") == "open" for n in ast.walk(tree))
