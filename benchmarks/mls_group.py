"""The MLS group operations (RFC 9420 §12), Calpico beside mls-rs measured in the same run.

Run: ``.venv/bin/python benchmarks/mls_group.py`` (``--quick`` for a short pass,
``--sizes 10,100`` to choose the group sizes, ``--no-alone`` to skip the
Calpico-only sections). Nothing is asserted; the figures are printed.

What is timed, per group size N, on suite 0x0001 (the only suite of the
mls-rs binding, ``agentvault-mls-rs-uniffi`` 0.1.1 = mls-rs-uniffi 0.13 with
the OpenSSL provider, default client config: ratchet tree in the GroupInfo):

- add all: Calpico ``commit(add=N-1 KeyPackages)`` + ``merge`` + encode the
  commit and the Welcome; mls-rs ``add_members(N-1 KeyPackages)`` +
  ``process_incoming_message(own commit)`` + ``to_bytes`` of both.
- join: Calpico ``Group.join(welcome bytes, ...)``; mls-rs
  ``Message.from_bytes(welcome)`` + ``join_group(None, welcome)``.
- commit with path: Calpico ``commit()`` (an empty commit: a path is
  required) + ``merge`` + encode; mls-rs ``commit()`` (empty, with a path) +
  ``process_incoming_message(own commit)`` + ``to_bytes``.
- process commit: Calpico ``process(commit bytes)`` + ``merge``; mls-rs
  ``process_incoming_message(Message.from_bytes(commit))``.
- protect 200 B: Calpico ``protect(data).encode()``; mls-rs
  ``encrypt_application_message(data).to_bytes()``.
- unprotect 200 B: Calpico ``process(message bytes)``; mls-rs
  ``process_incoming_message(Message.from_bytes(message))``.

Why the mls-rs side includes ``process_incoming_message`` of its own commit:
in the binding, ``add_members`` / ``commit`` only *create* the commit (mls-rs
keeps it as its "pending commit"); the group moves to the new epoch when the
committer processes its own commit (``apply_pending_commit``, which re-runs
the commit processing with the kept secrets). Calpico's ``commit`` builds the
whole next epoch at once (a `StagedCommit`) and ``merge`` only installs it.
So "add all" and "commit with path" measure, on both sides, everything from
the KeyPackages to the group being in the new epoch with the messages on the
wire. Neither side writes to storage (mls-rs's default storage is in memory
and the binding only writes on ``write_to_storage``; Calpico's ``to_bytes`` is
not called in the timed part). The mls-rs figures include the binding's FFI
conversions (e.g. the roster update of 999 SigningIdentity objects after a
1,000-member add), which an application using it pays as well.

Fairness: both sides do the same operations on groups of the same shape.
Each round makes N-1 fresh KeyPackages per side and adds them all in one
commit (no path: the tree's parents are blank) to a new group a few times
(one sample each; small groups get more), lets 2m members join from the last
Welcome, sends application messages from the creator to a joiner, then m of
the joiners each commit with a path (so every commit encrypts to ~N-1 leaves,
the worst case, the same in every sample) and the other m each process one of
those commits. Every timed step runs once for Calpico and once for mls-rs,
alternating which goes first, with a garbage collection before each, so a
burst of load from another process hits both sides alike. Protect and
unprotect are timed in batches of messages (one sample = the mean of a
batch). The table gives the wall-clock median over samples (and the best),
and the ratio of the medians, Calpico / mls-rs: below 1.0, Calpico is
faster. A second ratio compares CPU time (``time.process_time``, all threads
of the process): mls-rs is built with rayon and spreads signature checks and
HPKE over the cores, so on an idle multi-core machine its wall-clock time is
below its CPU time, while Calpico runs on one core (``cryptography`` holds
the GIL during each operation).

Calpico runs with its default `GroupConfig` (it also publishes an
``external_pub`` in the GroupInfo, which mls-rs does not; that costs Calpico
one KEM key derivation per commit).

Then Calpico alone: 10,000 members on suite 0x0001, and suite 0x004D (X-Wing)
at 10, 100 and 1,000 members, with the sizes of the Welcome and of the
creator's serialized state (``Group.to_bytes()``) after the add.

The machine these run on has 2 shared cores: compare medians of a few runs.
"""

from __future__ import annotations

import argparse
import gc
import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from calpico.mls import ApplicationMessage, Credential, Group, MLSMessage, StagedCommit, create_key_package, get_suite
from calpico.mls.key_package import KeyPackageBundle

try:
    import mls_rs_uniffi as rs
except ImportError:  # the dev extra installs it
    rs = None

OPERATIONS = ("add all", "join", "commit with path", "process commit", "protect 200 B", "unprotect 200 B")
DATA = bytes(range(200))


# --- the two sides -----------------------------------------------------------------------


@dataclass(slots=True)
class CalpicoMember:
    name: bytes
    key_package: MLSMessage
    bundle: KeyPackageBundle
    signature_private: bytes
    group: Group | None = None


class CalpicoSide:
    """Calpico's public Group API."""

    def __init__(self, suite_id: int) -> None:
        self.suite_id = suite_id
        self.suite = get_suite(suite_id)
        self.name = "Calpico" if suite_id == 1 else f"Calpico 0x{suite_id:04X}"
        self.welcome_size = 0
        self.state_size = 0
        self.commit_size = 0

    def member(self, name: bytes) -> CalpicoMember:
        signature_private, _ = self.suite.generate_signature_key_pair()
        bundle = create_key_package(self.suite_id, Credential.basic(name), signature_private)
        return CalpicoMember(name, MLSMessage.of(bundle.key_package), bundle, signature_private)

    def create(self) -> CalpicoMember:
        creator = self.member(b"creator")
        creator.group = Group.create(self.suite_id, Credential.basic(b"creator"), creator.signature_private)
        return creator

    def add_all(self, creator: CalpicoMember, members: list[CalpicoMember]) -> bytes:
        group = creator.group
        assert group is not None
        result = group.commit(add=[m.key_package for m in members])
        group.merge(result.staged)
        result.commit.encode()
        assert result.welcome is not None
        return result.welcome.encode()

    def join(self, member: CalpicoMember, welcome: bytes) -> None:
        member.group = Group.join(welcome, member.bundle, member.signature_private)

    def commit(self, member: CalpicoMember) -> bytes:
        group = member.group
        assert group is not None
        result = group.commit()
        group.merge(result.staged)
        return result.commit.encode()

    def process(self, member: CalpicoMember, commit: bytes) -> None:
        group = member.group
        assert group is not None
        staged = group.process(commit)
        assert isinstance(staged, StagedCommit)
        group.merge(staged)

    def protect(self, member: CalpicoMember, data: bytes) -> bytes:
        assert member.group is not None
        return member.group.protect(data).encode()

    def unprotect(self, member: CalpicoMember, message: bytes) -> bytes:
        assert member.group is not None
        event = member.group.process(message)
        assert isinstance(event, ApplicationMessage)
        return event.data

    def record_sizes(self, creator: CalpicoMember, welcome: bytes) -> None:
        assert creator.group is not None
        self.welcome_size = len(welcome)
        self.state_size = len(creator.group.to_bytes())


@dataclass(slots=True)
class RsMember:
    name: bytes
    client: Any
    key_package: Any
    group: Any = None


class MlsRsSide:
    """mls-rs through ``mls_rs_uniffi`` (suite 0x0001 only)."""

    name = "mls-rs"

    def __init__(self) -> None:
        assert rs is not None
        self.cs = rs.CipherSuite.CURVE25519_AES128
        self.welcome_size = 0

    def member(self, name: bytes) -> RsMember:
        client = rs.Client(name, rs.generate_signature_keypair(self.cs), rs.client_config_default())
        return RsMember(name, client, client.generate_key_package_message())

    def create(self) -> RsMember:
        creator = self.member(b"creator")
        creator.group = creator.client.create_group(None)
        return creator

    def add_all(self, creator: RsMember, members: list[RsMember]) -> bytes:
        out = creator.group.add_members([m.key_package for m in members])
        creator.group.process_incoming_message(out.commit_message)
        out.commit_message.to_bytes()
        return bytes(out.welcome_message.to_bytes())

    def join(self, member: RsMember, welcome: bytes) -> None:
        member.group = member.client.join_group(None, rs.Message.from_bytes(welcome)).group

    def commit(self, member: RsMember) -> bytes:
        out = member.group.commit()
        member.group.process_incoming_message(out.commit_message)
        return bytes(out.commit_message.to_bytes())

    def process(self, member: RsMember, commit: bytes) -> None:
        received = member.group.process_incoming_message(rs.Message.from_bytes(commit))
        assert received.is_commit()

    def protect(self, member: RsMember, data: bytes) -> bytes:
        return bytes(member.group.encrypt_application_message(data).to_bytes())

    def unprotect(self, member: RsMember, message: bytes) -> bytes:
        received = member.group.process_incoming_message(rs.Message.from_bytes(message))
        return bytes(received.data)

    def record_sizes(self, creator: RsMember, welcome: bytes) -> None:
        self.welcome_size = len(welcome)


# --- timing ------------------------------------------------------------------------------


@dataclass(slots=True)
class Samples:
    """Seconds per operation, per side: wall-clock, and CPU time of the whole process (all its threads)."""

    wall: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    cpu: dict[str, dict[str, list[float]]] = field(default_factory=dict)

    def add(self, side: str, operation: str, wall: float, cpu: float) -> None:
        self.wall.setdefault(side, {}).setdefault(operation, []).append(wall)
        self.cpu.setdefault(side, {}).setdefault(operation, []).append(cpu)

    def get(self, side: str, operation: str, *, cpu: bool = False) -> list[float]:
        return (self.cpu if cpu else self.wall).get(side, {}).get(operation, [])


class Runner:
    """Runs rounds of the scenario on one or two sides, each timed step interleaved across sides."""

    def __init__(self, sides: list[Any], samples: Samples) -> None:
        self.sides = sides
        self.samples = samples
        self.flip = False

    def step(self, operation: str, calls: list[Callable[[], object]], per: int = 1) -> list[object]:
        """Run ``calls[i]`` (side i) once each, alternating the order; record seconds / ``per``."""
        order = list(range(len(calls)))
        if self.flip:
            order.reverse()
        self.flip = not self.flip
        results: list[object] = [None] * len(calls)
        for i in order:
            gc.collect()
            start, start_cpu = time.perf_counter(), time.process_time()
            results[i] = calls[i]()
            elapsed, elapsed_cpu = time.perf_counter() - start, time.process_time() - start_cpu
            self.samples.add(self.sides[i].name, operation, elapsed / per, elapsed_cpu / per)
        return results

    def round(self, n_members: int, p: Plan) -> None:
        """Fresh groups per side: ``p.adds`` x add all (the last group goes on), 2 x ``p.pairs`` joins,
        messages, ``p.pairs`` commits and processings."""
        pairs, messages, batch = p.pairs, p.messages, p.batch
        members = [[side.member(b"member %d" % i) for i in range(n_members - 1)] for side in self.sides]
        for _ in range(p.adds):  # the same KeyPackages, added to a new group each time
            creators = [side.create() for side in self.sides]
            welcomes = self.step(
                "add all",
                [
                    (lambda s=side, c=creator, m=ms: s.add_all(c, m))
                    for side, creator, ms in zip(self.sides, creators, members, strict=True)
                ],
            )
        for side, creator, welcome in zip(self.sides, creators, welcomes, strict=True):
            side.record_sizes(creator, welcome)
        joiners = [ms[: 2 * pairs] for ms in members]
        for k in range(2 * pairs):
            self.step(
                "join",
                [
                    (lambda s=side, m=js[k], w=welcome: s.join(m, w))
                    for side, js, welcome in zip(self.sides, joiners, welcomes, strict=True)
                ],
            )
        # Application messages: the creator protects, the first joiner unprotects, in batches.
        for _ in range(messages // batch):
            sent = self.step(
                "protect 200 B",
                [
                    (lambda s=side, c=creator: [s.protect(c, DATA) for _ in range(batch)])
                    for side, creator in zip(self.sides, creators, strict=True)
                ],
                per=batch,
            )
            opened = self.step(
                "unprotect 200 B",
                [
                    (lambda s=side, r=js[0], wires=wires: [s.unprotect(r, w) for w in wires])
                    for side, js, wires in zip(self.sides, joiners, sent, strict=True)
                ],
                per=batch,
            )
            assert all(all(o == DATA for o in batch_out) for batch_out in opened)  # type: ignore[attr-defined]
        commits: list[list[object]] = []
        for k in range(pairs):
            commits.append(
                self.step(
                    "commit with path",
                    [(lambda s=side, m=js[k]: s.commit(m)) for side, js in zip(self.sides, joiners, strict=True)],
                )
            )
        for k in range(pairs):
            self.step(
                "process commit",
                [
                    (lambda s=side, m=js[pairs + k], c=commit: s.process(m, c))
                    for side, js, commit in zip(self.sides, joiners, commits[k], strict=True)
                ],
            )


@dataclass(frozen=True, slots=True)
class Plan:
    """Per round: ``adds`` add-alls, ``2 * pairs`` joins, ``pairs`` commits and processings, and
    ``messages`` application messages timed in batches of ``batch``."""

    rounds: int
    adds: int
    pairs: int
    messages: int
    batch: int


def plan(n_members: int, quick: bool) -> Plan:
    """How many samples per size: more for small groups, where each is cheap and noise weighs most."""
    if n_members <= 10:
        return Plan(3, 3, 2, 100, 25) if quick else Plan(10, 6, 4, 200, 25)
    if n_members <= 100:
        return Plan(2, 1, 2, 100, 25) if quick else Plan(5, 5, 3, 200, 25)
    if n_members <= 1000:
        return Plan(1, 1, 1, 100, 25) if quick else Plan(3, 2, 2, 200, 25)
    return Plan(1, 1, 1, 100, 25)


# --- printing ----------------------------------------------------------------------------


def _fmt(seconds: float) -> str:
    if math.isnan(seconds):
        return "-"
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.3g} ms"
    return f"{seconds * 1e6:.3g} us"


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def print_side_by_side(rows: list[tuple[int, Samples]], sizes: dict[int, tuple[int, int]]) -> None:
    print(
        "\nSuite 0x0001, Calpico beside mls-rs (same run): wall-clock median [best] over n samples; "
        "ratio = Calpico / mls-rs of the medians, of wall-clock and of CPU time (all threads)"
    )
    header = f"{'members':>8}  {'operation':<18} {'Calpico':>20} {'mls-rs':>20} {'ratio':>6} {'CPU':>6} {'n':>4}"
    print(header)
    print("-" * len(header))
    for n_members, samples in rows:
        for operation in OPERATIONS:
            ours, theirs = samples.get("Calpico", operation), samples.get("mls-rs", operation)
            m_ours, m_theirs = _median(ours), _median(theirs)
            ratio = m_ours / m_theirs if theirs else float("nan")
            cpu_theirs = _median(samples.get("mls-rs", operation, cpu=True))
            cpu_ratio = _median(samples.get("Calpico", operation, cpu=True)) / cpu_theirs if theirs else float("nan")
            best_ours = f"{_fmt(m_ours)} [{_fmt(min(ours))}]" if ours else "-"
            best_theirs = f"{_fmt(m_theirs)} [{_fmt(min(theirs))}]" if theirs else "-"
            mark = " *" if ratio > 1.0 else ""
            print(
                f"{n_members:>8,}  {operation:<18} {best_ours:>20} {best_theirs:>20} {ratio:>6.2f} {cpu_ratio:>6.2f}"
                f" {len(ours):>4}{mark}"
            )
        ours_welcome, theirs_welcome = sizes[n_members]
        print(f"{'':>8}  {'Welcome size':<18} {ours_welcome:>18,} B {theirs_welcome:>18,} B")
    print("(* = wall-clock ratio above 1.0)")


def print_alone(title: str, rows: list[tuple[int, Samples, CalpicoSide]]) -> None:
    print(f"\n{title}: median [best] over n samples")
    header = f"{'members':>8}  {'operation':<18} {'median [best]':>22} {'n':>4}"
    print(header)
    print("-" * len(header))
    for n_members, samples, side in rows:
        for operation in OPERATIONS:
            values = samples.get(side.name, operation)
            shown = f"{_fmt(_median(values))} [{_fmt(min(values))}]" if values else "-"
            print(f"{n_members:>8,}  {operation:<18} {shown:>22} {len(values):>4}")
        print(f"{'':>8}  {'Welcome size':<18} {side.welcome_size:>20,} B")
        print(f"{'':>8}  {'state (to_bytes)':<18} {side.state_size:>20,} B")


# --- main --------------------------------------------------------------------------------


def run(sides: list[Any], n_members: int, quick: bool) -> Samples:
    samples = Samples()
    runner = Runner(sides, samples)
    p = plan(n_members, quick)
    for _ in range(p.rounds):
        runner.round(n_members, p)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds and samples")
    parser.add_argument("--sizes", default="10,100,1000", help="group sizes for the side-by-side table")
    parser.add_argument("--no-alone", action="store_true", help="skip 10,000 members and suite 0x004D")
    parser.add_argument("--alone-sizes", default="10,100,1000", help="group sizes for suite 0x004D")
    parser.add_argument("--large", type=int, default=10_000, help="the Calpico-only large group (0 to skip)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s]

    rows: list[tuple[int, Samples]] = []
    welcome_sizes: dict[int, tuple[int, int]] = {}
    state_sizes: dict[int, int] = {}
    for n_members in sizes:
        calpico = CalpicoSide(1)
        sides: list[Any] = [calpico] + ([MlsRsSide()] if rs is not None else [])
        started = time.perf_counter()
        samples = run(sides, n_members, args.quick)
        rows.append((n_members, samples))
        welcome_sizes[n_members] = (calpico.welcome_size, sides[-1].welcome_size if rs is not None else 0)
        state_sizes[n_members] = calpico.state_size
        print(f"  {n_members:,} members: {time.perf_counter() - started:.1f} s", flush=True)
    if rs is None:
        print("mls_rs_uniffi is not installed (pip install -e '.[dev]'): Calpico figures only")
    print_side_by_side(rows, welcome_sizes)
    print("Calpico state (to_bytes) after the add: " + ", ".join(f"{n:,}: {s:,} B" for n, s in state_sizes.items()))

    if args.no_alone:
        return
    if args.large:
        side = CalpicoSide(1)
        samples = run([side], args.large, args.quick)
        print_alone("Suite 0x0001, Calpico alone", [(args.large, samples, side)])
    alone: list[tuple[int, Samples, CalpicoSide]] = []
    for n_members in [int(s) for s in args.alone_sizes.split(",") if s]:
        side = CalpicoSide(0x004D)
        alone.append((n_members, run([side], n_members, args.quick), side))
    print_alone("Suite 0x004D (X-Wing), Calpico alone", alone)


if __name__ == "__main__":
    main()
