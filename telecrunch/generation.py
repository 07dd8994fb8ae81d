"""Generate the records of an ID range: every value a pure function of (schema, seed, ID).

Record ``i`` belongs to source ``i % sources.count`` and is that source's
``i // sources.count``-th record (sources report round-robin). Its kind, timestamp jitter and
field values come from counter-based streams keyed by the seed and a name, never from a
sequential generator, so any range can be generated alone and gives the same values as part of
any larger range.
"""

from __future__ import annotations

import numpy as np

from telecrunch import rng
from telecrunch.codes import conform
from telecrunch.columns import Columns, column_dtype
from telecrunch.draws import Draws
from telecrunch.errors import JobError
from telecrunch.schema import Schema
from telecrunch.signals import SIGNALS
from telecrunch.walk import SPAN

BACKENDS = ("numpy",)


def source_and_seq(schema: Schema, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Source of each record and its position in that source's series."""
    count = np.uint64(schema.sources.count)
    return (ids % count).astype(np.int64), (ids // count).astype(np.int64)


def kind_codes(schema: Schema, seed: int, ids: np.ndarray) -> np.ndarray:
    """Kind code of each record: kinds after the first take their rate's share."""
    codes = np.zeros(len(ids), np.uint8)
    if len(schema.kinds) == 1:
        return codes
    u = rng.uniform_array(rng.stream_key(seed, "kind"), ids)
    edge = 0.0
    for kind in schema.kinds[1:]:
        low = edge
        edge = edge + kind.rate
        codes[(u >= low) & (u < edge)] = kind.code
    return codes


def timestamps(schema: Schema, seed: int, ids: np.ndarray, source: np.ndarray,
               seq: np.ndarray) -> np.ndarray:
    """ns timestamps: slot time + the source's phase in the interval + jitter."""
    clock = schema.time
    res = clock.resolution
    interval_ticks = clock.interval // res
    phase = (source * interval_ticks) // schema.sources.count
    ticks = seq * interval_ticks + phase
    if clock.jitter:
        jitter_ticks = clock.jitter // res
        ticks = ticks + rng.below_array(rng.stream_key(seed, "time.jitter"), ids,
                                        np.uint64(jitter_ticks + 1)).astype(np.int64)
    return clock.start + ticks * res


def time_floor(schema: Schema, first_id: int) -> int:
    """A lower bound on the timestamp of every record with ID >= first_id."""
    return schema.time.start + (first_id // schema.sources.count) * schema.time.interval


def check_range(schema: Schema, id_start: int, id_stop: int) -> None:
    if not 0 <= id_start <= id_stop <= 2**63:
        raise JobError("ids", "must be 0 <= start <= stop <= 2**63", (id_start, id_stop))
    last_seq = (max(id_stop, 1) - 1) // schema.sources.count
    if last_seq >= SPAN:
        raise JobError("ids", f"a source can have at most {SPAN} records; use more sources "
                       "or fewer records", id_stop)
    last_time = schema.time.start + (last_seq + 1) * schema.time.interval
    if last_time >= 2**63:
        raise JobError("ids", "timestamps would pass the year 2262 (int64 nanoseconds)", id_stop)


def generate_columns(schema: Schema, seed: int, id_start: int, id_stop: int,
                     backend: str = "numpy") -> Columns:
    """The records with IDs in [id_start, id_stop) as columns."""
    if backend not in BACKENDS:
        raise JobError("backend", f"must be one of: {', '.join(BACKENDS)}", backend)
    check_range(schema, id_start, id_stop)
    ids = np.arange(id_start, id_stop, dtype=np.uint64)
    n = len(ids)
    source, seq = source_and_seq(schema, ids)
    kinds = kind_codes(schema, seed, ids)
    time = timestamps(schema, seed, ids, source, seq)
    values = {schema.time.field: time, schema.sources.field: source}
    for kind in schema.kinds:
        index = slice(None) if len(schema.kinds) == 1 else np.flatnonzero(kinds == kind.code)
        for field in kind.fields:
            draws = Draws(rng.stream_key(seed, "field", field.name), ids, source, seq, time,
                          schema.time).subset(index)
            column = np.zeros(n, column_dtype(field))
            if len(draws):
                signal = SIGNALS[field.signal.kind]
                column[index] = conform(field, signal.fn(field, field.signal.params, draws))
            values[field.name] = column
    return Columns(schema, ids, kinds, values)


def empty_columns(schema: Schema) -> Columns:
    values = {schema.time.field: np.zeros(0, np.int64), schema.sources.field: np.zeros(0, np.int64)}
    for field in schema.fields.values():
        values[field.name] = np.zeros(0, column_dtype(field))
    return Columns(schema, np.zeros(0, np.uint64), np.zeros(0, np.uint8), values)
