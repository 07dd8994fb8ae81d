"""Every signal measured on generated data: the distribution, period, trend, memory or exact
formula it promises (docs/SCHEMA.md, "Signals"), plus sources, interleavings, event rates and
triggers.

Statistical checks allow ``Z`` = 5 standard errors (two-sided p ~ 6e-7 per check), and the
seeds are fixed, so a pass is reproducible and a fail means the property is off by more than
noise. Where a value is an exact function (sequence, sine, derived, template), the check is
exact up to the field's grid: |value - formula| <= resolution / 2.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from telecrunch import generate_columns, interleave, load_schema, rng
from telecrunch import walk as walks
from telecrunch.generation import KindMaker, kind_codes, positions_at, positions_of_ids

Z = 5.0  # standard errors allowed by every statistical check
SEED = 20260301
START_NS = 1_767_225_600_000_000_000  # the default time.start, 2026-01-01T00:00:00Z
DAY_NS = 86_400 * 10**9


def make_schema(fields: dict, *, sources: int = 1, interval: str = "1s", jitter: str = "0s",
                resolution: str = "1ms", interleave_: str = "round_robin", block: int = 1,
                kinds: dict | None = None):
    doc = {
        "name": "signals",
        "sources": {"count": sources, "interleave": interleave_, "block": block},
        "time": {"interval": interval, "jitter": jitter, "resolution": resolution, "bits": 40},
        "kinds": {"update": {"fields": fields}, **(kinds or {})},
    }
    return load_schema(doc)


def by_source(columns, name: str, sources: int) -> np.ndarray:
    """(sources, records per source) array of a round-robin column, each row in seq order."""
    return columns[name].reshape(-1, sources).T


def values_at(schema, source: np.ndarray, seq: np.ndarray, name: str, seed: int = SEED):
    """Field ``name`` of the first kind at (source, seq), wherever those records' IDs fall."""
    pos = positions_at(schema, seed, np.asarray(source, np.int64), np.asarray(seq, np.int64))
    return KindMaker(schema, seed, schema.kinds[0], pos).make_all(upto=name)[name]


def chi2_z(observed: np.ndarray, expected: np.ndarray) -> float:
    """Chi-square statistic as a standard normal deviate (Wilson-Hilferty)."""
    k = len(observed) - 1
    stat = float(((observed - expected) ** 2 / expected).sum())
    return ((stat / k) ** (1 / 3) - (1 - 2 / (9 * k))) / math.sqrt(2 / (9 * k))


def assert_close(measured: float, expected: float, se: float, what: str = "") -> None:
    assert abs(measured - expected) <= Z * se, \
        f"{what}: {measured} vs {expected} (allowed {Z} x {se:.3g})"


# ---- uniform ----

def test_uniform_int_covers_every_grid_point_evenly():
    schema = make_schema({"v": {"type": "int", "min": -3, "max": 8}})
    v = generate_columns(schema, SEED, 0, 60_000)["v"]
    counts = np.bincount(v + 3, minlength=12)
    assert counts.sum() == 60_000 and len(counts) == 12  # nothing outside [-3, 8]
    assert chi2_z(counts, np.full(12, 5000.0)) < Z


def test_uniform_float_grid_includes_both_ends_evenly():
    schema = make_schema({"v": {"type": "float", "min": 1, "max": 2, "resolution": 0.125}})
    v = generate_columns(schema, SEED, 0, 45_000)["v"]
    codes = (v - 1) / 0.125
    assert np.array_equal(codes, np.round(codes))
    counts = np.bincount(codes.astype(np.int64), minlength=9)
    assert len(counts) == 9
    assert chi2_z(counts, np.full(9, 5000.0)) < Z


def test_uniform_sub_range_and_timestamps():
    day = "2026-01-01T00:00:00Z"
    schema = make_schema({
        "v": {"type": "int", "min": 0, "max": 100, "signal": {"kind": "uniform", "min": 10,
                                                                "max": 14}},
        "at": {"type": "timestamp", "min": day, "max": "2026-01-02T00:00:00Z",
               "resolution": "1h"},
    })
    cols = generate_columns(schema, SEED, 0, 50_000)
    counts = np.bincount(cols["v"] - 10)
    assert len(counts) == 5 and cols["v"].min() == 10
    assert chi2_z(counts, np.full(5, 10_000.0)) < Z
    hours = (cols["at"] - START_NS) / 3600e9
    assert np.array_equal(hours, np.round(hours))
    counts = np.bincount(hours.astype(np.int64))
    assert len(counts) == 25  # 00:00 .. 24:00, both ends
    assert chi2_z(counts, np.full(25, 2000.0)) < Z


# ---- normal, lognormal ----

def test_normal_mean_std_and_shape():
    schema = make_schema({"v": {"type": "float", "min": -100, "max": 100, "resolution": 0.001,
                                "signal": {"kind": "normal", "mean": 5.0, "std": 2.0}}})
    n = 40_000
    v = generate_columns(schema, SEED, 0, n)["v"]
    assert_close(v.mean(), 5.0, 2.0 / math.sqrt(n), "mean")
    assert_close(v.std(), 2.0, 2.0 / math.sqrt(2 * n), "std")
    inside = np.mean(np.abs(v - 5.0) < 2.0)
    assert_close(inside, 0.682689, math.sqrt(0.6827 * 0.3173 / n), "share within 1 sigma")
    skew = np.mean(((v - v.mean()) / v.std()) ** 3)
    assert_close(skew, 0.0, math.sqrt(6 / n), "skewness")


def test_normal_is_clipped_to_the_field_range():
    schema = make_schema({"v": {"type": "int", "min": 0, "max": 10,
                                "signal": {"kind": "normal", "mean": 9.0, "std": 3.0}}})
    n = 30_000
    v = generate_columns(schema, SEED, 0, n)["v"]
    assert v.min() == 0 and v.max() == 10
    p_top = 0.5 * math.erfc((9.5 - 9.0) / 3.0 / math.sqrt(2))  # P(x >= 9.5): rounds to 10+
    assert_close(np.mean(v == 10), p_top, math.sqrt(p_top * (1 - p_top) / n), "mass at max")


def test_an_extreme_std_clips_to_the_range_ends_without_a_warning(tmp_path):
    """Draws past float64 become +-inf and are clipped like any value out of range, by the
    reference path and the compiled kernel alike, and nothing prints a RuntimeWarning."""
    import warnings

    import telecrunch

    wide = {"kind": "normal", "mean": 0.0, "std": 1e308}
    schema = make_schema({"x": {"type": "float", "min": -1, "max": 1, "resolution": 0.5,
                                "signal": wide},
                          "v": {"type": "int", "min": -5, "max": 5, "signal": wide}})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        columns = generate_columns(schema, SEED, 0, 2_000)
        telecrunch.generate(schema, 2_000, tmp_path / "ds", seed=SEED, cluster="sync")
        read = telecrunch.open_dataset(tmp_path / "ds").read()
    assert set(np.unique(columns["x"])) == {-1.0, 1.0}
    assert set(np.unique(columns["v"])) == {-5, 5}
    columns.labels = None
    assert read.differences(columns) == []


def test_lognormal_log_mean_and_log_std():
    schema = make_schema({"v": {"type": "float", "encoding": "binary64", "min": 0, "max": 1e6,
                                "signal": {"kind": "lognormal", "mu": 1.5, "sigma": 0.7}}})
    n = 40_000
    v = generate_columns(schema, SEED, 0, n)["v"]
    assert v.min() > 0
    logs = np.log(v)
    assert_close(logs.mean(), 1.5, 0.7 / math.sqrt(n), "log mean")
    assert_close(logs.std(), 0.7, 0.7 / math.sqrt(2 * n), "log std")
    # the median is exp(mu): half the values below it
    assert_close(np.mean(v < math.exp(1.5)), 0.5, 0.5 / math.sqrt(n), "median")


# ---- random walk ----

WALK_FIELD = {"type": "float", "encoding": "binary64", "min": -1e9, "max": 1e9}


def test_random_walk_steps_have_std_step_and_are_uncorrelated():
    sources, per = 16, 4096
    schema = make_schema({"v": {**WALK_FIELD, "signal": {"kind": "random_walk", "step": 0.5,
                                                         "start": 0.0}}}, sources=sources)
    x = by_source(generate_columns(schema, SEED, 0, sources * per), "v", sources)
    assert np.all(x[:, 0] == 0.0)  # every source starts at start
    d = np.diff(x, axis=1)  # d[:, k] = x[k + 1] - x[k]
    m = d.size
    assert_close(d.mean(), 0.0, 0.5 / math.sqrt(m), "mean step")
    assert_close(d.std(), 0.5, 0.5 / math.sqrt(2 * m), "step std")
    # steps into a new walk block (seq % 16 == 0) come from the anchors, the others from the
    # bridge: both must have the same law
    crossing = d[:, 15::16]
    assert_close(crossing.std(), 0.5, 0.5 / math.sqrt(2 * crossing.size), "block-crossing std")
    for lag in (1, 2, 15, 16):
        r = np.mean(d[:, :-lag] * d[:, lag:]) / d.var()
        assert_close(r, 0.0, 1 / math.sqrt(d[:, lag:].size), f"step autocorrelation at {lag}")


@pytest.mark.parametrize("base", [0, 12_345, 3_000_000_000])
def test_random_walk_increments_over_any_lag_have_variance_lag_step2(base):
    """Var(x[n + L] - x[n]) = L step**2 for lags that cross blocks and tree levels, and
    increments over disjoint spans are uncorrelated: a true random walk anywhere in the span."""
    sources = 4000
    schema = make_schema({"v": {**WALK_FIELD, "signal": {"kind": "random_walk", "step": 1.0}}},
                         sources=sources)
    src = np.arange(sources)
    x0 = values_at(schema, src, np.full(sources, base), "v")
    previous = None
    for lag in (1, 7, 16, 100, 4096, 1_000_003):
        x1 = values_at(schema, src, np.full(sources, base + lag), "v")
        inc = x1 - x0
        assert_close(inc.var() / lag, 1.0, math.sqrt(2 / sources), f"variance at lag {lag}")
        if previous is not None:
            r = np.corrcoef(previous, inc - previous)[0, 1]
            assert_close(r, 0.0, 1 / math.sqrt(sources), f"disjoint increments, lag {lag}")
        previous = inc


def test_mean_reverting_walk_has_lag1_autocorrelation_1_minus_r():
    sources, per, r, step, mean = 8, 8192, 0.05, 0.4, 20.0
    schema = make_schema({"v": {**WALK_FIELD, "signal": {"kind": "random_walk", "step": step,
                                                         "reversion": r, "mean": mean,
                                                         "start": mean}}},
                         sources=sources)
    y = by_source(generate_columns(schema, SEED, 0, sources * per), "v", sources) - mean
    y = y[:, 200:]  # stationary by now: Var(y_n) = (1 - phi**(2n)) stationary variance
    phi = np.sum(y[:, 1:] * y[:, :-1]) / np.sum(y[:, :-1] ** 2)
    assert_close(phi, 1 - r, math.sqrt((1 - (1 - r) ** 2) / y.size), "lag-1 autocorrelation")
    # stationary spread step / sqrt(1 - phi**2); samples are correlated: effective count
    # y.size (1 - phi) / (1 + phi)
    effective = y.size * r / (2 - r)
    var = step**2 / (1 - (1 - r) ** 2)
    assert_close(y.var() / var, 1.0, math.sqrt(2 / effective), "stationary variance")
    assert_close(y.mean(), 0.0, math.sqrt(var / effective), "mean")


def test_mean_reverting_walk_correlation_decays_as_phi_to_the_lag():
    sources, r = 4000, 0.05
    schema = make_schema({"v": {**WALK_FIELD, "signal": {"kind": "random_walk", "step": 1.0,
                                                         "reversion": r, "mean": 0.0}}},
                         sources=sources)
    src = np.arange(sources)
    base = 1_000_000  # far from the start: stationary
    y0 = values_at(schema, src, np.full(sources, base), "v")
    assert_close(y0.var() * (1 - (1 - r) ** 2), 1.0, math.sqrt(2 / sources), "variance")
    for lag in (1, 5, 16, 17, 40):
        rho = (1 - r) ** lag
        y1 = values_at(schema, src, np.full(sources, base + lag), "v")
        assert_close(np.corrcoef(y0, y1)[0, 1], rho, (1 - rho**2) / math.sqrt(sources),
                     f"correlation at lag {lag}")


def test_random_walk_reflects_inside_its_bounds():
    sources, per = 4, 4096
    schema = make_schema({"v": {"type": "float", "min": -100, "max": 100, "resolution": 0.01,
                                "signal": {"kind": "random_walk", "step": 2.0, "min": -5.0,
                                           "max": 5.0}}}, sources=sources)
    x = by_source(generate_columns(schema, SEED, 0, sources * per), "v", sources)
    assert x.min() >= -5.0 and x.max() <= 5.0
    assert x.min() < -4.95 and x.max() > 4.95  # it reaches both walls...
    assert np.mean(np.abs(x) == 5.0) < 0.005  # ... and bounces: no pile-up as clipping gives
    # a step std of 2 on a width of 10: the reflected walk forgets fast and fills the interval
    counts = np.histogram(x, bins=10, range=(-5, 5))[0]
    assert counts.min() > 0.05 * x.size


# ---- sine, seasonal ----

def test_sine_period_and_amplitude_by_fft():
    n = 3700
    schema = make_schema({"v": {"type": "float", "min": -100, "max": 100, "resolution": 0.001,
                                "signal": {"kind": "sine", "period": "37s", "amplitude": 3.0,
                                           "offset": 10.0, "noise": 0.5}}})
    v = generate_columns(schema, SEED, 0, n)["v"]
    spectrum = np.abs(np.fft.rfft(v - v.mean()))
    assert int(np.argmax(spectrum)) == n // 37  # 100 cycles in the series
    assert_close(2 * spectrum[100] / n, 3.0, 0.5 * math.sqrt(2 / n), "amplitude")
    assert_close(v.mean(), 10.0, 0.5 / math.sqrt(n), "offset")
    residual = v - (10.0 + 3.0 * np.sin(2 * np.pi * np.arange(n) / 37))
    assert_close(residual.std(), 0.5, 0.5 / math.sqrt(2 * n), "noise std")


def test_sine_is_exactly_its_formula_at_each_timestamp():
    sources = 7
    schema = make_schema({"v": {"type": "float", "min": -50, "max": 50, "resolution": 0.0001,
                                "signal": {"kind": "sine", "period": "90s", "amplitude": 40.0,
                                           "offset": 5.0, "phase": -0.3}}},
                         sources=sources, interval="250ms", jitter="30ms", resolution="1us")
    cols = generate_columns(schema, SEED, 0, 20_000)
    t = (cols["ts"] - START_NS) / 1e9
    expected = 5.0 + 40.0 * np.sin(2 * np.pi * (t / 90 - 0.3))
    assert np.max(np.abs(cols["v"] - expected)) <= 0.00005 + 1e-9


def test_seasonal_daily_and_weekly_periods_by_fft_and_trend_by_regression():
    per_day, days = 144, 28  # every 10 minutes for four weeks
    n = per_day * days
    params = {"kind": "seasonal", "offset": 20.0, "trend": 0.5, "daily": 5.0, "weekly": 2.0,
              "daily_phase": 0.1, "noise": 0.3}
    schema = make_schema({"v": {"type": "float", "min": -100, "max": 100, "resolution": 0.001,
                                "signal": params}}, interval="10m")
    cols = generate_columns(schema, SEED, 0, n)
    v, ts = cols["v"], cols["ts"]
    day = (ts - START_NS) / DAY_NS
    tod = (ts % DAY_NS) / DAY_NS
    week = (ts % (7 * DAY_NS)) / (7 * DAY_NS)
    design = np.column_stack([np.ones(n), day, np.sin(2 * np.pi * tod), np.cos(2 * np.pi * tod),
                              np.sin(2 * np.pi * week), np.cos(2 * np.pi * week)])
    coef, *_ = np.linalg.lstsq(design, v, rcond=None)
    # standard errors of least squares with noise 0.3
    se = 0.3 * np.sqrt(np.diag(np.linalg.inv(design.T @ design)))
    assert_close(coef[1], 0.5, se[1], "trend per day")
    assert_close(coef[2], 5.0 * math.cos(2 * math.pi * 0.1), se[2], "daily sine part")
    assert_close(coef[3], 5.0 * math.sin(2 * math.pi * 0.1), se[3], "daily cosine part")
    assert_close(math.hypot(coef[4], coef[5]), 2.0, max(se[4], se[5]), "weekly amplitude")
    detrended = v - design[:, :2] @ coef[:2]
    spectrum = np.abs(np.fft.rfft(detrended - detrended.mean()))
    assert int(np.argmax(spectrum)) == days  # the daily cycle: 28 cycles
    assert int(np.argmax(spectrum[1:days // 2])) + 1 == days // 7  # the weekly one: 4 cycles


def test_seasonal_without_noise_is_exactly_its_formula():
    sources = 5
    params = {"kind": "seasonal", "offset": 10.0, "trend": -0.25, "daily": 3.0, "weekly": 1.5,
              "daily_phase": -0.125, "weekly_phase": 0.3}
    schema = make_schema({"v": {"type": "float", "min": -100, "max": 100, "resolution": 0.001,
                                "signal": params}}, sources=sources, interval="7m",
                         jitter="10s")
    cols = generate_columns(schema, SEED, 0, 10_000)
    ts = cols["ts"]
    expected = (10.0 - 0.25 * (ts - START_NS) / DAY_NS
                + 3.0 * np.sin(2 * np.pi * ((ts % DAY_NS) / DAY_NS - 0.125))
                + 1.5 * np.sin(2 * np.pi * ((ts % (7 * DAY_NS)) / (7 * DAY_NS) + 0.3)))
    assert np.max(np.abs(cols["v"] - expected)) <= 0.0005 + 1e-9


def test_seasonal_source_phase_shifts_each_source_within_the_spread():
    sources = 50
    params = {"kind": "seasonal", "offset": 0.0, "daily": 1.0, "source_phase": 0.1}
    schema = make_schema({"v": {"type": "float", "encoding": "binary64", "min": -2, "max": 2,
                                "signal": params}}, sources=sources, interval="1h")
    cols = generate_columns(schema, SEED, 0, sources * 24)
    v, ts = by_source(cols, "v", sources), by_source(cols, "ts", sources)
    turns = (ts % DAY_NS) / DAY_NS
    # v = sin(2 pi (turns + phase)): recover each source's phase by least squares
    a = np.sum(v * np.sin(2 * np.pi * turns), axis=1)
    b = np.sum(v * np.cos(2 * np.pi * turns), axis=1)
    phase = np.mod(np.arctan2(b, a) / (2 * np.pi), 1.0)
    assert phase.min() >= -1e-9 and phase.max() < 0.1 + 1e-9
    assert phase.max() - phase.min() > 0.05  # spread across the range, not one shared phase


# ---- counter, sequence, regime ----

def test_counter_never_decreases_and_grows_by_rate_per_record():
    sources, per, rate = 8, 5000, 2.5
    schema = make_schema({"v": {"type": "int", "min": 0, "max": 2**32 - 1,
                                "signal": {"kind": "counter", "rate": rate}}}, sources=sources)
    v = by_source(generate_columns(schema, SEED, 0, sources * per), "v", sources)
    d = np.diff(v, axis=1)
    assert d.min() >= 0
    assert_close(d.mean(), rate, (rate + 1) / (per - 1), "mean increment")
    # not just on average: a counter never drifts from rate * seq by more than one step
    lag = v - rate * np.arange(per)
    assert lag.min() >= -1 and lag.max() <= rate
    assert len(np.unique(d)) > 1  # increments vary: it is a counter, not a sequence


def test_counter_wraps_around_past_max_and_otherwise_never_decreases():
    sources, per, rate = 4, 4000, 7.3
    schema = make_schema({"v": {"type": "int", "min": 100, "max": 1099,
                                "signal": {"kind": "counter", "rate": rate, "start": 600}}},
                         sources=sources)
    v = by_source(generate_columns(schema, SEED, 0, sources * per), "v", sources)
    assert v.min() >= 100 and v.max() <= 1099
    d = np.diff(v, axis=1)
    wraps = d < 0
    assert wraps.sum() == pytest.approx(sources * rate * per / 1000, abs=sources)
    assert np.all(d[wraps] + 1000 >= 0) and np.all(d[~wraps] <= 2 * rate + 1)
    unwrapped = v + 1000 * np.concatenate([np.zeros((sources, 1), int),
                                           np.cumsum(wraps, axis=1)], axis=1)
    lag = unwrapped - 600 - rate * np.arange(per)
    assert lag.min() >= -1 and lag.max() <= rate


def test_float_counter_steps_on_the_resolution_grid():
    schema = make_schema({"v": {"type": "float", "min": 0, "max": 1e6, "resolution": 0.5,
                                "signal": {"kind": "counter", "rate": 0.8}}})
    v = generate_columns(schema, SEED, 0, 10_000)["v"]
    assert np.all(np.diff(v) >= 0) and np.array_equal(v * 2, np.round(v * 2))
    assert_close(np.diff(v).mean(), 0.8, 1.8 / 9999, "mean increment")


@pytest.mark.parametrize("kind", ["counter", "sequence"])
def test_counting_signals_reach_max_on_a_decimal_grid_before_wrapping(kind):
    # 0.3 / 0.1 is 2.9999999999999996 in float64: the grid still has 4 points, 0 .. 0.3
    rate = {"counter": {"rate": 0.1}, "sequence": {"step": 0.1}}[kind]
    schema = make_schema({"v": {"type": "float", "min": 0, "max": 0.3, "resolution": 0.1,
                                "signal": {"kind": kind, **rate}}})
    v = generate_columns(schema, SEED, 0, 400)["v"]
    # one grid step per record (for the counter: floor(1.0 * (seq + u)) = seq), wrapping
    # after max
    assert np.array_equal(np.rint(v / 0.1), np.arange(400) % 4)


def test_sequence_wraps_around_at_max_exactly():
    sources, per = 3, 50
    schema = make_schema({
        "i": {"type": "int", "min": 10, "max": 19,
              "signal": {"kind": "sequence", "start": 12, "step": 3}},
        "f": {"type": "float", "min": 0, "max": 2, "resolution": 0.25,
              "signal": {"kind": "sequence", "start": 0.5, "step": 0.75}},
        "at": {"type": "timestamp", "min": "2026-01-01T00:00:00Z",
               "max": "2026-01-02T00:00:00Z", "resolution": "1s",
               "signal": {"kind": "sequence", "step": 3600 * 10**9 * 5}},
    }, sources=sources)
    cols = generate_columns(schema, SEED, 0, sources * per)
    n = np.arange(per)
    for s in range(sources):
        assert np.array_equal(by_source(cols, "i", sources)[s], 10 + (2 + 3 * n) % 10)
        assert np.array_equal(by_source(cols, "f", sources)[s], ((2 + 3 * n) % 9) * 0.25)
        assert np.array_equal(by_source(cols, "at", sources)[s],
                              START_NS + ((5 * 3600 * n) % 86_401) * 10**9)
    assert 19 in cols["i"] and 10 in cols["i"]  # max is reached, then it wraps to min


def test_regime_is_piecewise_constant_with_the_mean_duration():
    sources, per, mean_duration = 20, 5000, 50
    schema = make_schema({"v": {"type": "float", "min": 0, "max": 1000, "resolution": 1e-6,
                                "signal": {"kind": "regime", "mean_duration": mean_duration}}},
                         sources=sources)
    v = by_source(generate_columns(schema, SEED, 0, sources * per), "v", sources)
    changes = int(np.sum(np.diff(v, axis=1) != 0))
    expected = sources * (per - 1) / mean_duration
    assert_close(changes, expected, math.sqrt(expected), "regime changes")
    # the levels drawn are uniform in the field's range
    starts = np.concatenate([v[:, :1], v[:, 1:][np.diff(v, axis=1) != 0][None, :]], axis=None)
    assert_close(starts.mean(), 500.0, 1000 / math.sqrt(12 * len(starts)), "mean level")


@pytest.mark.parametrize("levels", [[1.0, 2.0, 3.0, 4.0], [5.0, 6.0]])
def test_regime_with_levels_switches_to_another_level_every_mean_duration(levels):
    sources, per, mean_duration = 20, 5000, 50
    schema = make_schema({"v": {"type": "float", "min": 0, "max": 10, "resolution": 0.1,
                                "signal": {"kind": "regime", "levels": levels,
                                           "mean_duration": mean_duration}}},
                         sources=sources)
    v = by_source(generate_columns(schema, SEED, 0, sources * per), "v", sources)
    changes = int(np.sum(np.diff(v, axis=1) != 0))  # a change that kept the level is none
    expected = sources * (per - 1) / mean_duration
    assert_close(changes, expected, math.sqrt(expected), "level switches")
    # every level is used about equally often
    shares = np.array([np.mean(v == level) for level in levels])
    assert shares.sum() == 1.0 and shares.min() > 0.5 / len(levels)


def test_regime_with_levels_takes_only_those_levels_and_noise_around_them():
    sources, per = 10, 3000
    levels = [995.0, 1005.0, 1013.0, 1021.0]
    schema = make_schema({
        "p": {"type": "float", "min": 900, "max": 1100, "resolution": 0.01,
              "signal": {"kind": "regime", "levels": levels, "mean_duration": 100}},
        "q": {"type": "float", "min": 900, "max": 1100, "resolution": 0.001,
              "signal": {"kind": "regime", "levels": levels, "mean_duration": 100,
                         "noise": 0.5}},
    }, sources=sources)
    cols = generate_columns(schema, SEED, 0, sources * per)
    assert set(np.unique(cols["p"])) == set(levels)
    nearest = np.array(levels)[np.argmin(np.abs(cols["q"][:, None] - np.array(levels)), axis=1)]
    noise = cols["q"] - nearest
    assert_close(noise.std(), 0.5, 0.5 / math.sqrt(2 * len(noise)), "noise std")


# ---- categorical, bernoulli, text, choice, constant ----

def test_categorical_and_bernoulli_frequencies_follow_weights():
    n = 50_000
    weights = np.array([96, 2.5, 1, 0.5])
    schema = make_schema({
        "e": {"type": "enum", "values": ["ok", "degraded", "fault", "maintenance"],
              "weights": weights.tolist()},
        "g": {"type": "enum", "values": ["a", "b", "c"],
              "signal": {"kind": "categorical", "weights": [1, 0, 3]}},
        "b": {"type": "bool", "signal": {"kind": "bernoulli", "p": 0.05}},
    })
    cols = generate_columns(schema, SEED, 0, n)
    counts = np.bincount(cols["e"], minlength=4)
    assert chi2_z(counts, n * weights / weights.sum()) < Z
    counts = np.bincount(cols["g"], minlength=3)
    assert counts[1] == 0  # weight 0: never
    assert_close(counts[2] / n, 0.75, math.sqrt(0.75 * 0.25 / n), "weight 3 of 4")
    assert_close(cols["b"].mean(), 0.05, math.sqrt(0.05 * 0.95 / n), "bernoulli p")


def test_text_lengths_and_characters_are_uniform():
    n = 20_000
    schema = make_schema({"s": {"type": "string", "min_length": 2, "max_length": 9,
                                "alphabet": "hex"}})
    s = generate_columns(schema, SEED, 0, n)["s"]
    lengths = np.char.str_len(s)
    counts = np.bincount(lengths - 2, minlength=8)
    assert len(counts) == 8 and chi2_z(counts, np.full(8, n / 8)) < Z
    chars = np.frombuffer(b"".join(s), np.uint8)
    table = np.frombuffer(b"0123456789abcdef", np.uint8)
    assert np.isin(chars, table).all()
    counts = np.array([(chars == c).sum() for c in table])
    assert chi2_z(counts, np.full(16, len(chars) / 16)) < Z


def test_choice_frequencies_follow_weights_and_constant_is_constant():
    n = 30_000
    schema = make_schema({
        "fw": {"type": "string", "values": ["4.2.1", "4.3.0", "5.0.0-beta"], "weights": [7, 2, 1]},
        "c_int": {"type": "int", "min": 0, "max": 9, "signal": {"kind": "constant", "value": 7}},
        "c_enum": {"type": "enum", "values": ["a", "b"], "signal": {"kind": "constant",
                                                                    "value": "b"}},
        "c_str": {"type": "string", "max_length": 4, "signal": {"kind": "constant",
                                                                "value": "on"}},
        "c_bool": {"type": "bool", "signal": {"kind": "constant", "value": True}},
    })
    cols = generate_columns(schema, SEED, 0, n)
    counts = np.array([(cols["fw"] == v).sum() for v in (b"4.2.1", b"4.3.0", b"5.0.0-beta")])
    assert counts.sum() == n
    assert chi2_z(counts, n * np.array([0.7, 0.2, 0.1])) < Z
    assert np.all(cols["c_int"] == 7) and np.all(cols["c_enum"] == 1)
    assert np.all(cols["c_str"] == b"on") and cols["c_bool"].all()


# ---- derived and template ----

DERIVED = {
    "linear": ("a * 1.8 + 32", lambda c: c["a"] * 1.8 + 32),
    "floordiv_mod": ("a // 3 + a % 3", lambda c: np.floor_divide(c["a"], 3) + np.mod(c["a"], 3)),
    "power": ("a ** 2 - b", lambda c: c["a"] ** 2 - c["b"]),
    "conditional": ("abs(a) if a < 0 else a * 2", lambda c: np.where(c["a"] < 0, -c["a"],
                                                                       c["a"] * 2)),
    "min_max_clip": ("min(a, b, 0) + max(a, 1) + clip(a, -2, 2)",
                     lambda c: np.minimum(np.minimum(c["a"], c["b"]), 0)
                     + np.maximum(c["a"], 1) + np.clip(c["a"], -2, 2)),
    "sqrt_floor_round": ("sqrt(abs(a)) + floor(a) + round(a)",
                         lambda c: np.sqrt(np.abs(c["a"])) + np.floor(c["a"]) + np.rint(c["a"])),
    "exp_log": ("exp(a / 10) + log(b + 200)", lambda c: np.exp(c["a"] / 10)
                + np.log(c["b"] + 200.0)),
    "sin_cos_t": ("sin(a) + cos(t / 7)", lambda c: np.sin(c["a"]) + np.cos(c["t"] / 7)),
    "source_seq": ("source * 1000 + seq", lambda c: c["source"] * 1000.0 + c["seq"]),
    "bools": ("flag + (a > 1) * 10 - (not flag) * 100", lambda c: c["flag"]
              + (c["a"] > 1) * 10.0 - (~c["flag"]) * 100.0),
}


def test_derived_expressions_compute_exactly_what_they_say():
    sources = 3
    fields = {
        "a": {"type": "float", "min": -10, "max": 10, "resolution": 0.01},
        "b": {"type": "int", "min": -50, "max": 50, "signal": {"kind": "normal", "mean": 0.0,
                                                                "std": 20.0}},
        "flag": {"type": "bool"},
        **{name: {"type": "float", "encoding": "binary64", "min": -1e9, "max": 1e9,
                  "signal": {"kind": "derived", "expr": text}}
           for name, (text, _) in DERIVED.items()},
        "both": {"type": "bool", "signal": {"kind": "derived", "expr": "a > 0 and flag"}},
        "either": {"type": "bool", "signal": {"kind": "derived",
                                              "expr": "not flag or a >= 5"}},
        "grid": {"type": "float", "min": 0, "max": 100, "resolution": 0.5,
                 "signal": {"kind": "derived", "expr": "a * 7"}},
    }
    schema = make_schema(fields, sources=sources, interval="1500ms", jitter="200ms")
    n = 6000
    cols = generate_columns(schema, SEED, 0, n)
    env = {"a": cols["a"], "b": cols["b"].astype(float), "flag": cols["flag"],
           "source": cols["source_id"], "seq": np.arange(n) // sources,
           "t": (cols["ts"] - START_NS) / 1e9}
    for name, (text, fn) in DERIVED.items():
        expected = fn(env)
        exact = name not in ("exp_log", "sin_cos_t")  # TeleCrunch's own exp/log/sin: ~1 ulp
        if exact:
            assert np.array_equal(cols[name], expected), text
        else:
            np.testing.assert_allclose(cols[name], expected, rtol=1e-13, atol=1e-13,
                                       err_msg=text)
    assert np.array_equal(cols["both"], (env["a"] > 0) & env["flag"])
    assert np.array_equal(cols["either"], ~env["flag"] | (env["a"] >= 5))
    # a result is clipped to the range and rounded onto the field's grid like any signal
    assert np.array_equal(cols["grid"], np.clip(np.rint(env["a"] * 14) / 2, 0, 100))


def _decimals(resolution: float) -> int:
    return max(0, -math.floor(math.log10(resolution) + 1e-9))


def test_template_fills_placeholders_from_the_record():
    sources = 4
    schema = make_schema({
        "code": {"type": "enum", "values": ["overheat", "reboot"]},
        "temp": {"type": "float", "min": -40, "max": 125, "resolution": 0.01},
        "count": {"type": "int", "min": -5, "max": 500},
        "on": {"type": "bool"},
        "msg": {"type": "string", "max_length": 80, "signal": {
            "kind": "template",
            "text": "dev {source} #{seq} id {id}: {code} t={temp} n={count} on={on}!"}},
        "short": {"type": "string", "max_length": 12, "signal": {
            "kind": "template", "text": "{code} at {temp}"}},
    }, sources=sources)
    cols = generate_columns(schema, SEED, 1000, 3000)
    records = cols.to_records()
    assert _decimals(0.01) == 2
    for i, row in enumerate(records):
        seq = (1000 + i) // sources
        expected = (f"dev {row['source_id']} #{seq} id {row['id']}: {row['code']} "
                    f"t={row['temp']:.2f} n={row['count']} on={str(row['on']).lower()}!")
        assert row["msg"] == expected
        assert row["short"] == f"{row['code']} at {row['temp']:.2f}"[:12]
    assert any(len(f"{r['code']} at {r['temp']:.2f}") > 12 for r in records)  # truncation ran


# ---- per-source variation ----

def test_per_source_offset_and_scale_have_the_configured_spread():
    sources = 2000
    schema = make_schema({
        "c": {"type": "float", "min": 0, "max": 100, "resolution": 0.0001,
              "per_source": {"offset": 3.0}, "signal": {"kind": "constant", "value": 50.0}},
        "g": {"type": "float", "min": 0, "max": 100, "resolution": 0.0001,
              "per_source": {"scale": 0.1}, "signal": {"kind": "constant", "value": 10.0}},
        "w": {"type": "float", "min": -100, "max": 100, "resolution": 0.001,
              "per_source": {"offset": 2.0}, "signal": {"kind": "normal", "mean": 0.0,
                                                         "std": 1.0}},
    }, sources=sources)
    per = 10
    cols = generate_columns(schema, SEED, 0, sources * per)
    c, g, w = (by_source(cols, name, sources) for name in ("c", "g", "w"))
    assert np.all(c == c[:, :1]) and np.all(g == g[:, :1])  # one calibration per device
    assert_close(c[:, 0].mean(), 50.0, 3.0 / math.sqrt(sources), "offset mean")
    assert_close(c[:, 0].std(), 3.0, 3.0 / math.sqrt(2 * sources), "offset std")
    assert_close(g[:, 0].mean(), 10.0, 1.0 / math.sqrt(sources), "gain mean")
    assert_close(g[:, 0].std(), 1.0, 1.0 / math.sqrt(2 * sources), "gain std")
    means = w.mean(axis=1)  # each device's own mean: offset spread 2, plus noise 1/sqrt(per)
    spread = math.sqrt(4.0 + 1.0 / per)
    assert_close(means.std(), spread, spread / math.sqrt(2 * sources), "per-source means")
    assert_close((w - means[:, None]).std() ** 2 * per / (per - 1), 1.0,
                 math.sqrt(2 / (sources * (per - 1))), "noise around each device's mean")


# ---- interleavings and timestamps ----

@settings(max_examples=80, deadline=None)
@given(count=st.one_of(st.integers(1, 300), st.integers(2**20, 2**31)), block=st.integers(1, 40),
       mode=st.sampled_from(["round_robin", "blocked", "shuffled"]),
       seed=st.integers(0, 2**32), first=st.integers(0, 10**12))
def test_every_id_maps_to_a_unique_source_seq_and_back(count, block, mode, seed, first):
    schema = make_schema({"v": {"type": "bool"}}, sources=count, interleave_=mode, block=block)
    ids = np.arange(first, first + min(3 * count * block, 6000) + 17, dtype=np.uint64)
    source, seq = interleave.source_and_seq(schema, seed, ids)
    assert source.min() >= 0 and source.max() < count
    assert len(np.unique(source * (2**40) + seq)) == len(ids)
    assert np.array_equal(interleave.record_id(schema, seed, source, seq), ids)


@pytest.mark.parametrize("mode", ["round_robin", "blocked", "shuffled"])
def test_each_source_gets_every_seq_once_and_timestamps_strictly_increase(mode):
    sources, block, rounds = 13, 5, 60
    schema = make_schema({"v": {"type": "bool"}}, sources=sources, interleave_=mode,
                         block=block, interval="100ms", jitter="99ms", resolution="1us")
    n = sources * block * rounds
    cols = generate_columns(schema, SEED, 0, n)
    source, seq = interleave.source_and_seq(schema, SEED, cols.ids)
    assert np.array_equal(source, cols["source_id"])
    ts = cols["ts"]
    for s in range(sources):
        mine = source == s
        assert np.array_equal(seq[mine], np.arange(n // sources))  # in ID order, no gaps
        assert np.all(np.diff(ts[mine]) > 0)
    nominal = START_NS + seq * 100_000_000 + source * 100_000_000 // sources
    assert (ts - nominal).min() >= 0 and (ts - nominal).max() <= 99_000_000
    if mode == "shuffled":  # the order of sources changes from round to round: many of the
        order = source.reshape(-1, sources)  # 12 x 13 affine permutations of 13 sources occur
        assert len({tuple(r) for r in order}) > 100


# ---- events: rates and triggers ----

def test_event_rates_match_the_configured_shares():
    n = 100_000
    schema = make_schema({"v": {"type": "bool"}}, sources=10, kinds={
        "event": {"rate": 0.03, "fields": {"code": {"type": "int", "min": 0, "max": 3}}},
        "alarm": {"rate": 0.005, "fields": {"level": {"type": "int", "min": 0, "max": 3}}},
    })
    kinds = generate_columns(schema, SEED, 0, n).kind
    for code, rate in ((1, 0.03), (2, 0.005)):
        assert_close(np.mean(kinds == code), rate, math.sqrt(rate * (1 - rate) / n),
                     f"rate of kind {code}")


@pytest.mark.parametrize("spread", [0.0, 0.8])
def test_rate_spread_gives_per_source_rates_with_the_configured_log_spread(spread):
    sources, per, rate = 400, 2000, 0.05
    kind = {"rate": rate, "fields": {"code": {"type": "int", "min": 0, "max": 3}}}
    if spread:
        kind["rate_spread"] = spread
    schema = make_schema({"v": {"type": "bool"}}, sources=sources, kinds={"event": kind})
    cols = generate_columns(schema, SEED, 0, sources * per)
    counts = np.bincount(cols["source_id"][cols.kind == 1], minlength=sources).astype(float)
    assert counts.min() > 0
    # log counts spread by the log-normal factor plus Poisson noise (delta method: 1 / count)
    log_var = np.var(np.log(counts)) - np.mean(1 / counts)
    assert_close(math.sqrt(max(log_var, 0.0)), spread,
                 max(spread, 0.05) / math.sqrt(2 * sources), "log spread")
    # the factor has mean 1: the global rate is kept
    factor_sd = math.sqrt(math.exp(spread**2) - 1)
    se = rate * math.sqrt((factor_sd**2 + 1 / (per * rate)) / sources)
    assert_close(counts.mean() / per, rate, se, "mean rate")


TRIGGER_FIELDS = {"temp": {"type": "float", "min": -100, "max": 100, "resolution": 0.01,
                           "signal": {"kind": "random_walk", "step": 1.5, "min": -20.0,
                                      "max": 60.0}},
                  "other": {"type": "int", "min": 0, "max": 9}}


@pytest.mark.parametrize("condition", [{"above": 30.0}, {"below": 0.0}])
def test_trigger_fires_exactly_at_threshold_crossings(condition):
    sources, per = 8, 3000
    trigger = {"field": "temp", **condition}
    schema = make_schema(TRIGGER_FIELDS, sources=sources, kinds={"event": {
        "rate": 1e-12, "trigger": trigger,
        "fields": {"code": {"type": "int", "min": 0, "max": 3}}}})
    cols = generate_columns(schema, SEED, 0, sources * per)
    src, seq = np.meshgrid(np.arange(sources), np.arange(per), indexing="ij")
    v = values_at(schema, src.ravel(), seq.ravel(), "temp").reshape(sources, per)
    beyond = v > 30.0 if "above" in condition else v < 0.0
    crossing = np.zeros_like(beyond)
    crossing[:, 1:] = beyond[:, 1:] & ~beyond[:, :-1]
    event = cols.kind.reshape(-1, sources).T == 1
    assert crossing.sum() > 50  # the walk crosses often: the check has teeth
    assert np.array_equal(event, crossing)
    temp = by_source(cols, "temp", sources)
    assert np.array_equal(temp[~event], v[~event])  # update records carry those very values


def test_trigger_events_come_on_top_of_rate_events():
    sources, per = 8, 3000
    schema = make_schema(TRIGGER_FIELDS, sources=sources, kinds={"event": {
        "rate": 0.02, "trigger": {"field": "temp", "above": 30.0},
        "fields": {"code": {"type": "int", "min": 0, "max": 3}}}})
    cols = generate_columns(schema, SEED, 0, sources * per)
    src, seq = np.meshgrid(np.arange(sources), np.arange(per), indexing="ij")
    v = values_at(schema, src.ravel(), seq.ravel(), "temp").reshape(sources, per)
    crossing = np.zeros(v.shape, bool)
    crossing[:, 1:] = (v[:, 1:] > 30.0) & (v[:, :-1] <= 30.0)
    drawn = kind_codes(schema, SEED, positions_of_ids(schema, SEED, cols.ids)) == 1
    drawn = drawn.reshape(-1, sources).T
    assert np.array_equal(cols.kind.reshape(-1, sources).T == 1, crossing | drawn)
    assert (drawn & ~crossing).sum() > 100 and (crossing & ~drawn).sum() > 50


def test_trigger_turns_only_first_kind_records_into_events():
    """A record drawn as another kind (an alarm) keeps its kind at a crossing."""
    sources, per = 8, 3000
    code = {"code": {"type": "int", "min": 0, "max": 3}}
    schema = make_schema(TRIGGER_FIELDS, sources=sources, kinds={
        "event": {"rate": 1e-12, "trigger": {"field": "temp", "above": 30.0}, "fields": code},
        "alarm": {"rate": 0.3, "fields": {"level": {"type": "int", "min": 0, "max": 3}}}})
    cols = generate_columns(schema, SEED, 0, sources * per)
    src, seq = np.meshgrid(np.arange(sources), np.arange(per), indexing="ij")
    v = values_at(schema, src.ravel(), seq.ravel(), "temp").reshape(sources, per)
    crossing = np.zeros(v.shape, bool)
    crossing[:, 1:] = (v[:, 1:] > 30.0) & (v[:, :-1] <= 30.0)
    drawn = kind_codes(schema, SEED, positions_of_ids(schema, SEED, cols.ids))
    drawn = drawn.reshape(-1, sources).T
    kind = cols.kind.reshape(-1, sources).T
    assert (crossing & (drawn == 2)).sum() > 20
    assert np.array_equal(kind == 2, drawn == 2)
    assert np.array_equal(kind == 1, crossing & (drawn == 0))


def test_start_of_time_is_the_schema_start():
    schema = make_schema({"v": {"type": "bool"}}, sources=2)
    ts = generate_columns(schema, SEED, 0, 2)["ts"]
    start = datetime(2026, 1, 1, tzinfo=UTC).timestamp() * 1e9
    assert ts[0] == START_NS == int(start) and ts[1] == START_NS + 500_000_000


def _descend_from_root(key, anchor, y0, coef):
    """The interval-tree descent as the walk module documents it, level by level."""
    y_right = coef.root_a * y0 + coef.root_c * rng.normal(rng.draw(key, walks.ANCHORS))
    left, right, y_left = 0, walks.ANCHORS, y0
    for level in range(walks.LEVELS):
        mid = (left + right) // 2
        y_mid = coef.tree_a[level] * (y_left + y_right) + coef.tree_c[level] * rng.normal(
            rng.draw(key, mid))
        if anchor == mid:
            return y_mid
        if anchor < mid:
            right, y_right = mid, y_mid
        else:
            left, y_left = mid, y_mid
    raise AssertionError(anchor)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # uint64 wraps, run as Python
@settings(max_examples=60, deadline=None)
@given(anchors=st.lists(st.one_of(st.integers(1, 64), st.integers(1, walks.ANCHORS - 1),
                                  st.integers(0, 31).map(lambda k: 1 << k)),
                        min_size=1, max_size=40),
       steps=st.lists(st.integers(-3, 3), max_size=40))
def test_tracked_tree_descent_equals_descent_from_the_root(anchors, steps):
    """The walk's per-source descent cache resumes from a shared level: the same bits as
    descending from the root, for anchors in any order (shards may come back in any order),
    consecutive ones, powers of two and neighbours of either."""
    coef = walks.coefficients(0.99, 0.3)
    tree_key = np.uint64(0x1234_5678_9ABC_DEF1)
    source = 5
    kept = walks.WalkCache(source + 1, np.full(source + 1, 0.25))  # state kept throughout
    sequence = anchors + [min(max(a + d, 1), walks.ANCHORS - 1)
                          for a, d in zip(anchors, steps, strict=False)]
    for anchor in sequence:
        want = _descend_from_root(rng.subkey(tree_key, source), anchor, 0.25, coef)
        fresh = walks.WalkCache(source + 1, np.full(source + 1, 0.25))
        assert _walk_at_anchor(tree_key, source, anchor, coef, fresh) == want, anchor
        assert _walk_at_anchor(tree_key, source, anchor, coef, kept) == want, anchor


def _walk_at_anchor(tree_key, source, anchor, coef, cache) -> float:
    """Y at the first step of block ``anchor``: the tree's value there (its bridge weight is
    0), made by walk_batch from the state in ``cache``."""
    out = np.empty(1)
    walks.walk_batch(tree_key, np.uint64(3), 0, 0, np.array([source]),
                     np.array([anchor * walks.BLOCK]), np.zeros(1, np.int64), 1, out, cache.y0,
                     cache.block, cache.right, cache.rows, cache.bounds, cache.trail,
                     coef.root_a, coef.root_c, coef.tree_a, coef.tree_c, coef.bridge, coef.phi,
                     coef.sigma, np.empty(walks.BLOCK + 1), np.empty(walks.BLOCK + 1, np.uint64))
    return float(out[0])


def test_walk_batch_refuses_short_scratch():
    """Its loops write ``path`` and ``bits`` without bounds checks: a short one is an error,
    not a write past its end."""
    coef = walks.coefficients(1.0, 1.0)
    cache = walks.WalkCache(1, np.zeros(1))
    for path, bits in [(np.empty(walks.BLOCK), np.empty(walks.BLOCK + 1, np.uint64)),
                       (np.empty(walks.BLOCK + 1), np.empty(0, np.uint64))]:
        with pytest.raises(ValueError, match="BLOCK"):
            walks.walk_batch(np.uint64(1), np.uint64(3), 0, 0, np.array([0]), np.array([5]),
                             np.zeros(1, np.int64), 1, np.empty(1), cache.y0, cache.block,
                             cache.right, cache.rows, cache.bounds, cache.trail, coef.root_a,
                             coef.root_c, coef.tree_a, coef.tree_c, coef.bridge, coef.phi,
                             coef.sigma, path, bits)
    assert (cache.block == -2).all()  # nothing was made
