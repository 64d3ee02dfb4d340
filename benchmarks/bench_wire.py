"""Decode and encode speed of the MLS wire structs on the messenger's hot paths.

    .venv/bin/python benchmarks/bench_wire.py [--vectors ../shared/mls-vectors]

Prints messages per second for the MLSMessages of the official ``messages``
vectors (PublicMessage commits, PrivateMessages, Welcomes, KeyPackages), for
PrivateMessageContent plaintexts with padding, and the time to decode and
encode the ratchet tree of a 10,000-member group. Figures only, no
assertions; no peer implementation is measured here.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path

from calpico.mls.credentials import Credential
from calpico.mls.framing import ContentType, FramedContentAuthData
from calpico.mls.messages import MLSMessage
from calpico.mls.private_message import PrivateMessageContent
from calpico.mls.tree.nodes import Capabilities, LeafNode, LeafNodeSource, Node, ParentNode, RatchetTree

REPO = Path(__file__).resolve().parents[1]


def rate(label: str, fn: Callable[[], object], items: int, seconds: float = 0.5) -> None:
    """Run ``fn`` (which handles ``items`` objects) for about ``seconds``; print items per second."""
    runs, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        fn()
        runs += 1
    print(f"{label:<44} {items * runs / elapsed:>12,.0f} /s")


def big_tree(members: int) -> RatchetTree:
    """A full tree of ``members`` leaves (commit source) with every parent set."""
    caps = Capabilities((1,), (1,), (), (), (1,))
    nodes: list[Node | None] = []
    for i in range(2 * members - 1):
        if i % 2 == 0:
            leaf = LeafNode(
                i.to_bytes(32, "big"),
                (i + 1).to_bytes(32, "big"),
                Credential.basic(b"user-%d" % i),
                caps,
                LeafNodeSource.commit,
                None,
                b"P" * 32,
                (),
                b"S" * 64,
            )
            nodes.append(Node.of(leaf))
        else:
            nodes.append(Node.of(ParentNode(i.to_bytes(32, "big"), b"H" * 32, ())))
    return RatchetTree(tuple(nodes))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--vectors", type=Path, default=REPO.parent / "shared" / "mls-vectors")
    args = parser.parse_args()

    path = args.vectors / "messages.json"
    if path.is_file():
        cases = json.loads(path.read_text())
        for field in (
            "public_message_commit",
            "public_message_application",
            "private_message",
            "mls_welcome",
            "mls_key_package",
        ):
            blobs = [bytes.fromhex(case[field]) for case in cases]
            decoded = [MLSMessage.decode(b) for b in blobs]
            size = sum(map(len, blobs)) // len(blobs)
            rate(f"decode {field} (~{size} B)", lambda blobs=blobs: [MLSMessage.decode(b) for b in blobs], len(blobs))
            rate(f"encode {field}", lambda decoded=decoded: [m.encode() for m in decoded], len(decoded))
    else:
        print(f"(no {path}: skipping the vector messages)")

    content = PrivateMessageContent.of(b"x" * 200, FramedContentAuthData(b"s" * 64), padding=56).encode()
    rate(
        "decode PrivateMessageContent (320 B, padded)",
        lambda: PrivateMessageContent.decode_for(ContentType.application, content),
        1,
    )

    tree = big_tree(10_000)
    encoded = tree.encode()
    start = time.perf_counter()
    RatchetTree.decode(encoded)
    decode_s = time.perf_counter() - start
    start = time.perf_counter()
    tree.encode()
    encode_s = time.perf_counter() - start
    print(
        f"ratchet tree, 10,000 members ({len(encoded) / 1e6:.1f} MB): "
        f"decode {decode_s * 1000:.0f} ms, encode {encode_s * 1000:.0f} ms"
    )


if __name__ == "__main__":
    main()
