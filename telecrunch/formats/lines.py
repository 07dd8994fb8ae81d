"""One line of text per record, in record-ID order, built a chunk and a record kind at a time.

A format lays out the ``Line`` of one kind's records: constant bytes and blocks (see
``telecrunch.formats.grid``). ``render`` cuts the records into cache-sized chunks, builds each
kind's line, works out where every record's line starts in the output (lines stay in ID
order across kinds), and copies each part's bytes into place, dropping the NUL padding.
"""

from __future__ import annotations

from collections.abc import Callable

import numba
import numpy as np

from telecrunch.columns import Columns
from telecrunch.schema import Kind

#: Records per chunk: big enough to amortize numpy calls, small enough to stay in cache.
CHUNK = 32_768


@numba.njit(cache=True, nogil=True)
def _count(block: np.ndarray, lengths: np.ndarray) -> None:
    """Add each row's non-NUL bytes to ``lengths``."""
    for row in range(block.shape[0]):
        count = 0
        for col in range(block.shape[1]):
            count += block[row, col] != 0
        lengths[row] += count


@numba.njit(cache=True, nogil=True)
def _place(block: np.ndarray, out: np.ndarray, cursor: np.ndarray) -> None:
    """Copy row ``r``'s non-NUL bytes to ``out[cursor[r]:]`` and advance ``cursor[r]``; a
    one-row block is the same bytes for every row."""
    shared = block.shape[0] == 1
    for row in range(len(cursor)):
        source = 0 if shared else row
        at = cursor[row]
        for col in range(block.shape[1]):
            byte = block[source, col]
            if byte:
                out[at] = byte
                at += 1
        cursor[row] = at


class Line:
    """The parts of one line per record, left to right: constant bytes and blocks."""

    def __init__(self, n: int):
        self.n = n
        self._parts: list[np.ndarray] = []
        self._blocks: list[np.ndarray] = []  # the parts that vary by record
        self._pending = b""
        self._constant = 0  # bytes of the constant parts

    def add(self, text: bytes) -> None:
        """The same bytes on every record's line."""
        self._pending += text

    def block(self, block: np.ndarray) -> None:
        """A block of per-record bytes: ``n`` rows, NUL-padded."""
        self._flush()
        self._parts.append(block)
        self._blocks.append(block)

    def lengths(self) -> np.ndarray:
        """Bytes of each record's line."""
        self._flush()
        lengths = np.full(self.n, self._constant, np.int64)
        for block in self._blocks:
            _count(block, lengths)
        return lengths

    def place(self, out: np.ndarray, starts: np.ndarray) -> None:
        """Write each record's line into ``out`` from ``starts`` (one offset per record)."""
        self._flush()
        cursor = starts.astype(np.int64)  # a copy: _place advances it
        for part in self._parts:
            _place(part, out, cursor)

    def _flush(self) -> None:
        if self._pending:
            self._parts.append(np.frombuffer(self._pending, np.uint8).reshape(1, -1))
            self._constant += len(self._pending)
            self._pending = b""


BuildKind = Callable[[Kind | None, Columns], Line]


def render(columns: Columns, build: BuildKind, per_kind: bool = True) -> bytes:
    """Every record's line, built per kind by ``build(kind, records_of_that_kind)``, or for
    all kinds at once by ``build(None, records)`` when not ``per_kind``."""
    parts = []
    for start in range(0, len(columns), CHUNK):
        chunk = columns.take(slice(start, start + CHUNK))
        parts.append(_render_chunk(chunk, build, per_kind))
    return b"".join(parts)


def _records_of(chunk: Columns, kind: Kind, rows: np.ndarray) -> Columns:
    """The records at ``rows`` (all of ``kind``), with only the columns that kind has."""
    schema = chunk.schema
    names = [schema.time.field, schema.sources.field, *(f.name for f in kind.fields)]
    labels = None if chunk.labels is None else chunk.labels[rows]
    return Columns(schema, chunk.ids[rows], chunk.kind[rows],
                   {name: chunk.values[name][rows] for name in names}, labels)


def _render_chunk(chunk: Columns, build: BuildKind, per_kind: bool) -> np.ndarray:
    kinds = chunk.schema.kinds
    if not per_kind or len(kinds) == 1:
        parts = [(slice(None), build(kinds[0] if per_kind else None, chunk))]
    else:
        parts = []
        for kind in kinds:
            rows = np.flatnonzero(chunk.kind == kind.code)
            if len(rows):
                parts.append((rows, build(kind, _records_of(chunk, kind, rows))))
    lengths = np.zeros(len(chunk), np.int64)
    for rows, line in parts:
        lengths[rows] = line.lengths()
    ends = np.cumsum(lengths)
    out = np.empty(int(ends[-1]) if len(ends) else 0, np.uint8)
    starts = ends - lengths
    for rows, line in parts:
        line.place(out, starts[rows])
    return out
