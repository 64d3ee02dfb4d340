"""A Hypothesis strategy for damaged encodings: valid bytes with one change, or random bytes."""

from __future__ import annotations

from hypothesis import strategies as st


def damaged(data: bytes) -> st.SearchStrategy[bytes]:
    """``data`` with a byte changed, inserted or deleted, or cut short; or unrelated random bytes."""
    positions = st.integers(0, len(data) - 1)
    return st.one_of(
        st.tuples(positions, st.integers(0, 255)).map(lambda pb: data[: pb[0]] + bytes([pb[1]]) + data[pb[0] + 1 :]),
        st.tuples(positions, st.integers(0, 255)).map(lambda pb: data[: pb[0]] + bytes([pb[1]]) + data[pb[0] :]),
        positions.map(lambda p: data[:p] + data[p + 1 :]),
        positions.map(lambda p: data[:p]),
        st.binary(max_size=200),
    )
