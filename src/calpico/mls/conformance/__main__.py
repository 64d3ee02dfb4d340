"""``python -m calpico.mls.conformance FILE...`` — check official MLS test-vector files.

Prints, per file, ``N passed, M failed, K skipped`` with the reason for every
skip and the first failures, and exits 1 if any case failed (2 if a file
could not be read).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from . import run_cases


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m calpico.mls.conformance", description=__doc__.split("\n")[0])
    parser.add_argument("files", nargs="+", type=Path, help="official test-vector JSON files")
    parser.add_argument("-v", "--verbose", action="store_true", help="print tracebacks and every failure")
    args = parser.parse_args(argv)

    any_failed = False
    for path in args.files:
        try:
            cases = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            print(f"{path}: cannot read: {exc}")
            return 2
        if not isinstance(cases, list):
            print(f"{path}: not a test-vector file (expected a JSON array)")
            return 2
        report = run_cases(str(path), cases, verbose=args.verbose)
        kind = f" [{report.kind}]" if report.kind else ""
        print(report.summary() + kind)
        for reason, count in sorted(report.skip_reasons.items()):
            print(f"  skipped {count}: {reason}")
        shown = report.failures if args.verbose else report.failures[:10]
        for failure in shown:
            print(f"  FAILED {failure}")
        if len(shown) < len(report.failures):
            print(f"  ... and {len(report.failures) - len(shown)} more failures (use -v to see all)")
        any_failed |= report.failed > 0
    return 1 if any_failed else 0


if __name__ == "__main__":
    sys.exit(main())
