"""The bit layout of records, compiled once per schema.

A record is a frame of slots, packed back to back with no padding:
``kind code | timestamp | source ID | the kind's fields, in declared order``. Each slot is a
fixed-width unsigned code, except strings: a length prefix, then one symbol code per character.
The layout is also flattened into small integer arrays (a "program") that the compiled packer
and unpacker interpret, so one kernel serves every schema.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from telecrunch.columns import KIND
from telecrunch.schema import Schema, StringField


@dataclass(frozen=True)
class Slot:
    """One packed element of a frame."""

    column: str
    width: int  # bits of the code; for a string, of its length prefix
    is_string: bool = False
    char_bits: int = 0  # strings only: bits per character
    max_length: int = 0  # strings only


@dataclass(frozen=True)
class KindLayout:
    """The frame of one record kind."""

    name: str
    code: int
    slots: tuple[Slot, ...]

    @property
    def fixed_bits(self) -> int:
        """Bits of the frame when every string is empty."""
        return sum(s.width for s in self.slots)

    @property
    def max_bits(self) -> int:
        return self.fixed_bits + sum(s.max_length * s.char_bits for s in self.slots)


@dataclass(frozen=True)
class Program:
    """The layout as flat arrays for the compiled packer (see telecrunch.pack)."""

    starts: np.ndarray  # int64 (kinds + 1,): ops of kind k are starts[k]:starts[k + 1]
    column: np.ndarray  # int64 per op: row in the fixed-code matrix or string index; -1: kind
    width: np.ndarray  # int64 per op
    char_bits: np.ndarray  # int64 per op: bits per character of a string op
    is_string: np.ndarray  # bool per op


@dataclass(frozen=True)
class Layout:
    schema: Schema
    kinds: tuple[KindLayout, ...]
    fixed_columns: tuple[str, ...]  # rows of the fixed-code matrix
    string_columns: tuple[str, ...]

    @property
    def header_bits(self) -> int:
        return self.schema.header_bits

    @property
    def max_string_length(self) -> int:
        return max([s.max_length for k in self.kinds for s in k.slots if s.is_string] or [0])

    @cached_property
    def program(self) -> Program:
        starts, column, width, char_bits, is_string = [0], [], [], [], []
        fixed = {name: i for i, name in enumerate(self.fixed_columns)}
        strings = {name: i for i, name in enumerate(self.string_columns)}
        for kind in self.kinds:
            for slot in kind.slots:
                if slot.column == KIND:
                    column.append(-1)
                elif slot.is_string:
                    column.append(strings[slot.column])
                else:
                    column.append(fixed[slot.column])
                width.append(slot.width)
                char_bits.append(slot.char_bits)
                is_string.append(slot.is_string)
            starts.append(len(column))
        as_i64 = lambda xs: np.asarray(xs, dtype=np.int64)  # noqa: E731
        return Program(as_i64(starts), as_i64(column), as_i64(width), as_i64(char_bits),
                       np.asarray(is_string, dtype=np.bool_))


_CACHE: dict[str, Layout] = {}


def compile_layout(schema: Schema) -> Layout:
    """The layout of a schema (memoized by fingerprint)."""
    layout = _CACHE.get(schema.fingerprint)
    if layout is None:
        layout = _CACHE[schema.fingerprint] = _build(schema)
    return layout


def _build(schema: Schema) -> Layout:
    common = (
        Slot(KIND, schema.header_bits),
        Slot(schema.time.field, schema.time.bits),
        Slot(schema.sources.field, schema.sources.width),
    )
    fixed_columns = [schema.time.field, schema.sources.field]
    string_columns = []
    kinds = []
    for kind in schema.kinds:
        slots = list(common)
        for field in kind.fields:
            if isinstance(field, StringField):
                slots.append(Slot(field.name, field.width, True, field.char_bits,
                                  field.length_limit))
                string_columns.append(field.name)
            else:
                slots.append(Slot(field.name, field.width))
                fixed_columns.append(field.name)
        kinds.append(KindLayout(kind.name, kind.code, tuple(slots)))
    return Layout(schema, tuple(kinds), tuple(fixed_columns), tuple(string_columns))
