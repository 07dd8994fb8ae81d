"""The fast decoder: a compiled loop, written for the schema, from block payload to columns.

The reference decoder (``pack.unpack_codes`` then ``pack.decode``) interprets the layout and
converts each column in separate passes. This writes a kernel with the layout's widths and
offsets as literals that reads each record's codes and stores its values straight into the
output columns, with the same conversions as ``codes.from_code``. Strings are read into
length/symbol arrays and turned into text as in the reference. ``tests/test_fastread.py``
holds the two decoders to identical columns.
"""

from __future__ import annotations

import threading

import numpy as np

from telecrunch import codes as conv
from telecrunch.columns import Columns
from telecrunch.fused import _lit, _load, _u64
from telecrunch.layout import Layout
from telecrunch.pack import check_consumed
from telecrunch.schema import (
    BoolField,
    EnumField,
    FloatField,
    IntField,
    StringField,
    TimestampField,
)


def _get(value: str, pos: str, width: int, ind: str) -> list[str]:
    """Statements reading ``width`` bits at stream bit ``pos`` into ``value`` (uint64)."""
    if width == 0:
        return [f"{ind}{value} = np.uint64(0)"]
    mask = _u64((1 << width) - 1)
    # both words, always (the buffer has a spare word at the end): a branch on whether the
    # value straddles two words is data, and mispredicts; the shift in two steps is never 64
    return [f"{ind}p = np.uint64({pos})",
            f"{ind}wi = p >> np.uint64(6)",
            f"{ind}off = p & np.uint64(63)",
            f"{ind}{value} = ((words[wi] >> off) | ((words[wi + np.uint64(1)] << "
            f"(np.uint64(63) - off)) << np.uint64(1))) & {mask}"]


def _frame_words(bits: int, ind: str) -> list[str]:
    """Statements loading the ``bits``-bit frame at stream bit ``pos`` into f0, f1, ...
    (each a whole 64-bit word of the frame; the buffer has spare words at the end)."""
    lines = [f"{ind}wi = np.uint64(pos) >> np.uint64(6)",
             f"{ind}off = np.uint64(pos) & np.uint64(63)",
             f"{ind}back = np.uint64(63) - off"]
    for w in range((bits + 63) // 64):
        lines.append(f"{ind}f{w} = (words[wi + np.uint64({w})] >> off) | "
                     f"((words[wi + np.uint64({w + 1})] << back) << np.uint64(1))")
    return lines


def _slice(value: str, at: int, width: int, ind: str) -> list[str]:
    """Statements setting ``value`` to bits [at, at + width) of the frame in f0, f1, ..."""
    if width == 0:
        return [f"{ind}{value} = np.uint64(0)"]
    w, shift = divmod(at, 64)
    mask = _u64((1 << width) - 1)
    part = f"(f{w} >> np.uint64({shift}))" if shift else f"f{w}"
    if shift + width > 64:
        part = f"({part} | (f{w + 1} << np.uint64({64 - shift})))"
    return [f"{ind}{value} = {part} & {mask}"]


def _read(frame: bool, at: int, width: int, ind: str) -> list[str]:
    """The slot at bit ``at`` of the record into ``c``: from the frame's words when loaded."""
    return _slice("c", at, width, ind) if frame else _get("c", f"pos + {at}", width, ind)


def _store(field, out: str, code: str, ind: str) -> list[str]:
    """Store a code as its value (codes.from_code, operation for operation)."""
    if isinstance(field, BoolField):
        return [f"{ind}{out}[i] = {code} != np.uint64(0)"]
    if isinstance(field, EnumField):
        return [f"{ind}{out}[i] = np.int64({code})"]
    if isinstance(field, IntField):
        return [f"{ind}{out}[i] = np.int64({code} + {_u64(field.min)})"]
    if isinstance(field, TimestampField):
        return [f"{ind}{out}[i] = np.int64({code} * {_u64(field.resolution)} + "
                f"{_u64(field.min)})"]
    if field.encoding == "binary32":
        return [f"{ind}{out}[i] = np.uint32({code})"]  # into a uint32 view of float32
    if field.encoding == "binary64":
        return [f"{ind}{out}[i] = {code}"]  # into a uint64 view of float64
    return [f"{ind}{out}[i] = {_lit(field.min)} + np.float64({code}) * {_lit(field.resolution)}"]


def generate_reader(layout: Layout) -> tuple[str, list[str], list[str]]:
    """(kernel source, fixed output columns in argument order, string columns)."""
    schema = layout.schema
    clock = schema.time
    fixed = [name for name, f in schema.fields.items() if not isinstance(f, StringField)]
    strings = [name for name, f in schema.fields.items() if isinstance(f, StringField)]
    args = {name: f"o{j}" for j, name in enumerate(fixed)}
    i8, i12 = " " * 8, " " * 12
    body = [f"{i8}if pos + {min(k.fixed_bits for k in layout.kinds)} > nbits:",
            f"{i8}    return -2"]
    body += _get("k", "pos", schema.header_bits, i8)
    body += [f"{i8}if k >= np.uint64({len(layout.kinds)}):", f"{i8}    return -1",
             f"{i8}kinds[i] = k"]
    for kl in layout.kinds:
        body.append(f"{i8}{'if' if kl.code == 0 else 'elif'} k == np.uint64({kl.code}):")
        frame = not any(s.is_string for s in kl.slots)
        if frame:  # fixed offsets: the frame's words once, then constant shifts per slot
            body += [f"{i12}if pos + {kl.fixed_bits} > nbits:", f"{i12}    return -2"]
            body += _frame_words(kl.fixed_bits, i12)
        offset = schema.header_bits
        for slot in kl.slots[1:]:
            if slot.column == clock.field:
                body += _read(frame, offset, slot.width, i12)
                body.append(f"{i12}time[i] = base_time + np.int64(c) * {clock.resolution}")
            elif slot.column == schema.sources.field:
                body += _read(frame, offset, slot.width, i12)
                body.append(f"{i12}source[i] = np.int64(c)")
            elif slot.is_string:
                s = strings.index(slot.column)
                body.append(f"{i12}pos += {offset}")
                offset = 0
                body += _get("c", "pos", slot.width, i12)
                body += [f"{i12}length = np.int64(c)",
                         f"{i12}pos += {slot.width}",
                         f"{i12}if length > {slot.max_length} or pos + length * "
                         f"{slot.char_bits} > nbits:",
                         f"{i12}    return -2",
                         f"{i12}str_len[{s}, i] = length",
                         f"{i12}for j in range(length):"]
                body += _get("c", "pos", slot.char_bits, i12 + "    ")
                body += [f"{i12}    str_sym[{s}, i, j] = np.uint8(c)",
                         f"{i12}    pos += {slot.char_bits}"]
                continue
            else:
                body += _read(frame, offset, slot.width, i12)
                body += _store(schema.fields[slot.column], args[slot.column], "c", i12)
            offset += slot.width
        body.append(f"{i12}pos += {offset}")
    outputs = "".join(f"{a}, " for a in args.values())
    source = "\n".join([
        "# Generated by telecrunch.fastread: do not edit.",
        "import numba",
        "import numpy as np",
        "",
        "",
        "@numba.njit(cache=True, nogil=True)",
        f"def kernel(words, nbits, n, base_time, kinds, time, source, {outputs}str_len, str_sym):",
        "    pos = 0",
        "    for i in range(n):",
        *body,
        "    return pos",
    ]) + "\n"
    return source, fixed, strings


class FastReader:
    """Decodes block payloads of one layout with the generated kernel."""

    def __init__(self, layout: Layout):
        self.layout = layout
        source, self.fixed, self.strings = generate_reader(layout)
        self.kernel = _load(source).kernel
        self._local = threading.local()  # each thread's word buffer: a dataset may be shared
        # words after the payload: a frame read at the last record reads past it (their
        # content never reaches a value: every slot is masked to its own bits)
        self.spare = max((k.fixed_bits + 63) // 64 for k in layout.kinds) + 1

    def _copied(self, payload) -> np.ndarray:
        need = (len(payload) + 7) // 8 + self.spare
        buffer = getattr(self._local, "words", None)
        if buffer is None or len(buffer) < need:
            buffer = self._local.words = np.zeros(need, np.uint64)
        raw = buffer.view(np.uint8)
        raw[: len(payload)] = np.frombuffer(payload, np.uint8)
        raw[len(payload): need * 8] = 0
        words = buffer[:need]
        if words.dtype.byteorder == ">":  # pragma: no cover - big-endian hosts
            words = words.byteswap()
        return words

    def decode(self, payload, n: int, nbits: int, ids: np.ndarray, base_time: int) -> Columns:
        """Columns of the ``n`` records in ``payload`` (a block's decompressed bytes)."""
        from telecrunch.generation import empty_columns

        out = empty_columns(self.layout.schema, n)
        out.labels = None
        out.ids[:] = ids
        self.decode_into(payload, n, nbits, base_time, out, 0)
        return out

    def decode_into(self, payload, n: int, nbits: int, base_time: int, out: Columns,
                    at: int, words: np.ndarray | None = None) -> None:
        """Decode ``n`` records into ``out``'s arrays from position ``at`` (zeros where a
        record's kind lacks a field must already be there). ``words``: the payload already
        as little-endian uint64 words followed by ``spare`` more (a shard file's mapping,
        read in place); else it is copied into a buffer of this thread's."""
        schema = self.layout.schema
        if words is None:
            words = self._copied(payload)
        span = slice(at, at + n)
        views = []
        for name in self.fixed:
            f = schema.fields[name]
            column = out.values[name][span]
            if isinstance(f, FloatField) and f.encoding != "quantized":
                column = column.view(np.uint32 if f.encoding == "binary32" else np.uint64)
            views.append(column)
        longest = max(self.layout.max_string_length, 1)
        str_len = np.zeros((max(len(self.strings), 1), n), np.int64)
        str_sym = np.zeros((max(len(self.strings), 1), n, longest), np.uint8)
        used = self.kernel(words, nbits, n, base_time, out.kind[span],
                           out.values[schema.time.field][span],
                           out.values[schema.sources.field][span], *views, str_len, str_sym)
        check_consumed(used, n, nbits)
        for s, name in enumerate(self.strings):
            f = schema.fields[name]
            out.values[name][span] = conv.string_values(f, str_len[s], str_sym[s])
