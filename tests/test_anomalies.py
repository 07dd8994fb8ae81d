"""Every anomaly kind is found exactly where its labels say, with its documented shape, and
nowhere else; label counts follow the configured rates.

Method: generate the same schema with and without an anomaly spec and compare column by
column. Windows are keyed by the spec's label name, so nothing outside the labelled records
may change (for time anomalies: outside the records whose timestamps they move, and fields
that are functions of time there). Statistical checks allow ``Z`` = 5 standard errors.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import pytest

from telecrunch import anomalies as anom
from telecrunch import generate_columns, load_schema
from telecrunch.generation import KindMaker, positions_at

Z = 5.0
SEED = 424242
SOURCES, PER = 8, 4000
N = SOURCES * PER
INTERVAL = 1_000_000_000  # ns
START_NS = 1_767_225_600_000_000_000
RES = 0.001  # resolution of x and y

FIELDS = {
    "x": {"type": "float", "min": -1000, "max": 1000, "resolution": RES,
          "signal": {"kind": "random_walk", "step": 0.5, "start": 0.0, "min": -100.0,
                     "max": 100.0}},
    "y": {"type": "float", "min": -100, "max": 100, "resolution": RES,
          "signal": {"kind": "sine", "period": "60s", "amplitude": 10.0, "offset": 0.0}},
    "z": {"type": "int", "min": 0, "max": 1000,
          "signal": {"kind": "normal", "mean": 500.0, "std": 50.0}},
    "k": {"type": "int", "min": 0, "max": 10**9, "signal": {"kind": "counter", "rate": 3}},
    "dx": {"type": "float", "encoding": "binary64", "min": -1e4, "max": 1e4,
           "signal": {"kind": "derived", "expr": "x * 2 + 1"}},
}
EVENT = {"rate": 0.05, "fields": {
    "code": {"type": "enum", "values": ["a", "b", "c"]},
    "msg": {"type": "string", "max_length": 20, "signal": {"kind": "template",
                                                           "text": "{code} on {source}"}}}}
DEPENDS = {"x": {"x", "dx"}, "y": {"y"}, "z": {"z"}}  # a field and those derived from it
TIME_DEPENDENT = {"ts", "y"}  # columns that are functions of the timestamp

SPECS = {
    "spike": {"kind": "spike", "fields": ["x"], "rate": 0.005, "magnitude": [12, 30]},
    "dip": {"kind": "dip", "fields": ["x"], "rate": 0.005, "magnitude": [5, 10]},
    "level_shift": {"kind": "level_shift", "fields": ["x"], "rate": 0.001, "duration": [20, 60],
                    "magnitude": [10, 25], "direction": "random"},
    "drift": {"kind": "drift", "fields": ["x"], "rate": 0.001, "duration": [50, 200],
              "magnitude": 40, "direction": "down"},
    "variance": {"kind": "variance", "fields": ["x"], "rate": 0.001, "duration": [20, 100],
                 "magnitude": 4},
    "stuck": {"kind": "stuck", "fields": ["x", "z"], "rate": 0.001, "duration": [30, 120]},
    "out_of_range": {"kind": "out_of_range", "fields": ["x"], "rate": 0.002,
                     "duration": [1, 3], "direction": "random"},
    "saturation": {"kind": "saturation", "fields": ["x"], "rate": 0.001, "duration": [20, 60],
                   "level": 90},
    "frequency": {"kind": "frequency", "fields": ["y"], "rate": 0.001, "duration": [30, 100],
                  "magnitude": [2, 4]},
    "late": {"kind": "late", "rate": 0.003, "delay": "5m"},
    "dropout": {"kind": "dropout", "rate": 0.0005, "duration": [5, 40]},
}


def make_schema(anomalies: list, *, fields: dict | None = None, sources: int = SOURCES,
                kinds: dict | None = None):
    doc = {"name": "anomalies", "sources": {"count": sources},
           "time": {"interval": "1s", "resolution": "1ms", "bits": 40},
           "kinds": kinds or {"update": {"fields": fields or FIELDS}, "event": EVENT}}
    if anomalies:
        doc["anomalies"] = anomalies
    return load_schema(doc)


@functools.cache
def clean():
    return generate_columns(make_schema([]), SEED, 0, N)


@functools.cache
def with_spec(kind: str):
    schema = make_schema([SPECS[kind]])
    return schema, generate_columns(schema, SEED, 0, N)


def changed(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Elementwise a != b, bitwise for floats."""
    if a.dtype.kind == "f":
        return a.view(f"u{a.itemsize}") != b.view(f"u{b.itemsize}")
    return a != b


def windows(schema, cols, index: int = 0) -> anom.Hits:
    """Where the records fall in windows of spec ``index`` (position in window, duration)."""
    seq = cols.ids.astype(np.int64) // schema.sources.count
    return anom.locate(SEED, index, schema.anomalies[index], cols["source_id"], seq)


def assert_close(measured: float, expected: float, se: float, what: str = "") -> None:
    assert abs(measured - expected) <= Z * se, \
        f"{what}: {measured} vs {expected} (allowed {Z} x {se:.3g})"


# ---- the effect is where the labels are, and nowhere else ----

@pytest.mark.parametrize("kind", list(SPECS))
def test_anomaly_changes_only_labelled_records_of_its_fields(kind):
    schema, cols = with_spec(kind)
    base = clean()
    spec = schema.anomalies[0]
    labelled = cols.labels != 0
    assert set(np.unique(cols.labels)) == {0, 1}  # only this spec's bit
    assert labelled.sum() >= 15  # enough windows for the checks to bite
    assert np.array_equal(cols.kind, base.kind) and np.array_equal(cols.ids, base.ids)
    update = cols.kind == 0
    hits = windows(schema, cols)
    if spec.kind in anom.VALUE_KINDS:
        # labelled: the records of the windows that carry a target field (update records)
        assert np.array_equal(labelled, hits.hit & update)
        may_change = set().union(*(DEPENDS[f] for f in spec.fields))
        moved = np.zeros(N, bool)
    else:
        moved = changed(cols["ts"], base["ts"])
        if spec.kind == "late":
            assert np.array_equal(labelled, hits.hit) and np.array_equal(moved, labelled)
        else:  # dropout: the first record after the gap is labelled; catch-up moves the rest
            assert np.array_equal(moved, hits.hit) and not (labelled & ~moved).any()
            assert not (hits.hit & (hits.offset == 0) & ~labelled).any()
        may_change = set()
    for name in cols.values:
        diff = changed(cols[name], base[name])
        if name in may_change:
            allowed = labelled
        elif name in TIME_DEPENDENT:
            allowed = moved
        else:
            allowed = np.zeros(N, bool)
        assert not (diff & ~allowed).any(), f"{name} changed outside the labelled records"
    # and where labelled, the effect is there (except where a stuck or frequency window holds
    # the value it starts from: its first record, checked in their own tests)
    if spec.kind not in ("stuck", "frequency"):
        target = spec.fields[0] if spec.fields else "ts"
        assert not (labelled & ~changed(cols[target], base[target])).any()


def _diff(kind: str, name: str = "x"):
    schema, cols = with_spec(kind)
    labelled = cols.labels != 0
    return schema, cols, labelled, cols[name] - clean()[name]


def _window_ids(cols, hits) -> np.ndarray:
    """A number per window: its source and start seq."""
    seq = cols.ids.astype(np.int64) // SOURCES
    return cols["source_id"] * 10**9 + (seq - hits.offset)


def _constant_per_window(values: np.ndarray, window: np.ndarray, tol: float) -> bool:
    order = np.lexsort((values, window))
    w, v = window[order], values[order]
    same = w[1:] == w[:-1]
    return bool(np.all(np.abs(v[1:] - v[:-1])[same] <= tol))


def test_spike_adds_its_magnitude():
    _schema, _cols, labelled, d = _diff("spike")
    assert d[labelled].min() >= 12 - RES and d[labelled].max() <= 30 + RES
    assert d[labelled].std() > 3  # drawn in [12, 30] per window, not one value


def test_dip_subtracts_its_magnitude():
    _schema, _cols, labelled, d = _diff("dip")
    assert d[labelled].min() >= -10 - RES and d[labelled].max() <= -5 + RES


def test_level_shift_is_constant_per_window_in_either_direction():
    schema, cols, labelled, d = _diff("level_shift")
    hits = windows(schema, cols)
    shift = d[labelled]
    assert np.all((np.abs(shift) >= 10 - RES) & (np.abs(shift) <= 25 + RES))
    assert (shift > 0).any() and (shift < 0).any()  # direction: random
    assert _constant_per_window(shift, _window_ids(cols, hits)[labelled], 2 * RES)
    assert np.all(hits.duration[labelled] >= 20) and np.all(hits.duration[labelled] <= 60)


def test_drift_ramps_linearly_to_its_magnitude_over_the_window():
    schema, cols, labelled, d = _diff("drift")
    hits = windows(schema, cols)
    ramp = -40.0 * (hits.offset + 1) / np.maximum(hits.duration, 1)  # direction: down
    assert np.max(np.abs(d[labelled] - ramp[labelled])) <= RES * 1.01
    ends = labelled & (hits.offset == hits.duration - 1)
    assert ends.any() and np.allclose(d[ends], -40.0, atol=RES * 1.01)  # the full magnitude


def test_variance_adds_zero_mean_noise_of_std_magnitude():
    _schema, _cols, labelled, d = _diff("variance")
    noise = d[labelled]
    n = len(noise)
    assert n > 500
    assert_close(noise.mean(), 0.0, 4 / math.sqrt(n), "noise mean")
    assert_close(noise.std(), 4.0, 4 / math.sqrt(2 * n), "noise std")
    assert_close(np.mean(np.abs(noise) < 4.0), 0.6827, math.sqrt(0.25 / n), "gaussian shape")


def test_stuck_freezes_every_target_at_the_window_start_value():
    schema, cols, labelled, _d = _diff("stuck")
    hits = windows(schema, cols)
    seq = cols.ids.astype(np.int64) // SOURCES
    source = cols["source_id"][labelled]
    start = (seq - hits.offset)[labelled]
    assert (hits.offset[labelled] > 0).sum() > 100
    clean_schema = make_schema([])
    for name in ("x", "z"):
        # the value at the window's first record, as an update record would carry it there
        # (that record may be an event, without the field)
        pos = positions_at(clean_schema, SEED, source, start)
        at_start = KindMaker(clean_schema, SEED, clean_schema.kinds[0], pos).make_all()[name]
        assert np.array_equal(cols[name][labelled], at_start), name
        moving = clean()[name][labelled] != at_start
        assert moving.mean() > 0.9  # without the anomaly the value would have moved on


def test_out_of_range_pegs_at_the_field_limits():
    _schema, cols, labelled, _d = _diff("out_of_range")
    x = cols["x"][labelled]
    assert set(np.unique(x)) == {-1000.0, 1000.0}  # direction random: both limits
    assert np.abs(clean()["x"]).max() <= 100  # the clean walk never gets there


def test_saturation_pins_at_its_level():
    _schema, cols, labelled, _d = _diff("saturation")
    assert np.all(cols["x"][labelled] == 90.0)


def test_frequency_runs_the_sine_faster_inside_the_window():
    schema, cols, labelled, _d = _diff("frequency", "y")
    hits = windows(schema, cols)
    spec = schema.anomalies[0]
    index = np.flatnonzero(hits.hit)
    factor, _sign = anom.magnitudes(spec, hits, index)
    assert factor.min() >= 2 and factor.max() <= 4
    t = (cols["ts"][index] - START_NS) / 1e9
    start = t - hits.offset[index]  # interval 1 s, no jitter
    warped = start + (t - start) * factor
    expected = 10.0 * np.sin(2 * np.pi * warped / 60)
    update = labelled[index]
    assert np.max(np.abs(cols["y"][index][update] - expected[update])) <= RES / 2 + 1e-6
    # inside long windows the series really oscillates faster: more zero crossings per record
    y = cols["y"][index][update]
    assert np.mean(np.sign(y[1:]) != np.sign(y[:-1])) > 1.5 * 2 / 60


def test_late_records_come_out_of_order_by_up_to_delay():
    _schema, cols, labelled, d = _diff("late", "ts")
    late = d[labelled]
    assert np.all((late < -INTERVAL) & (late >= -300 * 10**9))
    ts = cols["ts"].reshape(-1, SOURCES).T
    out_of_order = np.zeros(ts.shape, bool)
    out_of_order[:, 1:] = ts[:, 1:] < ts[:, :-1]
    assert np.array_equal(out_of_order, labelled.reshape(-1, SOURCES).T)


def dropout_shifts_from_labels(shift: np.ndarray, labelled: np.ndarray) -> np.ndarray:
    """The timestamp shifts (sources, seq) the labelled dropout windows should make: each a
    gap of d intervals at its labelled first record, caught up evenly over the next 10 d
    records (on the 1 ms grid), several windows adding up. d is read from the jump at the
    window's start (other windows there take only tenths of an interval)."""
    expected = np.zeros_like(shift)
    for s, first in np.argwhere(labelled):
        jump = shift[s, first] - (shift[s, first - 1] if first else 0)
        d = int(round(jump / INTERVAL))
        assert 5 <= d <= 40
        reach = d * anom.DROPOUT_CATCH_UP
        stop = min(first + reach, shift.shape[1])
        left = d * INTERVAL * (reach - np.arange(stop - first)) // reach
        expected[s, first:stop] += left // 10**6 * 10**6
    return expected


def test_dropout_leaves_a_gap_of_duration_intervals_then_catches_up():
    _schema, cols, labelled, d = _diff("dropout", "ts")
    shift = d.reshape(-1, SOURCES).T
    labelled = labelled.reshape(-1, SOURCES).T
    assert np.array_equal(shift, dropout_shifts_from_labels(shift, labelled))
    ts = cols["ts"].reshape(-1, SOURCES).T
    spacing = np.diff(ts, axis=1)
    assert spacing.min() > 0  # still in order
    # a gap (one interval plus d) before each labelled record, nowhere else
    assert np.array_equal(spacing > INTERVAL, labelled[:, 1:])
    assert np.all(spacing[labelled[:, 1:]] >= 6 * INTERVAL)


def test_overlapping_dropouts_keep_timestamps_in_order_and_label_every_gap():
    """At the highest rate the schema accepts, dropout windows of one spec overlap: their
    shifts must add up, not replace one another (which sent timestamps backwards and left
    gaps without labels)."""
    sources, per = 4, 100_000
    schema = make_schema([{"kind": "dropout", "rate": 0.00125, "duration": [5, 40]}],
                         kinds={"update": {"fields": {"v": {"type": "bool"}}}},
                         sources=sources)
    cols = generate_columns(schema, SEED, 0, sources * per)
    clean_ts = generate_columns(make_schema([], kinds={"update": {"fields": {
        "v": {"type": "bool"}}}}, sources=sources), SEED, 0, sources * per)["ts"]
    ts = cols["ts"].reshape(-1, sources).T
    labelled = (cols.labels != 0).reshape(-1, sources).T
    shift = cols["ts"] - clean_ts
    seq = np.arange(sources * per) // sources
    covered = anom.locate(SEED, 0, schema.anomalies[0], cols["source_id"], seq).hit
    assert np.all(shift[~covered] == 0) and np.all(shift[covered] > 0)
    spacing = np.diff(ts, axis=1)
    assert spacing.min() > 0
    assert np.array_equal(spacing > INTERVAL, labelled[:, 1:])
    assert labelled.sum() > 300


# ---- counts follow the rates ----

def test_label_counts_match_the_configured_rates():
    sources, per, event_rate = 8, 20_000, 0.05
    specs = [
        {**SPECS["spike"], "rate": 0.004},
        {**SPECS["dip"], "fields": ["k"], "rate": 0.003, "duration": [1, 5]},
        {**SPECS["level_shift"], "rate": 0.002},
        {**SPECS["drift"], "rate": 0.0005},
        {**SPECS["variance"], "fields": ["z"], "rate": 0.002},
        {**SPECS["stuck"], "rate": 0.001},
        {**SPECS["out_of_range"], "fields": ["z"]},
        {**SPECS["saturation"], "fields": ["k"]},
        {**SPECS["frequency"], "rate": 0.002},
        {**SPECS["late"], "rate": 0.004, "duration": [1, 3]},
        SPECS["dropout"],
    ]
    schema = make_schema(specs, sources=sources)
    cols = generate_columns(schema, SEED, 0, sources * per)
    n = sources * per
    for bit, spec in enumerate(schema.anomalies):
        count = int(((cols.labels >> np.uint64(bit)) & np.uint64(1)).sum())
        lo, hi = spec.duration_range
        d = np.arange(lo, hi + 1)
        if spec.kind == "dropout":  # one labelled record per window
            expected, variance = spec.rate * n, spec.rate * n
        else:
            # records covered by windows starting at rate per record, each d records long
            # (1 - exp(-rate E[d]): overlaps counted once); value anomalies label only the
            # records that carry their field
            share = 1.0 if spec.kind in anom.TIME_KINDS else 1 - event_rate
            expected = n * share * (1 - math.exp(-spec.rate * d.mean()))
            variance = spec.rate * n * share * np.mean(d**2)
        assert_close(count, expected, math.sqrt(variance), spec.label)
    assert int((cols.labels != 0).sum()) > 0.1 * n


# ---- overlaps, names, sources ----

def test_overlapping_anomalies_keep_all_labels_and_add_their_effects():
    shift = {"kind": "level_shift", "fields": ["x"], "rate": 0.005, "duration": [20, 40],
             "magnitude": [10, 20], "name": "shift"}
    noise = {"kind": "variance", "fields": ["x"], "rate": 0.005, "duration": [20, 40],
             "magnitude": 3, "name": "noise"}
    both = generate_columns(make_schema([shift, noise]), SEED, 0, N)
    only_shift = generate_columns(make_schema([shift]), SEED, 0, N)
    only_noise = generate_columns(make_schema([noise]), SEED, 0, N)
    base = clean()
    a, b = (both.labels & 1) != 0, (both.labels & 2) != 0
    assert np.array_equal(a, only_shift.labels != 0)  # windows keyed by name: unchanged
    assert np.array_equal(b, only_noise.labels != 0)
    overlap = a & b
    update = np.mean(base.kind == 0)
    pa, pb = a.mean() / update, b.mean() / update
    expected = N * update * pa * pb  # independent windows
    assert overlap.sum() > 100
    # overlapping records come in runs of up to 40 (mean ~ 30 / 2): a variance of about
    # 30 x the count, as for a Poisson number of runs of that length
    assert_close(overlap.sum(), expected, math.sqrt(expected * 30), "records with both bits")
    effect = (only_shift["x"] - base["x"]) + (only_noise["x"] - base["x"])
    assert np.max(np.abs((both["x"] - base["x"])[overlap] - effect[overlap])) <= 2 * RES


def test_windows_are_keyed_by_label_name_not_position():
    spike, stuck = SPECS["spike"], SPECS["stuck"]
    one = generate_columns(make_schema([spike, stuck]), SEED, 0, N)
    two = generate_columns(make_schema([stuck, spike]), SEED, 0, N)
    swapped = ((two.labels & 1) << np.uint64(1)) | ((two.labels & 2) >> np.uint64(1))
    assert np.array_equal(one.labels, swapped)
    # values agree except where both apply (then they compose in list order: a spike inside
    # a stuck window is frozen over, or added on top)
    both = one.labels == 3
    for name in ("x", "dx"):
        assert not (changed(one[name], two[name]) & ~both).any()
    assert one.differences(two) == ["x", "dx", "labels"]
    renamed = generate_columns(make_schema([{**spike, "name": "other"}, stuck]), SEED, 0, N)
    assert not np.array_equal(renamed.labels & 1, one.labels & 1)


def test_sources_list_restricts_the_affected_sources():
    spec = {**SPECS["level_shift"], "rate": 0.004, "sources": [1, 6]}
    cols = generate_columns(make_schema([spec]), SEED, 0, N)
    labelled_sources = set(np.unique(cols["source_id"][cols.labels != 0]))
    assert labelled_sources == {1, 6}


def test_share_restricts_to_a_nested_random_share_of_sources():
    sources, per = 300, 400
    fields = {"x": FIELDS["x"]}
    kinds = {"update": {"fields": fields}}

    def labelled_sources(share: float) -> tuple[set, np.ndarray]:
        spec = {"kind": "spike", "fields": ["x"], "rate": 0.02, "magnitude": 5,
                "share": share, "name": "s"}
        cols = generate_columns(make_schema([spec], kinds=kinds, sources=sources), SEED, 0,
                                sources * per)
        return set(np.unique(cols["source_id"][cols.labels != 0])), cols.labels

    small, small_labels = labelled_sources(0.3)
    large, large_labels = labelled_sources(0.6)
    everyone, all_labels = labelled_sources(1.0)
    assert len(everyone) == sources  # at this rate every eligible source gets windows
    assert_close(len(small), 0.3 * sources, math.sqrt(sources * 0.21), "share 0.3")
    assert_close(len(large), 0.6 * sources, math.sqrt(sources * 0.24), "share 0.6")
    assert small < large  # the same per-source draw decides: nested
    # and the windows themselves do not depend on the share
    source = np.arange(sources * per) % sources
    assert np.array_equal(small_labels, np.where(np.isin(source, list(small)), all_labels, 0))


# ---- anomalies and triggers ----

TRIGGER_KINDS = {
    "update": {"fields": {"x": FIELDS["x"], "z": FIELDS["z"]}},
    "event": {"rate": 1e-12, "trigger": {"field": "x", "above": 150.0},  # x in [-100, 100]
              "fields": {"code": {"type": "int", "min": 0, "max": 3}}},
}


def test_a_spike_over_the_threshold_fires_an_event_carrying_its_label():
    spike = {"kind": "spike", "fields": ["x"], "rate": 0.002, "magnitude": [300, 400]}
    cols = generate_columns(make_schema([spike], kinds=TRIGGER_KINDS), SEED, 0, N)
    base = generate_columns(make_schema([], kinds=TRIGGER_KINDS), SEED, 0, N)
    assert not (base.kind == 1).any()  # the walk stays in [-100, 100]: no event by itself
    events = cols.kind == 1
    assert events.sum() > 30
    # every spike record is over 150 after a record under it: exactly the events
    assert np.array_equal(events, cols.labels != 0)


def test_anomalies_on_a_trigger_field_change_only_labelled_records():
    """A dip under the threshold makes the next record a fresh crossing, and a spike over it
    takes the crossing from the next record: those records carry the anomaly's label too."""
    kinds = {
        "update": {"fields": {"x": {**FIELDS["x"], "signal": {
            "kind": "random_walk", "step": 3.0, "min": 0.0, "max": 100.0, "start": 50.0}}}},
        "event": {"rate": 1e-12, "trigger": {"field": "x", "above": 50.0},
                  "fields": {"code": {"type": "int", "min": 0, "max": 3}}},
    }
    specs = [{"kind": "dip", "fields": ["x"], "rate": 0.01, "magnitude": 30},
             {"kind": "spike", "fields": ["x"], "rate": 0.01, "magnitude": 30}]
    base = generate_columns(make_schema([], kinds=kinds), SEED, 0, N)
    for spec in specs:
        cols = generate_columns(make_schema([spec], kinds=kinds), SEED, 0, N)
        diff = (cols.kind != base.kind) | changed(cols["x"], base["x"])
        assert (cols.kind != base.kind).sum() > 50
        assert not (diff & (cols.labels == 0)).any(), spec["kind"]
        assert not (cols.labels.astype(bool) & ~diff).any(), spec["kind"]


def test_late_records_on_a_time_dependent_trigger_field_label_the_events_they_move():
    """A late record carries its sine value at its earlier time: the next record's crossing
    reads it, so a crossing it makes or takes away carries the late label; a dropout's
    catch-up moves timestamps (and time-dependent values) of unlabelled records, as
    documented, and nothing else."""
    kinds = {
        "update": {"fields": {"y": FIELDS["y"], "z": FIELDS["z"]}},
        "event": {"rate": 1e-12, "trigger": {"field": "y", "above": 5.0},
                  "fields": {"code": {"type": "int", "min": 0, "max": 3}}},
    }
    base = generate_columns(make_schema([], kinds=kinds), SEED, 0, N)
    for spec in (SPECS["late"], {**SPECS["dropout"], "rate": 0.001, "duration": [3, 10]}):
        cols = generate_columns(make_schema([spec], kinds=kinds), SEED, 0, N)
        moved = changed(cols["ts"], base["ts"])
        kind_changed = cols.kind != base.kind
        assert kind_changed.sum() > 20
        assert not (kind_changed & (cols.labels == 0) & ~moved).any(), spec["kind"]
        assert not changed(cols["z"], base["z"])[~kind_changed].any()


def test_labels_are_independent_of_the_records_positions():
    """A record's labels come from its (source, seq): the same windows whatever its ID range,
    checked by generating records at positions found by locate."""
    schema, cols = with_spec("level_shift")
    hits = windows(schema, cols)
    first = np.flatnonzero(hits.hit & (hits.offset == 3))[:20]
    source = cols["source_id"][first]
    seq = cols.ids[first].astype(np.int64) // SOURCES
    pos = positions_at(schema, SEED, source, seq)
    assert np.array_equal(pos.ids, cols.ids[first])
    again = [generate_columns(schema, SEED, int(i), int(i) + 1) for i in pos.ids]
    assert all(a.labels[0] == cols.labels[i] for a, i in zip(again, first, strict=True))
