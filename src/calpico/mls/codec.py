"""RFC 9420 §2.1 — the presentation language, as a wire codec.

Theory of operation
-------------------
Every MLS wire struct is written once, as a frozen, slotted dataclass whose
field annotations say how each field is encoded::

    @wire
    @dataclass(frozen=True, slots=True)
    class Extension(Struct):
        '''struct { ExtensionType extension_type; opaque extension_data<V>; } Extension;'''
        extension_type: U16
        extension_data: VLBytes

`wire` reads the annotations once, at import time, and generates a specialised
encoder and decoder for the class (plain Python source, compiled with
``exec``), so encoding and decoding do no per-field dispatch at run time.

The field types:

========================  ===================================================
annotation                wire form
========================  ===================================================
``U8 U16 U32 U64``        big-endian unsigned integers (§2.1)
``Enum8[E]``/``Enum16[E]``  an integer that must be a member of IntEnum ``E``
``VLBytes``               ``opaque x<V>``: a variable-length integer length, then bytes
``Annotated[bytes, Fixed(n)]``  ``opaque x[n]``
``Vec[T]``                ``T x<V>``: a length in bytes, then the elements (a ``tuple``)
``Opt[T]``                ``optional<T>``: a presence octet 0 or 1, then ``T``
a `Struct` subclass       that struct, inline
``Annotated[T | None, When("tag", v)]``  ``select (tag) { case v: T x; }``: present
                          exactly when the earlier field ``tag`` equals ``v``
========================  ===================================================

Decoding never raises anything but `DecodeError`, naming its section (§2.1;
§2.1.1 for optional values, §2.1.2 for lengths): lengths are checked before
every read, variable-length integers must be minimal and must not use the
reserved ``11`` prefix (§2.1.2), optional flags must be 0 or 1, and a
top-level decode must consume its whole input. Decoding is linear in the
input size, so no input can make it hang.

Structs whose grammar depends on an enclosing struct (for example
``FramedContentAuthData``, whose ``confirmation_tag`` exists only for commits)
hand-write ``_wire_encode``/``_wire_decode`` with the helpers below instead of
using `wire`.

Two things keep the generated code fast:

- The decoder builds the object without calling the dataclass ``__init__``
  (which sets each field of a frozen class through ``object.__setattr__``):
  it allocates the instance and stores each field through its slot
  descriptor, about three times faster for small structs. The decoded values
  are exactly what ``__init__`` would store (no wire struct has a
  ``__post_init__``; `wire` refuses one).
- A struct that is large and encoded again and again (a KeyPackage is hashed
  for its reference, signed, validated and re-sent; a FramedContent is
  signed, MACed and hashed into the transcript) can remember its encoding:
  declare ``_wire_bytes: bytes | None = memo()`` as its last field. Its
  decoder then keeps the exact input bytes, and its encoder keeps what it
  produced the first time; both are valid for the object's whole life
  because the struct is frozen and its fields immutable. The memo takes no
  part in equality, hashing or ``repr``.
"""

from __future__ import annotations

import enum
import inspect
import sys
import types
import typing
from dataclasses import field, fields, is_dataclass
from typing import Annotated, Any, ClassVar, Optional, TypeVar

from .errors import DecodeError, EncodeError

__all__ = [
    "U8",
    "U16",
    "U32",
    "U64",
    "DecodeError",
    "Enum8",
    "Enum16",
    "Fixed",
    "Opt",
    "Struct",
    "VLBytes",
    "Vec",
    "When",
    "decode_varint",
    "encode_opaque",
    "encode_varint",
    "memo",
    "read_opaque",
    "read_uint",
    "read_varint",
    "wire",
]

T = TypeVar("T")
S = TypeVar("S", bound="Struct")
E = TypeVar("E", bound=enum.IntEnum)

MAX_VARINT = (1 << 30) - 1


# --- §2.1.2 variable-length integers -------------------------------------------


def encode_varint(n: int) -> bytes:
    """Encode ``n`` in the shortest of the 1-, 2- or 4-byte forms (§2.1.2)."""
    if n < 0x40:
        if n < 0:
            raise EncodeError(f"negative length {n}", section="2.1.2")
        return bytes((n,))
    if n < 0x4000:
        return (n | 0x4000).to_bytes(2, "big")
    if n <= MAX_VARINT:
        return (n | 0x80000000).to_bytes(4, "big")
    raise EncodeError(f"length {n} does not fit in a variable-length integer", section="2.1.2")


def read_varint(data: bytes, pos: int, end: int, where: str = "length") -> tuple[int, int]:
    """Read a variable-length integer at ``pos``; return ``(value, new_pos)``.

    Raises `DecodeError` on truncation, the reserved ``11`` prefix, or a
    value that a shorter form could have carried.
    """
    if pos >= end:
        raise DecodeError(f"{where}: data ends before the length", section="2.1.2")
    first = data[pos]
    prefix = first >> 6
    if prefix == 0:
        return first, pos + 1
    if prefix == 1:
        if pos + 2 > end:
            raise DecodeError(f"{where}: truncated 2-byte length", section="2.1.2")
        value = ((first & 0x3F) << 8) | data[pos + 1]
        if value < 0x40:
            raise DecodeError(f"{where}: non-minimal length encoding", section="2.1.2")
        return value, pos + 2
    if prefix == 2:
        if pos + 4 > end:
            raise DecodeError(f"{where}: truncated 4-byte length", section="2.1.2")
        value = int.from_bytes(data[pos : pos + 4], "big") & 0x3FFFFFFF
        if value < 0x4000:
            raise DecodeError(f"{where}: non-minimal length encoding", section="2.1.2")
        return value, pos + 4
    raise DecodeError(f"{where}: reserved length prefix 0b11", section="2.1.2")


def decode_varint(data: bytes) -> int:
    """Decode a buffer holding exactly one variable-length integer."""
    value, pos = read_varint(data, 0, len(data))
    if pos != len(data):
        raise DecodeError("trailing bytes after the length", section="2.1.2")
    return value


def read_opaque(data: bytes, pos: int, end: int, where: str = "opaque") -> tuple[bytes, int]:
    """Read ``opaque x<V>``: a varint length and that many bytes."""
    n, pos = read_varint(data, pos, end, where)
    stop = pos + n
    if stop > end:
        raise DecodeError(f"{where}: length {n} runs past the end of the data", section="2.1.2")
    return data[pos:stop], stop


def read_uint(data: bytes, pos: int, end: int, size: int, where: str = "integer") -> tuple[int, int]:
    """Read a big-endian unsigned integer of ``size`` bytes."""
    stop = pos + size
    if stop > end:
        raise DecodeError(f"{where}: data ends inside a {size}-byte integer", section="2.1")
    return int.from_bytes(data[pos:stop], "big"), stop


def encode_opaque(value: bytes) -> bytes:
    """Encode ``opaque x<V>``."""
    return encode_varint(len(value)) + value


# --- field kinds, read from annotations ------------------------------------------


class Uint:
    """Marker: an unsigned integer of ``size`` bytes."""

    __slots__ = ("size",)

    def __init__(self, size: int) -> None:
        self.size = size


class EnumOf:
    """Marker: an integer of ``size`` bytes that must be a member of the annotated IntEnum."""

    __slots__ = ("size",)

    def __init__(self, size: int) -> None:
        self.size = size


class _VarBytes:
    """Marker: ``opaque x<V>``."""


class Fixed:
    """Marker: ``opaque x[n]``, exactly ``n`` bytes."""

    __slots__ = ("size",)

    def __init__(self, size: int) -> None:
        self.size = size


class _Vector:
    """Marker: ``T x<V>``, held as a tuple."""


class _Optional:
    """Marker: ``optional<T>``."""


class When:
    """Marker: the field exists only when the earlier field ``tag`` equals ``value``."""

    __slots__ = ("tag", "value")

    def __init__(self, tag: str, value: int) -> None:
        self.tag = tag
        self.value = int(value)


U8 = Annotated[int, Uint(1)]
U16 = Annotated[int, Uint(2)]
U32 = Annotated[int, Uint(4)]
U64 = Annotated[int, Uint(8)]
VLBytes = Annotated[bytes, _VarBytes()]
Vec = Annotated[tuple[T, ...], _Vector()]
Opt = Annotated[Optional[T], _Optional()]  # noqa: UP045 - `T | None` is not subscriptable at run time

Enum8 = Annotated[E, EnumOf(1)]
Enum16 = Annotated[E, EnumOf(2)]


class Struct:
    """Base of every wire struct: the public encode/decode entry points.

    Subclasses get ``_wire_encode``/``_wire_decode`` from `wire` (or write
    them by hand for context-dependent grammar).
    """

    __slots__ = ()
    _wire_fields: ClassVar[tuple[str, ...]] = ()

    def _wire_encode(self, out: bytearray) -> None:
        raise NotImplementedError

    @classmethod
    def _wire_decode(cls: type[S], data: bytes, pos: int, end: int) -> tuple[S, int]:
        raise NotImplementedError

    def encode(self) -> bytes:
        """The wire encoding of this struct.

        Raises `EncodeError` if a field does not fit its wire type (an
        integer out of range, a select arm that does not match its tag).
        """
        out = bytearray()
        try:
            self._wire_encode(out)
        except (OverflowError, ValueError) as exc:
            # int.to_bytes and bytearray.append reject out-of-range integers.
            raise EncodeError(f"{type(self).__name__}: {exc}") from exc
        return bytes(out)

    @classmethod
    def decode(cls: type[S], data: bytes) -> S:
        """Decode exactly one struct from ``data``.

        Raises `DecodeError` if the data is malformed or has bytes left over.
        """
        if not isinstance(data, bytes):
            data = bytes(data)
        obj, pos = cls._wire_decode(data, 0, len(data))
        if pos != len(data):
            raise DecodeError(f"{cls.__name__}: {len(data) - pos} trailing bytes", section="2.1")
        return obj

    @classmethod
    def decode_prefix(cls: type[S], data: bytes, pos: int = 0) -> tuple[S, int]:
        """Decode one struct starting at ``pos``; return it and the position after it."""
        return cls._wire_decode(data, pos, len(data))


MEMO_FIELD = "_wire_bytes"


def memo() -> Any:
    """The ``_wire_bytes`` field of a struct that remembers its encoding (see the module docstring)."""
    return field(default=None, init=False, repr=False, compare=False, hash=False)


# --- code generation -----------------------------------------------------------


class _Gen:
    """Accumulates generated source lines and the constants they refer to."""

    def __init__(self, owner: str) -> None:
        self.owner = owner
        self.lines: list[str] = []
        self.env: dict[str, Any] = {
            "DecodeError": DecodeError,
            "EncodeError": EncodeError,
            "read_varint": read_varint,
            "read_opaque": read_opaque,
            "encode_varint": encode_varint,
        }
        self.counter = 0

    def fresh(self, stem: str) -> str:
        self.counter += 1
        return f"_{stem}{self.counter}"

    def const(self, value: Any, stem: str = "c") -> str:
        name = self.fresh(stem)
        self.env[name] = value
        return name

    def emit(self, indent: int, line: str) -> None:
        self.lines.append("    " * indent + line)


def _split_annotated(tp: Any) -> tuple[Any, list[Any]]:
    if typing.get_origin(tp) is Annotated:
        args = typing.get_args(tp)
        return args[0], list(args[1:])
    return tp, []


def _strip_none(tp: Any) -> Any:
    origin = typing.get_origin(tp)
    if origin is typing.Union or origin is types.UnionType:
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return tp


def _decode_kind(g: _Gen, tp: Any, target: str, end: str, where: str, indent: int) -> None:
    """Emit code that decodes a value of annotated type ``tp`` into ``target``."""
    base, meta = _split_annotated(tp)
    marker = next((m for m in meta if isinstance(m, (Uint, EnumOf, _VarBytes, Fixed, _Vector, _Optional))), None)
    w = g.const(where, "w")
    if isinstance(marker, (Uint, EnumOf)):
        size = marker.size
        if size == 1:
            g.emit(indent, f"if pos >= {end}: raise DecodeError({w} + ': data ends inside an integer', section='2.1')")
            g.emit(indent, f"{target} = data[pos]; pos += 1")
        else:
            g.emit(
                indent,
                f"if pos + {size} > {end}: raise DecodeError({w} + ': data ends inside an integer', section='2.1')",
            )
            g.emit(indent, f"{target} = int.from_bytes(data[pos:pos + {size}], 'big'); pos += {size}")
        if isinstance(marker, EnumOf):
            # Decode to the enum member; an unknown value is a decode error.
            members = g.const({int(m): m for m in base}, "members")
            raw = g.fresh("raw")
            g.emit(indent, f"{raw} = {target}; {target} = {members}.get({raw})")
            g.emit(indent, f"if {target} is None: raise DecodeError({w} + ': unknown value %d' % {raw}, section='2.1')")
        return
    if isinstance(marker, _VarBytes):
        # read_opaque, inlined for the common one-byte length (§2.1.2).
        n, stop = g.fresh("n"), g.fresh("stop")
        g.emit(indent, f"if pos < {end} and data[pos] < 0x40:")
        g.emit(indent + 1, f"{n} = data[pos]; pos += 1")
        g.emit(indent, "else:")
        g.emit(indent + 1, f"{n}, pos = read_varint(data, pos, {end}, {w})")
        g.emit(indent, f"{stop} = pos + {n}")
        g.emit(
            indent,
            f"if {stop} > {end}: raise DecodeError({w} + ': length %d runs past the end of the data' % {n}, "
            "section='2.1.2')",
        )
        g.emit(indent, f"{target} = data[pos:{stop}]; pos = {stop}")
        return
    if isinstance(marker, Fixed):
        g.emit(
            indent,
            f"if pos + {marker.size} > {end}: "
            f"raise DecodeError({w} + ': data ends inside a fixed-size field', section='2.1')",
        )
        g.emit(indent, f"{target} = data[pos:pos + {marker.size}]; pos += {marker.size}")
        return
    if isinstance(marker, _Vector):
        (elem,) = typing.get_args(base)[:1]
        elem_base = _strip_none(_split_annotated(elem)[0])
        if isinstance(elem_base, type) and vars(elem_base).get("_wire_fields", None) == ():
            # A generated struct without fields takes no bytes: a vector of them would never end.
            raise TypeError(f"{g.owner}: vector of {elem_base.__name__}, which has no wire fields")
        n, stop, items, item = g.fresh("n"), g.fresh("end"), g.fresh("items"), g.fresh("x")
        g.emit(indent, f"{n}, pos = read_varint(data, pos, {end}, {w})")
        g.emit(indent, f"{stop} = pos + {n}")
        g.emit(
            indent,
            f"if {stop} > {end}: raise DecodeError({w} + ': vector runs past the end of the data', section='2.1.2')",
        )
        g.emit(indent, f"{items} = []")
        g.emit(indent, f"while pos < {stop}:")
        _decode_kind(g, elem, item, stop, where + "[]", indent + 1)
        g.emit(indent + 1, f"{items}.append({item})")
        g.emit(indent, f"{target} = tuple({items})")
        return
    if isinstance(marker, _Optional):
        inner = _strip_none(base)
        g.emit(
            indent, f"if pos >= {end}: raise DecodeError({w} + ': data ends before the presence flag', section='2.1.1')"
        )
        g.emit(indent, "_flag = data[pos]; pos += 1")
        g.emit(indent, "if _flag == 1:")
        _decode_kind(g, inner, target, end, where, indent + 1)
        g.emit(indent, "elif _flag == 0:")
        g.emit(indent + 1, f"{target} = None")
        g.emit(indent, "else:")
        g.emit(indent + 1, f"raise DecodeError({w} + ': presence flag must be 0 or 1', section='2.1.1')")
        return
    base = _strip_none(base)
    if isinstance(base, type) and issubclass(base, Struct):
        cls = g.const(base, base.__name__)
        g.emit(indent, f"{target}, pos = {cls}._wire_decode(data, pos, {end})")
        return
    raise TypeError(f"{g.owner}: no wire encoding for field type {tp!r}")


def _encode_kind(g: _Gen, tp: Any, value: str, out: str, where: str, indent: int) -> None:
    """Emit code that appends the encoding of ``value`` (of type ``tp``) to ``out``."""
    base, meta = _split_annotated(tp)
    marker = next((m for m in meta if isinstance(m, (Uint, EnumOf, _VarBytes, Fixed, _Vector, _Optional))), None)
    w = g.const(where, "w")
    if isinstance(marker, (Uint, EnumOf)):
        if marker.size == 1:
            g.emit(indent, f"{out}.append({value})")
        else:
            g.emit(indent, f"{out} += {value}.to_bytes({marker.size}, 'big')")
        return
    if isinstance(marker, _VarBytes):
        n = g.fresh("n")
        g.emit(indent, f"{n} = len({value})")
        g.emit(indent, f"if {n} < 0x40: {out}.append({n})")
        g.emit(indent, f"else: {out} += encode_varint({n})")
        g.emit(indent, f"{out} += {value}")
        return
    if isinstance(marker, Fixed):
        g.emit(indent, f"if len({value}) != {marker.size}: raise EncodeError({w} + ': must be {marker.size} bytes')")
        g.emit(indent, f"{out} += {value}")
        return
    if isinstance(marker, _Vector):
        (elem,) = typing.get_args(base)[:1]
        buf, item = g.fresh("buf"), g.fresh("x")
        g.emit(indent, f"{buf} = bytearray()")
        g.emit(indent, f"for {item} in {value}:")
        _encode_kind(g, elem, item, buf, where + "[]", indent + 1)
        g.emit(indent, f"{out} += encode_varint(len({buf})); {out} += {buf}")
        return
    if isinstance(marker, _Optional):
        inner = _strip_none(base)
        g.emit(indent, f"if {value} is None:")
        g.emit(indent + 1, f"{out}.append(0)")
        g.emit(indent, "else:")
        g.emit(indent + 1, f"{out}.append(1)")
        _encode_kind(g, inner, value, out, where, indent + 1)
        return
    base = _strip_none(base)
    if isinstance(base, type) and issubclass(base, Struct):
        g.emit(indent, f"{value}._wire_encode({out})")
        return
    raise TypeError(f"{g.owner}: no wire encoding for field type {tp!r}")


def _field_hints(cls: type, names: tuple[str, ...]) -> dict[str, Any]:
    """Evaluate the annotations of the named fields in their defining modules."""
    hints: dict[str, Any] = {}
    for klass in reversed(cls.__mro__):
        namespace = vars(sys.modules[klass.__module__])
        for fname, annotation in inspect.get_annotations(klass).items():
            if fname in names:
                # String annotations (PEP 563) are our own source text.
                hints[fname] = (
                    eval(annotation, namespace, dict(vars(klass))) if isinstance(annotation, str) else annotation  # noqa: S307
                )
    return hints


def wire(cls: type[S]) -> type[S]:
    """Class decorator: generate the codec of a dataclass `Struct` from its annotations."""
    if not (is_dataclass(cls) and issubclass(cls, Struct)):
        raise TypeError(f"{cls.__name__}: @wire needs a dataclass deriving from Struct")
    if "__post_init__" in vars(cls):
        raise TypeError(f"{cls.__name__}: @wire decodes without __init__, so it cannot run __post_init__")
    all_fields = fields(cls)
    names = tuple(f.name for f in all_fields if f.init)
    others = [f.name for f in all_fields if not f.init]
    if any(name != MEMO_FIELD for name in others):
        raise TypeError(f"{cls.__name__}: @wire fields must all be init fields, except {MEMO_FIELD} = memo()")
    memoized = MEMO_FIELD in others
    hints = _field_hints(cls, names)
    name = cls.__name__

    dec = _Gen(name)
    dec.emit(0, "def _wire_decode(cls, data, pos, end):")
    if memoized:
        dec.emit(1, "start = pos")
    enc = _Gen(name)
    enc.emit(0, "def _wire_encode(self, out):")
    if memoized:
        enc.emit(1, f"memo = self.{MEMO_FIELD}")
        enc.emit(1, "if memo is not None:")
        enc.emit(2, "out += memo")
        enc.emit(2, "return")
        enc.emit(1, "start = len(out)")
    for fname in names:
        tp = hints[fname]
        base, meta = _split_annotated(tp)
        when = next((m for m in meta if isinstance(m, When)), None)
        where = f"{name}.{fname}"
        if when is None:
            _decode_kind(dec, tp, f"f_{fname}", "end", where, 1)
            enc.emit(1, f"v_{fname} = self.{fname}")
            _encode_kind(enc, tp, f"v_{fname}", "out", where, 1)
            continue
        if when.tag not in names or names.index(when.tag) >= names.index(fname):
            raise TypeError(f"{where}: When() must name an earlier field")
        inner = _strip_none(base)
        inner_tp = Annotated[(inner, *[m for m in meta if not isinstance(m, When)])] if len(meta) > 1 else inner
        dec.emit(1, f"if f_{when.tag} == {when.value}:")
        _decode_kind(dec, inner_tp, f"f_{fname}", "end", where, 2)
        dec.emit(1, "else:")
        dec.emit(2, f"f_{fname} = None")
        w = enc.const(where, "w")
        enc.emit(1, f"v_{fname} = self.{fname}")
        enc.emit(1, f"if self.{when.tag} == {when.value}:")
        enc.emit(2, f"if v_{fname} is None: raise EncodeError({w} + ': required by {when.tag}')")
        _encode_kind(enc, inner_tp, f"v_{fname}", "out", where, 2)
        enc.emit(1, f"elif v_{fname} is not None:")
        enc.emit(2, f"raise EncodeError({w} + ': not allowed for this {when.tag}')")

    # Build the object: allocate it and store each slot, unless a subclass of the
    # decorated class (with fields of its own, perhaps) is being decoded.
    setters = {fname: _slot_setter(cls, fname) for fname in (*names, *others)}
    call_init = f"cls({', '.join('f_' + n for n in names)})"
    if all(setters.values()):
        owner = dec.const(cls, "Owner")
        dec.emit(1, f"if cls is {owner}:")
        dec.emit(2, f"obj = {dec.const(object.__new__, 'new')}({owner})")
        for fname in names:
            dec.emit(2, f"{dec.const(setters[fname], 'set')}(obj, f_{fname})")
        if memoized:
            dec.emit(2, f"{dec.const(setters[MEMO_FIELD], 'set')}(obj, bytes(data[start:pos]))")
        dec.emit(1, "else:")
        dec.emit(2, f"obj = {call_init}")
    else:  # not slotted: the ordinary constructor
        dec.emit(1, f"obj = {call_init}")
        if memoized:
            dec.emit(1, f"object.__setattr__(obj, {MEMO_FIELD!r}, bytes(data[start:pos]))")
    dec.emit(1, "return obj, pos")
    if memoized:
        enc.emit(1, f"object.__setattr__(self, {MEMO_FIELD!r}, bytes(out[start:]))")
    if len(enc.lines) == 1:
        enc.emit(1, "pass")

    for gen, attr in ((dec, "_wire_decode"), (enc, "_wire_encode")):
        namespace: dict[str, Any] = {}
        source = "\n".join(gen.lines)
        # The source is generated above from the class's own annotations.
        exec(compile(source, f"<wire {cls.__module__}.{name}.{attr}>", "exec"), gen.env, namespace)  # noqa: S102
        func = namespace[attr]
        func.__qualname__ = f"{name}.{attr}"
        setattr(cls, attr, classmethod(func) if attr == "_wire_decode" else func)
    if memoized:
        cls.encode = _memo_encode
    cls._wire_fields = names
    return cls


def _slot_setter(cls: type, name: str) -> Any:
    """The ``__set__`` of the slot descriptor that holds field ``name``, or None if it is not a slot."""
    for klass in cls.__mro__:
        descriptor = vars(klass).get(name)
        if descriptor is not None:
            return descriptor.__set__ if isinstance(descriptor, types.MemberDescriptorType) else None
    return None


def _memo_encode(self: Struct) -> bytes:
    """`Struct.encode` for a struct with a memo: the remembered encoding, else encode (which remembers)."""
    memo: bytes | None = getattr(self, MEMO_FIELD)
    if memo is None:
        Struct.encode(self)  # raises EncodeError, or remembers the encoding
        memo = getattr(self, MEMO_FIELD)
        assert memo is not None
    return memo
