"""Run the official MLS interop test vectors against `calpico.mls`.

The vector files (github.com/mlswg/mls-implementations, ``test-vectors/``)
are JSON arrays of cases. Each kind of file has one checker here, registered
with the set of keys that identifies its cases, so a file is recognised by its
content and any path works. A checker raises `Skip` for a case it cannot run
(a cipher suite or a feature we do not support, named in the reason),
`Mismatch` when our result differs from the vector, and lets any `MLSError`
propagate when our code rejects the vector's input; the runner counts each
case as passed, failed or skipped.

This module and its ``__main__`` are a tool shipped beside the MLS core: the
checkers themselves do no I/O, and only ``__main__`` reads files.
"""

from __future__ import annotations

import importlib
import pkgutil
import traceback
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "CHECKERS",
    "KINDS",
    "FileReport",
    "Mismatch",
    "Skip",
    "checker",
    "detect_kind",
    "expect_equal",
    "run_cases",
    "unhex",
]

Case = Mapping[str, Any]


class Skip(Exception):
    """A case that cannot run here; the reason names what is missing."""


class Mismatch(Exception):
    """Our output differs from the vector's expected value."""


# Every official kind of vector file, with the keys that identify its cases.
KINDS: dict[str, frozenset[str]] = {
    name: frozenset(keys.split())
    for name, keys in {
        "deserialization": "vlbytes_header length",
        "tree-math": "n_leaves n_nodes root left right parent sibling",
        "crypto-basics": "cipher_suite ref_hash expand_with_label derive_secret derive_tree_secret "
        "sign_with_label encrypt_with_label",
        "secret-tree": "cipher_suite encryption_secret leaves sender_data",
        "key-schedule": "cipher_suite group_id initial_init_secret epochs",
        "psk_secret": "cipher_suite psks psk_secret",
        "transcript-hashes": "cipher_suite authenticated_content confirmation_key interim_transcript_hash_before",
        "messages": "mls_welcome mls_group_info mls_key_package ratchet_tree group_secrets commit",
        "message-protection": "cipher_suite group_id epoch membership_key application application_priv",
        "tree-validation": "cipher_suite group_id tree resolutions tree_hashes",
        "tree-operations": "cipher_suite tree_before proposal proposal_sender tree_after",
        "treekem": "cipher_suite group_id ratchet_tree leaves_private update_paths",
        "welcome": "cipher_suite init_priv signer_pub key_package welcome",
        "passive-client": "cipher_suite key_package welcome epochs initial_epoch_authenticator",
    }.items()
}

CHECKERS: dict[str, Callable[[Case], None]] = {}


def checker(kind: str) -> Callable[[Callable[[Case], None]], Callable[[Case], None]]:
    """Register ``fn`` as the checker for the cases of vector files of ``kind``."""
    if kind not in KINDS:
        raise ValueError(f"unknown vector kind {kind!r}")

    def register(fn: Callable[[Case], None]) -> Callable[[Case], None]:
        CHECKERS[kind] = fn
        return fn

    return register


def unhex(value: str | None) -> bytes:
    """Bytes from a vector's hex string (``None`` gives empty bytes)."""
    return bytes.fromhex(value) if value else b""


def expect_equal(what: str, got: object, want: object) -> None:
    """Raise `Mismatch` naming ``what`` unless ``got == want``."""
    if got != want:
        if isinstance(got, bytes) and isinstance(want, bytes):
            got, want = got.hex(), want.hex()
        raise Mismatch(f"{what}: got {got!r}, want {want!r}")


def detect_kind(cases: Iterable[Case]) -> str | None:
    """The kind of vector file whose cases these are, or None if unknown."""
    first = next(iter(cases), None)
    if not isinstance(first, Mapping):
        return None
    matches = [kind for kind, keys in KINDS.items() if keys <= first.keys()]
    return max(matches, key=lambda kind: len(KINDS[kind]), default=None)


@dataclass(slots=True)
class FileReport:
    """The outcome of one vector file."""

    name: str
    kind: str | None
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    failures: list[str] = field(default_factory=list)
    skip_reasons: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        return f"{self.name}: {self.passed} passed, {self.failed} failed, {self.skipped} skipped"


def run_cases(name: str, cases: list[Case], *, verbose: bool = False) -> FileReport:
    """Check every case of one vector file and count the outcomes."""
    kind = detect_kind(cases)
    report = FileReport(name, kind)
    if kind is None:
        report.skipped = len(cases)
        report.skip_reasons["unknown vector file kind"] = len(cases)
        return report
    _load_checkers()
    check = CHECKERS.get(kind)
    if check is None:
        report.skipped = len(cases)
        report.skip_reasons[f"{kind} vectors are not supported yet"] = len(cases)
        return report
    for index, case in enumerate(cases):
        try:
            check(case)
        except Skip as skip:
            report.skipped += 1
            reason = str(skip)
            report.skip_reasons[reason] = report.skip_reasons.get(reason, 0) + 1
        except Exception as exc:  # any failure of ours counts against the case
            report.failed += 1
            detail = traceback.format_exc() if verbose else f"{type(exc).__name__}: {exc}"
            report.failures.append(f"case {index}{_suite_label(case)}: {detail}")
        else:
            report.passed += 1
    return report


def _suite_label(case: Case) -> str:
    suite = case.get("cipher_suite")
    return f" (cipher suite {suite})" if suite is not None else ""


def _load_checkers() -> None:
    """Import every module of this package: each registers its checkers with `checker`."""
    for module in pkgutil.iter_modules(__path__):
        if not module.name.startswith("_"):
            importlib.import_module(f"{__name__}.{module.name}")
