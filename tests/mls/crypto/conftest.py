"""Fixtures for the cipher-suite tests: every supported suite, and seeded randomness."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest

from calpico.mls.crypto import SUITES, CipherSuite


def seeded_rng(seed: int) -> Callable[[int], bytes]:
    """A deterministic stand-in for os.urandom."""
    return random.Random(seed).randbytes


@pytest.fixture(params=sorted(SUITES), ids=lambda suite_id: f"cs{suite_id}")
def suite(request: pytest.FixtureRequest) -> CipherSuite:
    return SUITES[request.param]
