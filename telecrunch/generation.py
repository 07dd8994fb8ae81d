"""Generate the records of an ID range: every value a pure function of (schema, seed, ID).

A record ID maps to a source and the record's position ``seq`` in that source's series
(``telecrunch.interleave``). Its kind, timestamp and field values come from counter-based
streams keyed by the seed and a name, never from a sequential generator, so any range can be
generated alone and gives the same values as part of any larger range. Everything that needs
another record (a trigger looks at the previous record of the source, a stuck sensor at the
first record of its window) computes that record's values from its (source, seq) directly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from telecrunch import anomalies as anom
from telecrunch import interleave, rng
from telecrunch.codes import conform
from telecrunch.columns import Columns, column_dtype
from telecrunch.draws import Draws
from telecrunch.errors import JobError
from telecrunch.schema import FieldBase, FloatField, IntField, Kind, Schema
from telecrunch.signals import SIGNALS
from telecrunch.walk import SPAN

BACKENDS = ("numpy",)


@dataclass(frozen=True)
class Positions:
    """Records by identity: ID, source, seq and timestamp (jitter and time anomalies in)."""

    ids: np.ndarray  # uint64
    source: np.ndarray  # int64
    seq: np.ndarray  # int64
    time: np.ndarray  # int64 ns
    time_labels: np.ndarray  # uint64: labels of time anomalies (late, dropout)

    def __len__(self) -> int:
        return len(self.ids)

    def take(self, index) -> Positions:
        return Positions(self.ids[index], self.source[index], self.seq[index], self.time[index],
                         self.time_labels[index])


def positions_of_ids(schema: Schema, seed: int, ids: np.ndarray) -> Positions:
    source, seq = interleave.source_and_seq(schema, seed, ids)
    return _with_time(schema, seed, ids, source, seq)


def positions_at(schema: Schema, seed: int, source: np.ndarray, seq: np.ndarray) -> Positions:
    """Positions of the records (source, seq), wherever their IDs fall."""
    ids = interleave.record_id(schema, seed, source, seq)
    return _with_time(schema, seed, ids, source.astype(np.int64), seq.astype(np.int64))


def _with_time(schema: Schema, seed: int, ids, source, seq) -> Positions:
    clock = schema.time
    res = clock.resolution
    interval_ticks = clock.interval // res
    phase = (source * interval_ticks) // schema.sources.count
    ticks = seq * interval_ticks + phase
    if clock.jitter:
        jitter_ticks = clock.jitter // res
        ticks = ticks + rng.below_array(rng.stream_key(seed, "time.jitter"), ids,
                                        np.uint64(jitter_ticks + 1)).astype(np.int64)
    time = clock.start + ticks * res
    shift, labels = anom.time_shift(schema, seed, source, seq)
    return Positions(ids, source, seq, time + shift, labels)


def time_floor(schema: Schema, first_id: int) -> int:
    """A lower bound on the timestamp of every record with ID >= first_id."""
    seq = interleave.first_seq(schema, first_id)
    return schema.time.start + seq * schema.time.interval - anom.max_lateness(schema)


def check_range(schema: Schema, id_start: int, id_stop: int) -> None:
    if not 0 <= id_start <= id_stop <= 2**63:
        raise JobError("ids", "must be 0 <= start <= stop <= 2**63", (id_start, id_stop))
    last_seq = (max(id_stop, 1) - 1) // schema.sources.count + schema.sources.block
    if last_seq >= SPAN:
        raise JobError("ids", f"a source can have at most {SPAN} records; use more sources "
                       "or fewer records", id_stop)
    last_time = schema.time.start + (last_seq + 1) * schema.time.interval
    if last_time >= 2**63:
        raise JobError("ids", "timestamps would pass the year 2262 (int64 nanoseconds)", id_stop)


class KindMaker:
    """Makes the fields of one kind for records at given positions, in declared order.

    ``values`` holds each field's final values (anomalies applied, on the field's grid);
    ``labels`` the value-anomaly labels of these records.
    """

    def __init__(self, schema: Schema, seed: int, kind: Kind, pos: Positions,
                 caches: dict | None = None):
        self.schema = schema
        self.seed = seed
        self.kind = kind
        self.pos = pos
        self.caches = caches  # signal state kept across consecutive batches (fused path)
        self.values: dict[str, np.ndarray] = {}
        self.labels = np.zeros(len(pos), np.uint64)

    def draws(self, field: FieldBase, pos: Positions, values: dict) -> Draws:
        return Draws(rng.stream_key(self.seed, "field", field.name), pos.ids, pos.source,
                     pos.seq, pos.time, self.schema.time, values,
                     {f.name: f for f in self.kind.fields},
                     self.caches if pos is self.pos else None, self.schema.sources.count)

    def raw(self, field: FieldBase, draws: Draws) -> np.ndarray:
        """The signal's values with per-source variation, before anomalies and rounding."""
        signal = SIGNALS[field.signal.kind]
        values = signal.fn(field, field.signal.params, draws)
        variation = getattr(field, "per_source", None)
        if variation is not None and len(draws):
            key = rng.stream_key(self.seed, "per_source", field.name)
            sources = draws.source.astype(np.uint64)
            values = values.astype(np.float64)
            if variation.scale:
                values = values * (1.0 + variation.scale * rng.normal_array(
                    rng.stream_key(key, "scale"), sources))
            if variation.offset:
                values = values + variation.offset * rng.normal_array(
                    rng.stream_key(key, "offset"), sources)
        return values

    def make_all(self, upto: str | None = None) -> dict[str, np.ndarray]:
        for field in self.kind.fields:
            if field.name in self.values:
                continue
            self.values[field.name] = self.make(field)
            if field.name == upto:
                break
        return self.values

    def make(self, field: FieldBase) -> np.ndarray:
        # a signal's extreme parameters (a std of 1e300) overflow to +-inf, which conform clips
        # to the field's range, as the compiled kernel does: values, not warnings
        with np.errstate(over="ignore"):
            return self._make(field)

    def _make(self, field: FieldBase) -> np.ndarray:
        pos = self.pos
        draws = self.draws(field, pos, self.values)
        raw = self.raw(field, draws) if len(pos) else np.zeros(0)
        if isinstance(field, IntField | FloatField) and len(pos):
            for i, spec in enumerate(self.schema.anomalies):
                if field.name not in spec.fields:
                    continue
                hits = anom.locate(self.seed, i, spec, pos.source, pos.seq)
                if not hits.hit.any():
                    continue
                raw = anom.apply_value(
                    spec, field, hits, raw,
                    stuck_value=lambda index, h=hits, f=field: self._value_at_start(f, h, index),
                    time_warped=lambda index, factor, h=hits, f=field, d=draws:
                        self._time_warped(f, d, h, index, factor))
                self.labels[hits.hit] |= np.uint64(1 << i)
        return conform(field, raw) if len(pos) else np.zeros(0, column_dtype(field))

    def _value_at_start(self, field: FieldBase, hits: anom.Hits, index: np.ndarray) -> np.ndarray:
        """The field's raw value at the first record of each window (what the sensor froze)."""
        pos = self.pos.take(index)
        start = positions_at(self.schema, self.seed, pos.source, pos.seq - hits.offset[index])
        before = KindMaker(self.schema, self.seed, self.kind, start)
        earlier = [f.name for f in self.kind.fields[: self.kind.fields.index(field)]]
        if earlier:
            before.make_all(upto=earlier[-1])
        return self.raw(field, before.draws(field, start, before.values))

    def _time_warped(self, field, draws: Draws, hits: anom.Hits, index: np.ndarray,
                     factor: np.ndarray) -> np.ndarray:
        """The field's signal with time running ``factor`` times faster from the window start."""
        sub = draws.subset(index)
        start = sub.time - hits.offset[index] * self.schema.time.interval
        warped = start + ((sub.time - start) * factor).astype(np.int64)
        return self.raw(field, sub.with_time(warped))


def kind_codes(schema: Schema, seed: int, pos: Positions) -> np.ndarray:
    """Kind code of each record: kinds after the first take their rate's share (per source
    when spread). Triggers come after (``apply_triggers``)."""
    codes = np.zeros(len(pos), np.uint8)
    if len(schema.kinds) == 1 or not len(pos):
        return codes
    u = rng.uniform_array(rng.stream_key(seed, "kind"), pos.ids)
    edge = np.zeros(len(pos))
    for kind in schema.kinds[1:]:
        rate = np.full(len(pos), kind.rate)
        if kind.rate_spread:
            z = rng.normal_array(rng.stream_key(seed, "kind.spread", kind.name),
                                 pos.source.astype(np.uint64))
            from telecrunch.vecmath import exp_array

            s = kind.rate_spread
            rate = np.minimum(kind.rate * exp_array(s * z - 0.5 * s * s), 1.0)
        low = edge
        edge = edge + rate
        codes[(u >= low) & (u < edge)] = kind.code
    return codes


def apply_triggers(schema: Schema, seed: int, pos: Positions, codes: np.ndarray,
                   labels: np.ndarray) -> None:
    """Turn first-kind records whose trigger field crosses a threshold into the trigger's
    kind. Where an anomaly on the trigger field (at the record or the one before) decides
    whether a record crosses, either way, the record carries the anomaly's label."""
    for kind in schema.kinds[1:]:
        if kind.trigger is None or not len(pos):
            continue
        hit, caused = _triggered(schema, seed, kind, pos)
        first = codes == 0  # records drawn as another kind keep it
        codes[hit & first] = kind.code
        labels[first] |= caused[first]


def _triggered(schema: Schema, seed: int, kind: Kind, pos: Positions):
    """(records that cross, labels of the anomalies that changed whether they cross)."""
    trigger = kind.trigger
    first = schema.kinds[0]
    # anomalies that can move the trigger field's values: its own, and the time anomalies
    # (a field may be a function of time)
    own = np.uint64(sum(1 << i for i, a in enumerate(schema.anomalies)
                        if trigger.field in a.fields or a.kind in anom.TIME_KINDS))

    def beyond(v: np.ndarray) -> np.ndarray:
        return v > trigger.above if trigger.above is not None else v < trigger.below

    def crosses(at: Positions, sch: Schema) -> tuple[np.ndarray, np.ndarray]:
        """Crossings at ``at``, and the labels in ``own`` of the values they read."""
        maker = KindMaker(sch, seed, first, at)
        now = beyond(maker.make_all(upto=trigger.field)[trigger.field]) & (at.seq > 0)
        read = (maker.labels | at.time_labels) & own
        index = np.flatnonzero(now)
        if len(index):
            before = positions_at(sch, seed, at.source[index], at.seq[index] - 1)
            prev = KindMaker(sch, seed, first, before)
            now[index] = ~beyond(prev.make_all(upto=trigger.field)[trigger.field])
            read[index] |= (prev.labels | before.time_labels) & own
        return now, read

    hit, read = crosses(pos, schema)
    caused = np.zeros(len(pos), np.uint64)
    check = np.flatnonzero(read)
    if len(check):  # the decision without those anomalies
        clean = schema.model_copy(update={"anomalies": tuple(
            a for i, a in enumerate(schema.anomalies) if not int(own) >> i & 1)})
        at = positions_at(clean, seed, pos.source[check], pos.seq[check])
        changed = check[crosses(at, clean)[0] != hit[check]]
        caused[changed] = read[changed]
    return hit, caused


def generate_columns(schema: Schema, seed: int, id_start: int, id_stop: int,
                     backend: str = "numpy") -> Columns:
    """The records with IDs in [id_start, id_stop) as columns, with their labels."""
    if backend not in BACKENDS:
        raise JobError("backend", f"must be one of: {', '.join(BACKENDS)}", backend)
    check_range(schema, id_start, id_stop)
    ids = np.arange(id_start, id_stop, dtype=np.uint64)
    n = len(ids)
    pos = positions_of_ids(schema, seed, ids)
    kinds = kind_codes(schema, seed, pos)
    labels = pos.time_labels.copy()
    apply_triggers(schema, seed, pos, kinds, labels)
    values = {schema.time.field: pos.time, schema.sources.field: pos.source}
    for kind in schema.kinds:
        index = slice(None) if len(schema.kinds) == 1 else np.flatnonzero(kinds == kind.code)
        maker = KindMaker(schema, seed, kind, pos.take(index))
        made = maker.make_all()
        for field in kind.fields:
            column = np.zeros(n, column_dtype(field))
            column[index] = made[field.name]
            values[field.name] = column
        labels[index] |= maker.labels
    return Columns(schema, ids, kinds, values, labels)


def empty_columns(schema: Schema, n: int = 0) -> Columns:
    """Columns of ``n`` records, all zero (to be filled)."""
    values = {schema.time.field: np.zeros(n, np.int64), schema.sources.field: np.zeros(n, np.int64)}
    for field in schema.fields.values():
        values[field.name] = np.zeros(n, column_dtype(field))
    return Columns(schema, np.zeros(n, np.uint64), np.zeros(n, np.uint8), values,
                   np.zeros(n, np.uint64))
