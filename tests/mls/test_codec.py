"""RFC 9420 §2.1 — the wire codec: round trips, canonical form, and rejection of bad input."""

from __future__ import annotations

import contextlib
import dataclasses
import enum
from dataclasses import dataclass
from typing import Annotated

import pytest
from hypothesis import given
from hypothesis import strategies as st

from calpico.mls.codec import (
    U8,
    U16,
    U32,
    U64,
    Enum8,
    Fixed,
    Opt,
    Struct,
    Vec,
    VLBytes,
    When,
    decode_varint,
    encode_varint,
    memo,
    read_varint,
    wire,
)
from calpico.mls.errors import DecodeError, EncodeError


class Kind(enum.IntEnum):
    small = 1
    large = 2


@wire
@dataclass(frozen=True, slots=True)
class Pair(Struct):
    key: U16
    value: VLBytes


@wire
@dataclass(frozen=True, slots=True)
class Sample(Struct):
    kind: Enum8[Kind]
    a: U8
    b: U32
    c: U64
    pairs: Vec[Pair]
    maybe: Opt[U16]
    nested: Vec[Vec[U8]]
    guard: Annotated[bytes, Fixed(4)]
    small: Annotated[U16 | None, When("kind", Kind.small)] = None
    large: Annotated[Pair | None, When("kind", Kind.large)] = None


samples = st.builds(
    lambda kind, a, b, c, pairs, maybe, nested, guard, sv, lv: Sample(
        kind,
        a,
        b,
        c,
        tuple(pairs),
        maybe,
        tuple(tuple(x) for x in nested),
        guard,
        sv if kind == Kind.small else None,
        lv if kind == Kind.large else None,
    ),
    st.sampled_from(Kind),
    st.integers(0, 255),
    st.integers(0, 2**32 - 1),
    st.integers(0, 2**64 - 1),
    st.lists(st.builds(Pair, st.integers(0, 65535), st.binary(max_size=300)), max_size=4),
    st.none() | st.integers(0, 65535),
    st.lists(st.lists(st.integers(0, 255), max_size=70), max_size=3),
    st.binary(min_size=4, max_size=4),
    st.integers(0, 65535),
    st.builds(Pair, st.integers(0, 65535), st.binary(max_size=20)),
)


@given(samples)
def test_struct_round_trip_is_exact(sample: Sample) -> None:
    data = sample.encode()
    decoded = Sample.decode(data)
    assert decoded == sample
    assert decoded.encode() == data


@given(samples, st.data())
def test_truncation_and_trailing_bytes_are_decode_errors(sample: Sample, data: st.DataObject) -> None:
    encoded = sample.encode()
    cut = data.draw(st.integers(0, len(encoded) - 1))
    with pytest.raises(DecodeError):
        Sample.decode(encoded[:cut])
    with pytest.raises(DecodeError, match="trailing"):
        Sample.decode(encoded + b"\x00")


@given(st.binary(max_size=200))
def test_random_bytes_raise_only_decode_error(blob: bytes) -> None:
    with contextlib.suppress(DecodeError):
        Sample.decode(blob)


@pytest.mark.parametrize(
    ("n", "encoded"),
    [(0, "00"), (63, "3f"), (64, "4040"), (16383, "7fff"), (16384, "80004000"), (2**30 - 1, "bfffffff")],
)
def test_varint_boundaries(n: int, encoded: str) -> None:
    assert encode_varint(n).hex() == encoded
    assert decode_varint(bytes.fromhex(encoded)) == n


@pytest.mark.parametrize("encoded", ["4000", "403f", "80000000", "80003fff"])
def test_non_minimal_varint_is_rejected(encoded: str) -> None:
    with pytest.raises(DecodeError, match="non-minimal") as info:
        decode_varint(bytes.fromhex(encoded))
    assert info.value.section == "2.1.2"


@pytest.mark.parametrize("encoded", ["c0", "c000000000000000", "ff"])
def test_reserved_varint_prefix_is_rejected(encoded: str) -> None:
    with pytest.raises(DecodeError, match="reserved"):
        decode_varint(bytes.fromhex(encoded))


def test_varint_too_large_cannot_be_encoded() -> None:
    with pytest.raises(EncodeError):
        encode_varint(2**30)


def test_length_past_end_is_rejected() -> None:
    with pytest.raises(DecodeError, match="past the end"):
        Pair.decode(bytes.fromhex("0001" + "05" + "6162"))
    with pytest.raises(DecodeError):
        read_varint(b"\x40", 0, 1)


def test_optional_flag_must_be_zero_or_one() -> None:
    good = Sample(Kind.small, 0, 0, 0, (), 7, (), b"abcd", 1, None).encode()
    flag_at = 1 + 1 + 4 + 8 + 1
    assert good[flag_at] == 1
    bad = good[:flag_at] + b"\x02" + good[flag_at + 1 :]
    with pytest.raises(DecodeError, match="presence flag"):
        Sample.decode(bad)


def test_unknown_enum_value_is_rejected() -> None:
    good = Sample(Kind.small, 0, 0, 0, (), None, (), b"abcd", 1, None).encode()
    with pytest.raises(DecodeError, match="unknown value 9"):
        Sample.decode(b"\x09" + good[1:])


def test_enum_fields_decode_to_members() -> None:
    decoded = Sample.decode(Sample(Kind.large, 0, 0, 0, (), None, (), b"abcd", None, Pair(1, b"")).encode())
    assert decoded.kind is Kind.large


def test_select_fields_must_match_their_tag() -> None:
    with pytest.raises(EncodeError, match="required"):
        Sample(Kind.small, 0, 0, 0, (), None, (), b"abcd", None, None).encode()
    with pytest.raises(EncodeError, match="not allowed"):
        Sample(Kind.small, 0, 0, 0, (), None, (), b"abcd", 1, Pair(1, b"")).encode()


def test_fixed_field_length_is_enforced_on_encode() -> None:
    with pytest.raises(EncodeError):
        Sample(Kind.small, 0, 0, 0, (), None, (), b"abc", 1, None).encode()


def test_decoding_a_memoryview_works() -> None:
    pair = Pair(5, b"hello")
    assert Pair.decode(memoryview(pair.encode())) == pair  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "sample",
    [
        Sample(Kind.small, 256, 0, 0, (), None, (), b"abcd", 1, None),
        Sample(Kind.small, 0, 2**32, 0, (), None, (), b"abcd", 1, None),
        Sample(Kind.small, 0, 0, -1, (), None, (), b"abcd", 1, None),
        Sample(Kind.small, 0, 0, 0, (Pair(65536, b""),), None, (), b"abcd", 1, None),
        Sample(Kind.small, 0, 0, 0, (), None, ((300,),), b"abcd", 1, None),
    ],
    ids=["u8", "u32", "negative-u64", "nested-u16", "u8-in-vector"],
)
def test_integers_out_of_range_are_encode_errors(sample: Sample) -> None:
    with pytest.raises(EncodeError, match="Sample"):
        sample.encode()


@wire
@dataclass(frozen=True, slots=True)
class Nothing(Struct):
    pass


def test_a_vector_of_fieldless_structs_is_refused_at_definition() -> None:
    # Decoding such a vector would never advance: refuse to build its codec.
    assert Nothing.decode(b"") == Nothing()
    with pytest.raises(TypeError, match="no wire fields"):

        @wire
        @dataclass(frozen=True, slots=True)
        class Endless(Struct):
            items: Vec[Nothing]


# --- how generated decoders build objects, and remembered encodings ------------------------


@wire
@dataclass(frozen=True, slots=True)
class Remembered(Struct):
    kind: Enum8[Kind]
    pairs: Vec[Pair]
    _wire_bytes: bytes | None = memo()


class ChildSample(Sample):
    """A subclass of a generated struct: decoding it must still give the subclass."""

    __slots__ = ()


@given(samples)
def test_decoded_structs_are_what_the_constructor_builds(sample: Sample) -> None:
    decoded = Sample.decode(sample.encode())
    assert type(decoded) is Sample
    assert all(getattr(decoded, name) == getattr(sample, name) for name in Sample._wire_fields)
    assert hash(decoded) == hash(sample) and repr(decoded) == repr(sample)
    with pytest.raises(dataclasses.FrozenInstanceError):
        decoded.a = 1  # type: ignore[misc]


def test_a_subclass_decodes_to_itself() -> None:
    sample = Sample(Kind.small, 1, 2, 3, (Pair(4, b"x"),), None, (), b"abcd", 5, None)
    decoded = ChildSample.decode(sample.encode())
    assert type(decoded) is ChildSample and decoded.pairs == (Pair(4, b"x"),)


def test_a_decoded_struct_remembers_its_exact_bytes() -> None:
    data = Remembered(Kind.large, (Pair(1, b"a"), Pair(2, b"bc"))).encode()
    decoded, end = Remembered.decode_prefix(b"\xff" + data + b"\xee", 1)
    assert end == 1 + len(data)
    assert decoded._wire_bytes == data
    assert decoded.encode() is decoded.encode()
    assert decoded.encode() == data


def test_an_encoded_struct_remembers_its_bytes_and_nests_them() -> None:
    value = Remembered(Kind.small, (Pair(7, b"seven"),))
    assert value._wire_bytes is None
    encoded = value.encode()
    assert value._wire_bytes == encoded and value.encode() is value._wire_bytes
    # Inside a larger encoding the remembered bytes are used as they are.
    wrapper = bytearray(b"<")
    value._wire_encode(wrapper)
    assert bytes(wrapper) == b"<" + encoded


def test_the_memo_takes_no_part_in_equality_or_repr() -> None:
    fresh = Remembered(Kind.small, (Pair(7, b"seven"),))
    decoded = Remembered.decode(fresh.encode())
    other = Remembered(Kind.small, (Pair(7, b"seven"),))
    assert decoded == other and hash(decoded) == hash(other)
    assert "_wire_bytes" not in repr(decoded)
    changed = dataclasses.replace(decoded, kind=Kind.large)
    assert changed._wire_bytes is None
    assert Remembered.decode(changed.encode()) == changed


def test_a_failed_encoding_is_not_remembered() -> None:
    bad = Remembered(Kind.small, (Pair(70000, b""),))
    for _ in range(2):
        with pytest.raises(EncodeError):
            bad.encode()
    assert bad._wire_bytes is None


def test_wire_refuses_what_its_decoders_would_skip() -> None:
    with pytest.raises(TypeError, match="__post_init__"):

        @wire
        @dataclass(frozen=True, slots=True)
        class Checked(Struct):
            value: U8

            def __post_init__(self) -> None:
                pass

    with pytest.raises(TypeError, match="init fields"):

        @wire
        @dataclass(frozen=True, slots=True)
        class Derived(Struct):
            value: U8
            cached: int = dataclasses.field(default=0, init=False)
