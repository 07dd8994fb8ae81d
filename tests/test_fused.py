"""The fused kernel against the reference path: the same bytes, the same statistics."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import telecrunch
from telecrunch.codecs import CODECS
from telecrunch.fused import FusedBlocks, fusable, generate_source, plan_supported
from telecrunch.generation import generate_columns, time_floor
from telecrunch.layout import compile_layout
from telecrunch.shardfile import ShardWriter
from telecrunch.stats import block_stats

from .conftest import DEMO_SCHEMA, ROOT

REFERENCE = ROOT / "jobs" / "reference_schema.yaml"
FLEET = ROOT / "jobs" / "fleet_schema.yaml"
REALISTIC = ROOT / "jobs" / "reference_realistic_schema.yaml"


def reference_block(schema, seed, first, n) -> bytes:
    writer = ShardWriter(compile_layout(schema), CODECS["none"], first, n, 0)
    return writer.block(generate_columns(schema, seed, first, first + n))


def fused_block(fast, seed, first, n) -> tuple[bytes, dict]:
    data, nbits, stats = fast.block(seed, first, n)
    writer = ShardWriter(fast.layout, CODECS["none"], first, n, 0)
    return writer.packed_block(n, data, nbits), stats


def assert_same_stats(fused: dict, reference: dict) -> None:
    assert fused["records"] == reference["records"]
    assert fused["kinds"] == reference["kinds"]
    assert fused["fields"].keys() == reference["fields"].keys()
    for name, want in reference["fields"].items():
        got = fused["fields"][name]
        assert got.keys() == want.keys(), name
        for key, value in want.items():
            if key in ("mean", "std"):
                assert got[key] == pytest.approx(value, rel=1e-7, abs=1e-9), (name, key)
            elif key == "length":
                assert got[key]["count"] == value["count"], name
            else:
                assert got[key] == value, (name, key)


@pytest.mark.parametrize("path", [REFERENCE, DEMO_SCHEMA])
@pytest.mark.parametrize("first, n", [(0, 1), (0, 1000), (987_654, 70_000)])
def test_fused_blocks_equal_the_reference_path(path, first, n):
    schema = telecrunch.load_schema(path)
    fast = FusedBlocks(schema)
    got, stats = fused_block(fast, 5, first, n)
    assert got == reference_block(schema, 5, first, n)
    assert_same_stats(stats, block_stats(generate_columns(schema, 5, first, first + n)))


def test_text_is_precomputed_by_the_reference_path_and_walks_are_fused():
    schema = telecrunch.load_schema(DEMO_SCHEMA)
    fast = FusedBlocks(schema)
    assert [f.name for f in fast.spec.walks] == ["temperature"]  # random walk, fused
    assert set(fast.spec.strings) == {"message", "firmware"}
    assert fusable(schema.fields["temperature"], 50)
    assert not fusable(schema.fields["temperature"], 10**7)  # too many sources for its state
    assert not fusable(schema.fields["message"])
    assert fusable(schema.fields["voltage"])


def test_batch_columns_are_stored_only_where_a_loop_reads_them():
    """The uniform reference kernel reads neither sequence numbers nor timestamps after its
    first loop, so it does not store them; the realistic one (a counter counts by sequence, a
    seasonal curve follows the time) keeps both, and both still match the reference path."""
    for path, kept in ((REFERENCE, False), (REALISTIC, True)):
        schema = telecrunch.load_schema(path)
        fast = FusedBlocks(schema)
        source, _ = generate_source(schema, fast.layout)
        assert ("seq_b[ru] = seq" in source) is kept, path
        assert ("ts_b[ru] = START" in source) is kept, path
        got, _ = fused_block(fast, 2, 10_000_019, 3000)
        assert got == reference_block(schema, 2, 10_000_019, 3000)


@pytest.mark.parametrize("path", [REFERENCE, DEMO_SCHEMA])
def test_statistics_accumulate_block_after_block_from_begin(path):
    """A shard's statistics come from the kernel's accumulators, merged block after block
    (times counted from the first block's), with the summaries of the fields made by the
    reference path (the demo's strings) merged beside them; ``begin`` starts afresh."""
    schema = telecrunch.load_schema(path)
    fast = FusedBlocks(schema)
    first, sizes = 5_000_003, [1000, 1, 70_000, 257, 30_000]
    fast.pack(7, 0, 5000)  # before begin: not counted
    fast.begin(first)
    start = first
    for n in sizes:
        data, nbits = fast.pack(7, start, n)
        writer = ShardWriter(fast.layout, CODECS["none"], start, n, 0)
        assert writer.packed_block(n, data, nbits) == reference_block(schema, 7, start, n)
        start += n
    whole = generate_columns(schema, 7, first, start)
    assert_same_stats(fast.summary(), block_stats(whole))
    _, _, alone = fast.block(7, first, 1000)
    assert_same_stats(alone, block_stats(generate_columns(schema, 7, first, first + 1000)))


def test_statistics_of_fields_the_reference_path_makes_take_their_types_form():
    """A derived bool is made by the reference path beside the kernel: its statistics count
    its true values, as block_stats does, over blocks merged from ``begin``."""
    doc = {"name": "derived", "kinds": {"update": {"fields": {
        "t": {"type": "float", "min": -40, "max": 125, "resolution": 0.01},
        "hot": {"type": "bool", "signal": {"kind": "derived", "expr": "t > 50"}},
        "twice": {"type": "int", "min": -80, "max": 250,
                  "signal": {"kind": "derived", "expr": "t * 2"}}}}}}
    schema = telecrunch.load_schema(doc)
    fast = FusedBlocks(schema)
    assert set(fast.spec.precomputed) == {"hot", "twice"}
    fast.begin(100)
    for start in (100, 2100):
        fast.pack(4, start, 2000)
    assert_same_stats(fast.summary(), block_stats(generate_columns(schema, 4, 100, 4100)))


def test_schemas_with_anomalies_take_the_reference_path():
    assert not plan_supported(telecrunch.load_schema(FLEET))
    with pytest.raises(ValueError):
        FusedBlocks(telecrunch.load_schema(FLEET))


def test_a_block_spanning_more_time_than_its_bits_is_an_error():
    doc = telecrunch.load_schema(REFERENCE).to_doc()
    doc["time"]["bits"] = 20
    schema = telecrunch.load_schema(doc)
    with pytest.raises(telecrunch.TeleCrunchError, match="time.bits"):
        FusedBlocks(schema).block(1, 0, 100_000)


@pytest.mark.parametrize("interval, sources, interleave", [
    (10**10, 10000, "round_robin"),  # a source's offset a whole number of ticks: a running sum
    (10**9, 3, "round_robin"),  # offsets rounded down: products and a division
    (10**9, 4, "blocked"),  # times that fall as IDs rise: record by record
])
def test_the_first_record_past_the_time_bits_fails_as_on_the_reference_path(
        interval, sources, interleave):
    """A batch's time bounds are checked once, with the most jitter can add, and record by
    record only when they fail: a block ending just inside the bits is whole, one record more
    fails, as on the reference path."""
    doc = telecrunch.load_schema(REFERENCE).to_doc()
    doc["sources"].update(count=sources, interleave=interleave, block=100)
    doc["time"].update(interval=f"{interval}ns", jitter=f"{interval - 1}ns", bits=34)
    schema = telecrunch.load_schema(doc)
    first, n = 5_000, 100_000
    ts = generate_columns(schema, 7, first, first + n).values["ts"]
    ticks = (ts - time_floor(schema, first)) // schema.time.resolution
    past = int(np.flatnonzero(ticks >= 1 << 34)[0])
    calm = telecrunch.load_schema({**doc, "time": {**doc["time"], "jitter": "0ns"}})
    calm_ts = generate_columns(calm, 7, first + past - 1, first + past).values["ts"]
    assert int(calm_ts[0] - time_floor(schema, first)) + interval - 1 >= 1 << 34  # bounds fail
    fast = FusedBlocks(schema)
    got, _ = fused_block(fast, 7, first, past)
    assert got == reference_block(schema, 7, first, past)
    for path in (lambda: fast.block(7, first, past + 1),
                 lambda: reference_block(schema, 7, first, past + 1)):
        with pytest.raises(telecrunch.TeleCrunchError, match="time.bits"):
            path()


NUMERIC_SIGNALS = {
    "int": ["uniform", "normal", "sequence", "counter", "sine", "lognormal", "constant",
            "random_walk"],
    "float": ["uniform", "normal", "sequence", "counter", "sine", "seasonal", "lognormal",
              "constant", "random_walk"],
}


@st.composite
def fusable_schemas(draw):
    fields = {}
    for i in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["int", "float", "float32", "float64", "bool", "enum",
                                     "timestamp"]))
        name = f"f{i}"
        if kind == "int":
            lo = draw(st.integers(-10**6, 10**6))
            hi = lo + draw(st.integers(0, 10**7))
            sig = draw(st.sampled_from(NUMERIC_SIGNALS["int"]))
            fields[name] = {"type": "int", "min": lo, "max": hi,
                            "signal": _signal(draw, sig, lo, hi, 1)}
        elif kind == "float":
            res = draw(st.sampled_from([0.001, 0.01, 0.5, 1.0, 0.25]))
            lo = draw(st.integers(-1000, 1000)) * 1.0
            hi = lo + draw(st.integers(1, 5000)) * res
            sig = draw(st.sampled_from(NUMERIC_SIGNALS["float"]))
            fields[name] = {"type": "float", "min": lo, "max": hi, "resolution": res,
                            "signal": _signal(draw, sig, lo, hi, res)}
            if draw(st.booleans()):
                fields[name]["per_source"] = {"offset": 0.5, "scale": 0.01}
        elif kind in ("float32", "float64"):
            fields[name] = {"type": "float", "encoding": "binary" + kind[-2:], "min": -50.0,
                            "max": 75.0, "signal": draw(st.sampled_from(
                                [{"kind": "uniform"}, {"kind": "normal", "mean": 1.0,
                                                       "std": 20.0}]))}
        elif kind == "bool":
            fields[name] = {"type": "bool", "signal": {"kind": "bernoulli",
                                                       "p": draw(st.floats(0, 1))}}
        elif kind == "enum":
            n = draw(st.integers(1, 9))
            fields[name] = {"type": "enum", "values": [f"v{j}" for j in range(n)],
                            "weights": [draw(st.integers(1, 5)) for _ in range(n)]}
        else:
            fields[name] = {"type": "timestamp", "min": "2025-01-01T00:00:00Z",
                            "max": "2025-06-01T00:00:00Z", "resolution": "1ms",
                            "signal": draw(st.sampled_from(["uniform", "sequence"]))}
    kinds = {"update": {"fields": fields}}
    if draw(st.booleans()):
        kinds["event"] = {"rate": draw(st.floats(0.01, 0.5)),
                          "fields": {"code": {"type": "enum", "values": ["a", "b", "c"]}}}
    return {
        "name": "fused",
        "sources": {"count": draw(st.integers(1, 3000)),
                    "interleave": draw(st.sampled_from(["round_robin", "blocked"])),
                    "block": draw(st.integers(1, 8))},
        "time": {"interval": "1s", "jitter": draw(st.sampled_from(["0s", "1ms", "250ms"])),
                 "resolution": "1ms", "bits": 40},
        "kinds": kinds,
    }


def _signal(draw, sig, lo, hi, res):
    if sig == "normal":
        return {"kind": "normal", "mean": (lo + hi) / 2, "std": max((hi - lo) / 4, res)}
    if sig == "lognormal":
        return {"kind": "lognormal", "mu": 1.0, "sigma": 0.5}
    if sig == "sequence":
        return {"kind": "sequence", "step": res * draw(st.integers(1, 7))}
    if sig == "counter":
        return {"kind": "counter", "rate": res * draw(st.integers(1, 50))}
    if sig == "sine":
        return {"kind": "sine", "period": "1h", "amplitude": (hi - lo) / 3,
                "offset": (lo + hi) / 2, "noise": res}
    if sig == "seasonal":
        return {"kind": "seasonal", "offset": (lo + hi) / 2, "daily": (hi - lo) / 4,
                "trend": res, "noise": res, "source_phase": 0.1}
    if sig == "constant":
        return {"kind": "constant", "value": lo}
    if sig == "random_walk":
        return {"kind": "random_walk", "step": max((hi - lo) / 50, res),
                "reversion": draw(st.sampled_from([0.0, 0.01]))}
    return {"kind": "uniform"}


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=fusable_schemas(), seed=st.integers(0, 2**32), first=st.integers(0, 10**9),
       n=st.integers(1, 3000))
def test_generated_schemas_pack_identically_on_both_paths(doc, seed, first, n):
    schema = telecrunch.load_schema(doc)
    fast = FusedBlocks(schema)
    got, stats = fused_block(fast, seed, first, n)
    assert got == reference_block(schema, seed, first, n)
    assert_same_stats(stats, block_stats(generate_columns(schema, seed, first, first + n)))


def test_engine_writes_identical_shards_with_and_without_the_kernel(tmp_path, monkeypatch):
    schema = telecrunch.load_schema(REFERENCE)
    telecrunch.generate(schema, 150_000, tmp_path / "fast", seed=3, cluster="sync",
                        shard_records=60_000, block_records=20_000)
    monkeypatch.setenv("TELECRUNCH_FUSED", "0")
    telecrunch.generate(schema, 150_000, tmp_path / "slow", seed=3, cluster="sync",
                        shard_records=60_000, block_records=20_000)
    for name in ("part-000000.tcs", "part-000001.tcs", "part-000002.tcs"):
        assert (tmp_path / "fast" / name).read_bytes() == (tmp_path / "slow" / name).read_bytes()
    fast = telecrunch.open_dataset(tmp_path / "fast").manifest.stats
    slow = telecrunch.open_dataset(tmp_path / "slow").manifest.stats
    assert_same_stats(fast, slow)
    assert np.isclose(fast["fields"]["temperature"]["mean"], slow["fields"]["temperature"]["mean"])


def test_statistics_of_floats_near_the_double_limit_stay_finite():
    doc = {"name": "wide", "kinds": {"update": {"fields": {
        "x": {"type": "float", "encoding": "binary64", "min": -8e307, "max": 9e307}}}}}
    schema = telecrunch.load_schema(doc)
    got, stats = fused_block(FusedBlocks(schema), 1, 0, 5000)
    assert got == reference_block(schema, 1, 0, 5000)
    summary = stats["fields"]["x"]
    values = generate_columns(schema, 1, 0, 5000)["x"]
    with np.errstate(over="ignore"):  # plain squares would overflow: that is the point
        assert np.isfinite(np.square(values)).mean() < 0.5
    assert summary["std"] == pytest.approx(float(np.std(values / 2.0**1000)) * 2.0**1000,
                                           rel=1e-9)
    assert summary["mean"] == pytest.approx(float(np.mean(values / 2.0**1000)) * 2.0**1000,
                                            rel=1e-9)


def test_walk_state_kept_between_blocks_gives_the_same_bytes():
    """Consecutive blocks through one kernel reuse each source's walk block; the bytes must
    not depend on it (nor on a jump back to an earlier range)."""
    schema = telecrunch.load_schema(DEMO_SCHEMA)
    fast = FusedBlocks(schema)
    for first, n in [(0, 700), (700, 1300), (2000, 4000), (6000, 50), (100, 900), (6050, 3000)]:
        got, _ = fused_block(fast, 9, first, n)
        assert got == reference_block(schema, 9, first, n), (first, n)
    assert fast._walks[9].block.max() >= 0  # the walk's state was used


def test_walks_on_full_range_int_fields():
    """Integer bounds too wide for int64 differences (a regression: the fold overflowed)."""
    doc = {"name": "wide", "time": {"bits": 48}, "kinds": {"update": {"fields": {
        "w": {"type": "int", "min": -1, "max": 2**63 - 1,
              "signal": {"kind": "random_walk", "step": 1e12}},
        "z": {"type": "int", "min": -5, "max": 5,
              "signal": {"kind": "random_walk", "step": 0.0}}}}}}
    schema = telecrunch.load_schema(doc)
    got, _ = fused_block(FusedBlocks(schema), 0, 0, 3000)
    assert got == reference_block(schema, 0, 0, 3000)


@pytest.mark.parametrize("interval, sources, first", [
    ("100us", 1, 10**6),  # a batch spans under 2**27 ticks: the high halves are all zero
    ("10s", 10000, 10**6),  # the reference workload: about 2**28 ticks a batch
    ("1s", 3, 10**6), ("1h", 1, 10**6),  # 2**36 and 2**50 ticks: both halves carry
    ("1d", 1, 10**3),  # over 2**54 ticks: sums of doubles
])
def test_time_statistics_of_batches_spanning_few_or_many_ticks(interval, sources, first):
    """The kernel sums a batch's time offsets as integers, each cut in two halves, while they
    span under 2**54 ticks and as doubles beyond: all as the reference, the standard deviation
    as computed exactly from the timestamps, and min and max exact beyond 2**53 (time
    offsets, a field wider than a double's mantissa)."""
    doc = telecrunch.load_schema(REFERENCE).to_doc()
    doc["sources"]["count"] = sources
    doc["time"].update(interval=interval, jitter="10us", bits=62)
    doc["kinds"]["update"]["fields"]["wide"] = {"type": "int", "min": -(2**61), "max": 2**62}
    schema = telecrunch.load_schema(doc)
    got, stats = fused_block(FusedBlocks(schema), 3, first, 3000)
    assert got == reference_block(schema, 3, first, 3000)
    columns = generate_columns(schema, 3, first, first + 3000)
    assert_same_stats(stats, block_stats(columns))
    ts = [int(t) for t in columns.values["ts"]]
    mean = Fraction(sum(ts), len(ts))
    exact = math.sqrt(sum((t - mean) ** 2 for t in ts) / len(ts))
    assert stats["fields"]["ts"]["std"] == pytest.approx(exact, rel=1e-13)


@pytest.mark.parametrize("interval, sources, start", [
    ("1s", 7, "2026-01-01T00:00:00Z"),  # batches within a day: positions by subtraction
    ("97s", 1, "2026-03-29T23:30:00Z"),  # batches crossing midnight and weeks
    ("2h", 1, "1969-12-20T05:00:00Z"),  # batches spanning days, times before 1970: by %
])
def test_sine_and_seasonal_curves_at_every_span(interval, sources, start):
    """The kernel finds each record's place in a cycle from the batch's first time when the
    batch spans under a period, else by division; both as the reference path, to the bit
    (IEEE doubles: one turn more or less rounds differently)."""
    fields = {
        "s": {"type": "float", "encoding": "binary64", "min": -10, "max": 10,
              "signal": {"kind": "sine", "period": "1d", "amplitude": 9, "offset": -0.0,
                         "phase": 0.3}},
        "d": {"type": "float", "encoding": "binary64", "min": -50, "max": 50,
              "signal": {"kind": "seasonal", "offset": -0.0, "daily": 20, "weekly": 10,
                         "daily_phase": -0.125, "weekly_phase": 0.5, "noise": 0.5}},
        "t": {"type": "int", "min": -1000, "max": 1000,
              "signal": {"kind": "seasonal", "offset": 3, "trend": -2.5, "weekly": 40,
                         "source_phase": 0.4}},
    }
    doc = {"name": "curves", "sources": {"count": sources},
           "time": {"interval": interval, "start": start, "resolution": "1ms", "bits": 48},
           "kinds": {"update": {"fields": fields}}}
    schema = telecrunch.load_schema(doc)
    fast = FusedBlocks(schema)
    for first, n in [(0, 3000), (123_457, 2000)]:
        got, stats = fused_block(fast, 4, first, n)
        assert got == reference_block(schema, 4, first, n), (first, n)
        assert_same_stats(stats, block_stats(generate_columns(schema, 4, first, first + n)))


@pytest.mark.parametrize("field", [
    {"type": "int", "min": -3, "max": 9, "signal": {"kind": "normal", "mean": 3, "std": 30}},
    {"type": "int", "min": 0, "max": 2**52 - 1,
     "signal": {"kind": "normal", "mean": 2.0**51, "std": 2.0**52}},
    {"type": "int", "min": 0, "max": 2**53, "signal": {"kind": "normal", "mean": 2.0**52,
                                                      "std": 2.0**53}},
    {"type": "float", "min": -1, "max": 1, "resolution": 0.01,
     "signal": {"kind": "normal", "mean": 0, "std": 5}},
])
def test_clipped_codes_at_both_ends_and_near_the_small_code_limit(field):
    """Signals far past both bounds, in fields whose codes take the branch-free conversion
    (codes under 2**52) and one whose codes do not: the reference path's bytes."""
    doc = {"name": "clip", "time": {"bits": 48}, "kinds": {"update": {"fields": {"v": field}}}}
    schema = telecrunch.load_schema(doc)
    fast = FusedBlocks(schema)
    got, _ = fused_block(fast, 3, 500, 4000)
    assert got == reference_block(schema, 3, 500, 4000)
    codes = np.array(telecrunch.generate_columns(schema, 3, 500, 4500)["v"])
    assert codes.min() == field["min"] and codes.max() == field["max"]  # both ends reached


def test_whole_mod_equals_pymod():
    """The counter and sequence signals' floor-mod without fmod: the same doubles as the
    library's for whole numbers, near multiples, negatives, zero and past 2**52."""
    import numba

    from telecrunch.fused import pymod, whole_mod

    @numba.njit
    def both(a, b):
        out = np.empty((2, a.shape[0]))
        for i in range(a.shape[0]):
            out[0, i] = whole_mod(a[i], b)
            out[1, i] = pymod(a[i], b)
        return out

    g = np.random.default_rng(5)
    for b in [1.0, 2.0, 3.0, 1048576.0, 16501.0, 999_999_937.0, 2.0**51 + 1]:
        near = np.array([k * b + d for k in (-3, -1, 0, 1, 2, 10**6) for d in (-1, 0, 1)])
        a = np.concatenate([np.floor(g.uniform(-2.0**52, 2.0**52, 5000)), near,
                            np.floor(g.uniform(-1e6, 1e6, 2000)), [0.0, -0.0, 2.0**52,
                                                                   -(2.0**52), 2.0**60]])
        a = a[np.abs(a) < 2.0**62]
        got, want = both(a, b)
        assert np.array_equal(got.view(np.uint64), want.view(np.uint64)), b
        assert (got >= 0).all() and (got < b).all()


def test_walks_and_curves_in_a_rare_kind():
    """Signals with state or their own loop in a kind made only for its records (the
    gathered path: picks from the kind's index list) and in the common kind, both fused."""
    walk = {"kind": "random_walk", "step": 0.3, "reversion": 0.01}
    doc = {"name": "rare", "sources": {"count": 300},
           "time": {"interval": "1s", "jitter": "1ms", "resolution": "1ms", "bits": 40},
           "kinds": {
               "update": {"fields": {
                   "w": {"type": "float", "min": -50, "max": 50, "resolution": 0.01,
                         "signal": walk},
                   "s": {"type": "float", "encoding": "binary64", "min": -5, "max": 5,
                         "signal": {"kind": "sine", "period": "5m", "amplitude": 4,
                                    "offset": 0}}}},
               "event": {"rate": 0.03, "fields": {
                   "we": {"type": "float", "min": -50, "max": 50, "resolution": 0.01,
                          "signal": walk},
                   "se": {"type": "float", "encoding": "binary64", "min": -30, "max": 30,
                          "signal": {"kind": "seasonal", "offset": 1, "daily": 20,
                                     "weekly": 5, "noise": 0.1, "source_phase": 0.5}}}}}}
    schema = telecrunch.load_schema(doc)
    fast = FusedBlocks(schema)
    assert {f.name for f in fast.spec.walks} == {"w", "we"}
    for first, n in [(0, 5000), (5000, 7000), (400_000, 3000)]:
        got, stats = fused_block(fast, 8, first, n)
        assert got == reference_block(schema, 8, first, n), (first, n)
        assert_same_stats(stats, block_stats(generate_columns(schema, 8, first, first + n)))


@given(st.one_of(st.floats(0.0, 1.0), st.sampled_from([0.0, 0.01, 0.2, 0.5, 0.98, 1.0,
                                                       2.0**-53, 1.0 - 2.0**-53, 5e-324])))
def test_unit_cut_splits_unit_draws_at_p(p):
    """unit(h) < p exactly when the kernel's integer compare says so: the 53-bit values
    on either side of the cut scale to doubles on either side of p."""
    from telecrunch.fused import _unit_cut

    cut = _unit_cut(p)
    scale = 2.0**-53
    if cut > 0:
        assert float(cut - 1) * scale < p
    if cut < 2**53:
        assert not float(cut) * scale < p


def test_a_kernel_is_named_after_its_source_and_every_module_of_the_package(tmp_path,
                                                                            monkeypatch):
    """A cached kernel holds the compiled helpers it called when it was built (walk_batch,
    std_normals): a changed, added or renamed module of the package must give it a new name,
    or a kernel built against an old helper (an old state layout) would be loaded."""
    from pathlib import Path

    from telecrunch import fused

    package = tmp_path / "pkg"
    (package / "formats").mkdir(parents=True)
    (package / "walk.py").write_text("BLOCK = 16\n")
    (package / "formats" / "x.py").write_text("")
    first = fused.package_fingerprint(package)
    assert fused.package_fingerprint(package) == first
    (package / "walk.py").write_text("BLOCK = 32\n")
    edited = fused.package_fingerprint(package)
    (package / "formats" / "x.py").rename(package / "formats" / "y.py")
    renamed = fused.package_fingerprint(package)
    (package / "new.py").write_text("")
    added = fused.package_fingerprint(package)
    assert len({first, edited, renamed, added}) == 4
    source = "def kernel():\n    return 7\n"
    assert fused.kernel_name(source, first) != fused.kernel_name(source, edited)
    assert fused.kernel_name(source, first) != fused.kernel_name(source + "\n", first)

    # and a loaded kernel is named with this package's fingerprint
    monkeypatch.setenv("TELECRUNCH_KERNEL_CACHE", str(tmp_path / "kernels"))
    module = fused._load(source)
    here = fused.package_fingerprint(Path(fused.__file__).parent)
    assert module.__name__ == fused.kernel_name(source, here)
    assert module.kernel() == 7
    assert (tmp_path / "kernels" / f"{module.__name__}.py").read_text() == source
