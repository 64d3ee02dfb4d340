"""One loader for the official MLS test vectors (../shared/mls-vectors).

Set ``CALPICO_MLS_VECTORS`` to use another folder. When the folder is absent
the vector tests skip, saying where the files come from.
"""

from __future__ import annotations

import json
import os
from functools import cache
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
WHERE_TO_GET = "get them from github.com/mlswg/mls-implementations (folder test-vectors/)"


def vectors_dir() -> Path:
    return Path(os.environ.get("CALPICO_MLS_VECTORS", REPO.parent / "shared" / "mls-vectors"))


@cache
def load(name: str) -> list[dict[str, Any]]:
    """The cases of vector file ``name`` (e.g. ``"tree-math.json"``); skips if absent."""
    path = vectors_dir() / name
    if not path.is_file():
        pytest.skip(f"MLS test vector {path} not found: set CALPICO_MLS_VECTORS or {WHERE_TO_GET}")
    cases = json.loads(path.read_text())
    assert isinstance(cases, list)
    return cases


def case_params(name: str) -> list[Any]:
    """pytest params for each case of ``name``, with readable ids; empty when absent."""
    path = vectors_dir() / name
    if not path.is_file():
        return [pytest.param(None, id="vectors-missing")]
    cases = json.loads(path.read_text())
    params = []
    for index, case in enumerate(cases):
        suite = case.get("cipher_suite")
        label = f"{index}-cs{suite}" if suite is not None else str(index)
        params.append(pytest.param(index, id=label))
    return params
