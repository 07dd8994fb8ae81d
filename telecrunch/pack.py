"""Bit placement: columns of codes <-> a little-endian bit stream of records (docs/FORMAT.md).

Bit ``k`` of the stream is bit ``k % 8`` of byte ``k // 8`` (least significant first); a code of
width ``w`` at stream offset ``o`` puts its bit ``j`` at stream bit ``o + j``. Records follow one
another with no padding. The compiled kernels interpret a ``Layout.program`` so one kernel
serves every schema; ``tests/reference.py`` is the slow, obvious twin they are tested against.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np
from numba.extending import register_jitable

from telecrunch import codes as conv
from telecrunch.columns import Columns, column_dtype
from telecrunch.errors import FormatError
from telecrunch.layout import Layout

_ONES = np.uint64(0xFFFFFFFFFFFFFFFF)
_U64 = np.uint64


@register_jitable
def _mask(width):
    return _ONES >> _U64(64 - width)


@register_jitable
def _put(out, word, acc, fill, value, width):
    """Append ``width`` low bits of value; returns the new (word, acc, fill).

    Branch-free: the current word is stored every time (later stores complete it), and the
    bits that overflow it become the next word's start.
    """
    if width == 0:
        return word, acc, fill
    value = value & _mask(width)
    return _put_masked(out, word, acc, fill, value, width)


@register_jitable
def _put_masked(out, word, acc, fill, value, width):
    """``_put`` for a value known to fit in ``width`` bits (1 <= width <= 64)."""
    acc = acc | (value << _U64(fill))
    spill = (value >> _U64(63 - fill)) >> _U64(1)  # bits past the word; 0 when fill == 0
    out[word] = acc
    fill += width
    if fill >= 64:
        word += 1
        acc = spill
        fill -= 64
    return word, acc, fill


@register_jitable
def _get(words, pos, width):
    """The ``width``-bit code at stream bit ``pos`` (words holds one spare word at the end)."""
    if width == 0:
        return _U64(0)
    w = pos >> 6
    off = pos & 63
    value = words[w] >> _U64(off)
    if off + width > 64:
        value = value | (words[w + 1] << _U64(64 - off))
    return value & _mask(width)


@numba.njit(cache=True)
def pack_kernel(kinds, fixed, str_len, str_sym, starts, column, width, char_bits, is_string,
                out):
    """Pack records into ``out`` (uint64 words, zeroed by the kernel); returns bits written."""
    word = 0
    acc = _U64(0)
    fill = 0
    total = 0
    for i in range(kinds.shape[0]):
        k = kinds[i]
        for op in range(starts[k], starts[k + 1]):
            w = width[op]
            c = column[op]
            if c < 0:
                word, acc, fill = _put(out, word, acc, fill, _U64(k), w)
                total += w
            elif not is_string[op]:
                word, acc, fill = _put(out, word, acc, fill, fixed[c, i], w)
                total += w
            else:
                length = str_len[c, i]
                word, acc, fill = _put(out, word, acc, fill, _U64(length), w)
                cb = char_bits[op]
                for j in range(length):
                    word, acc, fill = _put(out, word, acc, fill, _U64(str_sym[c, i, j]), cb)
                total += w + length * cb
    if fill > 0:
        out[word] = acc
        word += 1
    for rest in range(word, out.shape[0]):
        out[rest] = 0
    return total


@numba.njit(cache=True)
def unpack_kernel(words, nbits, n, n_kinds, starts, column, width, char_bits, is_string,
                  kinds, fixed, str_len, str_sym):
    """Parse n records; returns bits consumed, or -1 (bad kind code) / -2 (past nbits)."""
    pos = 0
    for i in range(n):
        k = _get(words, pos, width[starts[0]])  # every frame opens with the kind code
        if k >= n_kinds:
            return -1
        kinds[i] = k
        for op in range(starts[k], starts[k + 1]):
            w = width[op]
            c = column[op]
            if pos + w > nbits:
                return -2
            value = _get(words, pos, w)
            pos += w
            if c < 0:
                continue
            if not is_string[op]:
                fixed[c, i] = value
            else:
                length = np.int64(value)
                cb = char_bits[op]
                if length > str_sym.shape[2] or pos + length * cb > nbits:
                    return -2
                str_len[c, i] = length
                for j in range(length):
                    str_sym[c, i, j] = np.uint8(_get(words, pos, cb))
                    pos += cb
    return pos


@dataclass(frozen=True)
class Codes:
    """A batch as the packer sees it: kind codes, a fixed-code matrix, string symbols."""

    kinds: np.ndarray  # uint8 (n,)
    fixed: np.ndarray  # uint64 (fixed columns, n)
    str_len: np.ndarray  # int64 (string columns, n)
    str_sym: np.ndarray  # uint8 (string columns, n, max length)


def encode(layout: Layout, columns: Columns, base_time: int) -> Codes:
    """Codes of a batch; timestamps become ticks since ``base_time``."""
    schema = layout.schema
    n = len(columns)
    fixed = np.zeros((len(layout.fixed_columns), n), np.uint64)
    clock = schema.time
    for row, name in enumerate(layout.fixed_columns):
        values = columns[name]
        if name == clock.field:
            ticks = (values - base_time) // clock.resolution
            if n and (ticks.min() < 0 or int(ticks.max()) >= 1 << clock.bits):
                raise FormatError(
                    "time.bits", f"a block spans {int(ticks.max())} ticks of "
                    f"{clock.resolution} ns, more than {clock.bits} bits hold; raise time.bits "
                    "or time.resolution, or use smaller blocks", int(ticks.max()))
            fixed[row] = ticks.astype(np.uint64)
        elif name == schema.sources.field:
            fixed[row] = values.astype(np.uint64)
        else:
            field = schema.fields[name]
            mask = columns.present(name)
            fixed[row, mask] = conv.to_code(field, values[mask])
    longest = max(layout.max_string_length, 1)
    str_len = np.zeros((max(len(layout.string_columns), 1), n), np.int64)
    str_sym = np.zeros((max(len(layout.string_columns), 1), n, longest), np.uint8)
    for s, name in enumerate(layout.string_columns):
        field = schema.fields[name]
        mask = columns.present(name)
        lengths, symbols = conv.string_codes(field, columns[name][mask])
        str_len[s, mask] = lengths
        str_sym[s, mask, : symbols.shape[1]] = symbols
    return Codes(np.ascontiguousarray(columns.kind, dtype=np.uint8), fixed, str_len, str_sym)


def decode(layout: Layout, codes: Codes, ids: np.ndarray, base_time: int) -> Columns:
    """Columns of a batch of codes: the inverse of ``encode``."""
    schema = layout.schema
    clock = schema.time
    values: dict[str, np.ndarray] = {}
    for row, name in enumerate(layout.fixed_columns):
        codes_row = codes.fixed[row]
        if name == clock.field:
            values[name] = base_time + codes_row.astype(np.int64) * clock.resolution
        elif name == schema.sources.field:
            values[name] = codes_row.astype(np.int64)
        else:
            field = schema.fields[name]
            mask = codes.kinds == schema.kind_of_field[name].code
            column = np.zeros(len(ids), column_dtype(field))
            column[mask] = conv.from_code(field, codes_row[mask])
            values[name] = column
    for s, name in enumerate(layout.string_columns):
        field = schema.fields[name]
        values[name] = conv.string_values(field, codes.str_len[s], codes.str_sym[s])
    ordered = {clock.field: values[clock.field], schema.sources.field: values[schema.sources.field]}
    for name in schema.fields:
        ordered[name] = values[name]
    return Columns(schema, ids, codes.kinds, ordered)


def max_words(layout: Layout, n: int) -> int:
    """Words a batch of n records can take at most (plus the reader's spare word)."""
    return (max(k.max_bits for k in layout.kinds) * n + 63) // 64 + 1


def pack_codes(layout: Layout, codes: Codes, out: np.ndarray | None = None) -> tuple[bytes, int]:
    """(payload bytes, bit count) of packed records; ``out`` may supply a reusable buffer."""
    need = max_words(layout, len(codes.kinds))
    if out is None or len(out) < need:
        out = np.empty(need, np.uint64)
    p = layout.program
    nbits = pack_kernel(codes.kinds, codes.fixed, codes.str_len, codes.str_sym, p.starts,
                        p.column, p.width, p.char_bits, p.is_string, out)
    payload = out[: (nbits + 63) // 64].astype("<u8", copy=False).tobytes()
    return payload[: (nbits + 7) // 8], nbits


def pack(layout: Layout, columns: Columns, base_time: int) -> tuple[bytes, int]:
    """Pack a batch of columns: (payload bytes, bit count)."""
    return pack_codes(layout, encode(layout, columns, base_time))


def unpack_codes(layout: Layout, payload: bytes, n: int, nbits: int) -> Codes:
    """Parse n records from a payload of ``nbits`` bits; raise FormatError if it is corrupt."""
    if len(payload) * 8 < nbits:
        raise FormatError("payload", f"holds {len(payload) * 8} bits, the block header says "
                          f"{nbits}", has_got=False)
    nwords = (len(payload) + 7) // 8 + 1
    buf = np.zeros(nwords * 8, np.uint8)
    buf[: len(payload)] = np.frombuffer(payload, np.uint8)
    words = buf.view("<u8").astype(np.uint64, copy=False)
    kinds = np.zeros(n, np.uint8)
    fixed = np.zeros((len(layout.fixed_columns), n), np.uint64)
    longest = max(layout.max_string_length, 1)
    str_len = np.zeros((max(len(layout.string_columns), 1), n), np.int64)
    str_sym = np.zeros((max(len(layout.string_columns), 1), n, longest), np.uint8)
    p = layout.program
    used = unpack_kernel(words, nbits, n, len(layout.kinds), p.starts, p.column, p.width,
                         p.char_bits, p.is_string, kinds, fixed, str_len, str_sym)
    check_consumed(used, n, nbits)
    return Codes(kinds, fixed, str_len, str_sym)


def check_consumed(used: int, n: int, nbits: int) -> None:
    """Turn an unpacking kernel's result (bits used, or -1/-2) into FormatErrors."""
    if used == -1:
        raise FormatError("payload", "a record has an unknown kind code", has_got=False)
    if used == -2:
        raise FormatError("payload", f"records run past the {nbits} bits the block holds",
                          has_got=False)
    if used != nbits:
        raise FormatError("payload", f"{n} records take {used} bits, the block says {nbits}",
                          has_got=False)


def unpack(layout: Layout, payload: bytes, ids: np.ndarray, nbits: int, base_time: int) -> Columns:
    """Columns of the records ``ids`` packed in ``payload``."""
    codes = unpack_codes(layout, payload, len(ids), nbits)
    return decode(layout, codes, ids, base_time)
