"""Slow, obvious, independent references that the fast code is tested against.

Nothing here imports ``telecrunch.pack``, ``telecrunch.codes`` or ``telecrunch.rng``: the
packer below is written from docs/FORMAT.md's rules alone, one bit at a time, with plain Python
integers, and the RNG is splitmix64 on Python integers.

Bit rules: stream bit ``k`` is bit ``k % 8`` of byte ``k // 8`` (least significant first); a
code of width ``w`` at offset ``o`` puts its bit ``j`` at stream bit ``o + j``. Records follow
one another with no padding: kind code, timestamp (ticks of ``time.resolution`` since the
block's base time), source ID, then the kind's fields in declared order. A string is a length
prefix of ``field.width`` bits then one symbol index of ``field.char_bits`` bits per character.
"""

from __future__ import annotations

import math
import struct
from statistics import NormalDist
from typing import Any

MASK64 = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15


# ---- (b) splitmix64 on Python integers ----

def mix64(z: int) -> int:
    """The splitmix64 output function."""
    z &= MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return z ^ (z >> 31)


def draw(key: int, counter: int) -> int:
    """64 random bits of (key, counter): mix64 of the Weyl sequence ``key + counter * GOLDEN``."""
    return mix64((key + counter * GOLDEN) & MASK64)


def subkey(key: int, index: int) -> int:
    return mix64(key ^ mix64((index + GOLDEN) & MASK64))


def unit(h: int) -> float:
    """Uniform double in [0, 1): the top 53 bits over 2**53."""
    return (h >> 11) / 2.0**53


def below(h: int, n: int) -> int:
    """Integer in [0, n): the high 64 bits of the 128-bit product h * n."""
    return (h * n) >> 64


_NORMAL = NormalDist()
_CELLS = 4096
_TAIL_CELL = _CELLS - _CELLS // 128


def _half_normal_quantile(p: float) -> float:
    return _NORMAL.inv_cdf(0.5 + p / 2)


def normal(h: int) -> float:
    """The documented normal draw (telecrunch.gauss), from the library's exact quantile.

    Sign from bit 63, cell from bits 51..62, position in the cell from bits 11..50; cubic
    Hermite between exact quantiles (agrees with the table to ~1e-8); tail by Marsaglia's
    method on further splitmix outputs (agrees to ~1e-13).
    """
    cell = (h >> 51) & (_CELLS - 1)
    if cell < _TAIL_CELL:
        s = ((h >> 11) & ((1 << 40) - 1)) / 2.0**40
        width = 1.0 / _CELLS
        z0, z1 = _half_normal_quantile(cell * width), _half_normal_quantile((cell + 1) * width)
        d0 = width / (2 * _NORMAL.pdf(z0))
        d1 = width / (2 * _NORMAL.pdf(z1))
        z = ((2 * s**3 - 3 * s**2 + 1) * z0 + (s**3 - 2 * s**2 + s) * d0
             + (-2 * s**3 + 3 * s**2) * z1 + (s**3 - s**2) * d1)
    else:
        a = _half_normal_quantile(_TAIL_CELL / _CELLS)
        state = h
        while True:
            state = mix64((state + GOLDEN) & MASK64)
            u1 = ((state >> 11) + 0.5) / 2.0**53
            state = mix64((state + GOLDEN) & MASK64)
            u2 = ((state >> 11) + 0.5) / 2.0**53
            x = -math.log(u1) / a
            if -2 * math.log(u2) > x * x:
                z = a + x
                break
    return -z if h >> 63 else z


def fnv1a64(text: str) -> int:
    h = 0xCBF29CE484222325
    for byte in text.encode("utf-8"):
        h = ((h ^ byte) * 0x100000001B3) & MASK64
    return h


def stream_key(seed: int, *names: str | int) -> int:
    key = mix64(seed & MASK64)
    for name in names:
        part = fnv1a64(name) if isinstance(name, str) else mix64(name & MASK64)
        key = mix64(key ^ part)
    return key


# ---- (a) values <-> codes, per record, from the schema's declarations ----

def _field_code(field: Any, value: Any) -> int:
    """The unsigned code of one field value (a ``Columns.to_records`` value)."""
    kind = field.type
    if kind == "bool":
        return 1 if value else 0
    if kind == "enum":
        return field.values.index(value)
    if kind == "int":
        assert field.min <= value <= field.max, (field.name, value)
        return value - field.min
    if kind == "timestamp":
        assert field.min <= value <= field.max, (field.name, value)
        assert (value - field.min) % field.resolution == 0, (field.name, value)
        return (value - field.min) // field.resolution
    if field.encoding == "binary32":
        return struct.unpack("<I", struct.pack("<f", value))[0]
    if field.encoding == "binary64":
        return struct.unpack("<Q", struct.pack("<d", value))[0]
    code = round((value - field.min) / field.resolution)
    assert 0 <= code <= field.largest_code, (field.name, value)
    return code


def _field_value(field: Any, code: int) -> Any:
    kind = field.type
    if kind == "bool":
        return bool(code)
    if kind == "enum":
        return field.values[code]
    if kind == "int":
        return code + field.min
    if kind == "timestamp":
        return field.min + code * field.resolution
    if field.encoding == "binary32":
        return struct.unpack("<f", struct.pack("<I", code))[0]
    if field.encoding == "binary64":
        return struct.unpack("<d", struct.pack("<Q", code))[0]
    return field.min + float(code) * field.resolution


def _kind_slots(layout: Any, code: int) -> tuple:
    kind = layout.kinds[code]
    assert kind.code == code
    return kind.slots


# ---- (a) the bit stream ----

class BitWriter:
    def __init__(self) -> None:
        self.bits: list[int] = []

    def put(self, code: int, width: int) -> None:
        assert 0 <= code < (1 << width) or (code == 0 and width == 0), (code, width)
        for j in range(width):
            self.bits.append((code >> j) & 1)

    def to_bytes(self) -> bytes:
        out = bytearray((len(self.bits) + 7) // 8)
        for k, bit in enumerate(self.bits):
            out[k // 8] |= bit << (k % 8)
        return bytes(out)


class BitReader:
    def __init__(self, data: bytes, nbits: int) -> None:
        self.data = data
        self.nbits = nbits
        self.pos = 0

    def get(self, width: int) -> int:
        assert self.pos + width <= self.nbits, "read past the end of the stream"
        code = 0
        for j in range(width):
            k = self.pos + j
            code |= ((self.data[k // 8] >> (k % 8)) & 1) << j
        self.pos += width
        return code


def pack_records(layout: Any, records: list[dict], base_time: int) -> tuple[bytes, int]:
    """(payload bytes, bit count) of records given as ``Columns.to_records`` dicts."""
    schema = layout.schema
    kind_code = {k.name: k.code for k in schema.kinds}
    clock = schema.time
    out = BitWriter()
    for record in records:
        code = kind_code[record["kind"]]
        for slot in _kind_slots(layout, code):
            if slot.column == "kind":
                out.put(code, slot.width)
            elif slot.column == clock.field:
                ticks, rest = divmod(record[clock.field] - base_time, clock.resolution)
                assert rest == 0 and ticks >= 0
                out.put(ticks, slot.width)
            elif slot.column == schema.sources.field:
                out.put(record[slot.column], slot.width)
            else:
                field = schema.fields[slot.column]
                assert slot.width == field.width
                if field.type == "string":
                    text = record[slot.column]
                    out.put(len(text), field.width)
                    for char in text:
                        out.put(field.symbols.index(char), field.char_bits)
                else:
                    out.put(_field_code(field, record[slot.column]), field.width)
    return out.to_bytes(), len(out.bits)


def unpack_records(layout: Any, payload: bytes, nbits: int, first_id: int, count: int,
                   base_time: int) -> list[dict]:
    """The records of a payload, as ``Columns.to_records`` dicts; all bits must be used."""
    schema = layout.schema
    clock = schema.time
    stream = BitReader(payload, nbits)
    records = []
    for i in range(count):
        code = stream.get(schema.header_bits)
        record: dict[str, Any] = {"id": first_id + i, "kind": schema.kinds[code].name}
        for slot in _kind_slots(layout, code)[1:]:
            if slot.column == clock.field:
                record[slot.column] = base_time + stream.get(slot.width) * clock.resolution
            elif slot.column == schema.sources.field:
                record[slot.column] = stream.get(slot.width)
            else:
                field = schema.fields[slot.column]
                if field.type == "string":
                    length = stream.get(field.width)
                    record[slot.column] = "".join(
                        field.symbols[stream.get(field.char_bits)] for _ in range(length))
                else:
                    record[slot.column] = _field_value(field, stream.get(field.width))
        records.append(record)
    assert stream.pos == nbits, f"{nbits - stream.pos} bits left over"
    return records


def record_differences(a: list[dict], b: list[dict]) -> list[str]:
    """Where two lists of records differ (floats compared bit for bit); empty if equal."""
    def key(value: Any) -> Any:
        return struct.pack("<d", value) if isinstance(value, float) else value

    if len(a) != len(b):
        return [f"{len(a)} records != {len(b)} records"]
    out = []
    for x, y in zip(a, b, strict=True):
        if x.keys() != y.keys():
            out.append(f"record {x.get('id')}: keys {list(x)} != {list(y)}")
            continue
        out.extend(f"record {x['id']}.{k}: {x[k]!r} != {y[k]!r}"
                   for k in x if key(x[k]) != key(y[k]))
    return out
