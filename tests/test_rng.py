"""The counter-based RNG against a pure-Python splitmix64, the deterministic elementary functions
(interpreted == compiled, bit for bit, and accurate), and the statistics of what they draw."""

from __future__ import annotations

import math

import numba
import numpy as np
import pytest

from telecrunch import detmath, gauss, generate_columns, load_schema, rng, vecmath
from tests import reference

KEYS = [0, 1, 0x9E3779B97F4A7C15, 2**64 - 1, 0x0123456789ABCDEF]
EDGE_COUNTERS = [0, 1, 2, 2**32 - 1, 2**32, 2**63 - 1, 2**63, 2**64 - 1]


def counters(count: int, seed: int = 0) -> np.ndarray:
    random = np.random.default_rng(seed).integers(0, 2**64, count, dtype=np.uint64,
                                                   endpoint=False)
    return np.concatenate([np.array(EDGE_COUNTERS, np.uint64), random])


@numba.njit
def _mix64_loop(zs):
    out = np.empty_like(zs)
    for i in range(zs.shape[0]):
        out[i] = rng.mix64(zs[i])
    return out


@numba.njit
def _subkey_loop(key, indexes):
    out = np.empty_like(indexes)
    for i in range(indexes.shape[0]):
        out[i] = rng.subkey(key, indexes[i])
    return out


@numba.njit
def _mulhi_loop(a, b):
    out = np.empty_like(a)
    for i in range(a.shape[0]):
        out[i] = rng.mulhi(a[i], b[i])
    return out


# ---- the compiled RNG equals the pure-Python reference ----

def test_reference_mix64_matches_published_splitmix64():
    # splitmix64 seeded with 0 (state += GOLDEN, then the output function): known first outputs
    state, outputs = 0, []
    for _ in range(3):
        state = (state + reference.GOLDEN) & reference.MASK64
        outputs.append(reference.mix64(state))
    assert outputs == [0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4, 0x06C45D188009454F]


def test_mix64_compiled_equals_reference():
    zs = counters(2000, 1)
    assert _mix64_loop(zs).tolist() == [reference.mix64(int(z)) for z in zs]
    assert rng.mix64_int(12345) == reference.mix64(12345)


@pytest.mark.parametrize("key", KEYS)
def test_draws_equal_reference(key):
    cs = counters(2000, key & 0xFFFF)
    bits = rng.bits_array(np.uint64(key), cs)
    assert bits.tolist() == [reference.draw(key, int(c)) for c in cs]
    units = rng.uniform_array(np.uint64(key), cs)
    assert units.tolist() == [reference.unit(reference.draw(key, int(c))) for c in cs]
    assert units.min() >= 0.0 and units.max() < 1.0


@pytest.mark.parametrize("n", [1, 2, 3, 7, 10, 1000, 2**32 + 1, 2**53 + 3, 2**63, 2**64 - 1])
def test_below_equals_reference(n):
    key = 0xDEADBEEF
    cs = counters(1000, n % 1000)
    got = rng.below_array(np.uint64(key), cs, np.uint64(n))
    assert got.tolist() == [reference.below(reference.draw(key, int(c)), n) for c in cs]
    assert int(got.max()) < n


def test_mulhi_is_the_high_half_of_the_product():
    a = counters(3000, 5)
    b = counters(3000, 6)
    assert _mulhi_loop(a, b).tolist() == [(int(x) * int(y)) >> 64 for x, y in zip(a, b,
                                                                                 strict=True)]


def test_subkey_and_stream_key_equal_reference():
    key = 0x5151_2020_ABCD_0001
    indexes = counters(500, 9)
    assert _subkey_loop(np.uint64(key), indexes).tolist() == [
        reference.subkey(key, int(i)) for i in indexes]
    for seed in [0, 1, 2**64 - 1, 987654321]:
        for names in [("kind",), ("field", "temp"), ("field", "temp", "walk.tree"), (7, "x")]:
            assert int(rng.stream_key(seed, *names)) == reference.stream_key(seed, *names)


def test_stream_keys_separate_names_and_seeds():
    keys = {int(rng.stream_key(seed, "field", name)) for seed in range(20)
            for name in ("a", "b", "ab", "ba", "")}
    assert len(keys) == 100


def test_normal_compiled_equals_interpreted_and_reference():
    key = np.uint64(77)
    cs = counters(3000, 3)
    compiled = rng.normal_array(key, cs)
    hs = rng.bits_array(key, cs)
    with np.errstate(over="ignore"):  # uint64 arithmetic wraps on purpose
        interpreted = [rng.normal(h) for h in hs]  # numba-registered Python, run by CPython
    assert compiled.tolist() == interpreted
    library = np.array([reference.normal(int(h)) for h in hs])
    np.testing.assert_allclose(compiled, library, rtol=0, atol=1e-8)


@numba.njit
def _normals_in_batches(z, count, at, batch):
    out = np.full(at + count, np.nan)
    bits = np.empty(batch, np.uint64)
    for b0 in range(0, count, batch):
        m = min(batch, count - b0)
        gauss.std_normals(z + np.uint64(b0) * rng.GOLDEN, m, out, at + b0, bits)
    return out


@pytest.mark.parametrize("batch", [1, 16, 256])
def test_batched_normals_equal_one_by_one(batch):
    """std_normals (the kernels' two-pass form) gives normal(mix64(z + j * GOLDEN)) bit for
    bit, tail draws included, written from ``at`` on and nowhere else."""
    z = np.uint64(0x0123456789ABCDEF)
    count, at = 20_000, 3
    out = _normals_in_batches(z, count, at, batch)
    bits = rng.bits_array(z, np.arange(count, dtype=np.uint64))  # mix64(z + j * GOLDEN)
    tails = sum(int(h >> np.uint64(51)) & (gauss.CELLS - 1) >= gauss.TAIL_CELL for h in bits)
    assert tails > 100  # the second pass is exercised
    assert np.isnan(out[:at]).all()
    with np.errstate(over="ignore"):  # uint64 arithmetic wraps on purpose
        one_by_one = [rng.normal(h) for h in bits]
    assert _same_bits(out[at:], one_by_one)


# ---- detmath: interpreted == compiled, bit for bit ----

def _wide_positive(count: int) -> np.ndarray:
    g = np.random.default_rng(11)
    return np.concatenate([
        np.exp(g.uniform(-740, 709, count)),
        1.0 + g.uniform(-1e-3, 1e-3, count // 4),
        np.array([5e-324, 2.2250738585072014e-308, 0.5, 1.0, 2.0, math.sqrt(0.5), 1e308,
                  np.nextafter(1.0, 2.0), np.nextafter(1.0, 0.0), 1.7976931348623157e308]),
    ])


def _turns(count: int) -> np.ndarray:
    g = np.random.default_rng(12)
    octants = np.arange(-64, 65) / 8.0  # every octant boundary
    return np.concatenate([g.uniform(-4, 4, count), g.uniform(-1e6, 1e6, count // 4),
                           octants, np.nextafter(octants, 10.0), np.nextafter(octants, -10.0)])


def _same_bits(a, b) -> bool:
    return np.array_equal(np.asarray(a, np.float64).view(np.uint64),
                          np.asarray(b, np.float64).view(np.uint64))


def test_det_log_interpreted_equals_compiled():
    x = _wide_positive(4000)
    assert _same_bits(vecmath.log_array(x), [detmath.det_log(float(v)) for v in x])


def test_det_exp_interpreted_equals_compiled():
    g = np.random.default_rng(13)
    x = np.concatenate([g.uniform(-750, 750, 4000), g.uniform(-1, 1, 1000),
                        [0.0, -0.0, 700.0, -700.0, 700.5, -700.5, 1e-300]])
    assert _same_bits(vecmath.exp_array(x), [detmath.det_exp(float(v)) for v in x])


def test_det_sin_turns_interpreted_equals_compiled():
    t = _turns(4000)
    assert _same_bits(vecmath.sin_turns_array(t), [detmath.det_sin_turns(float(v)) for v in t])


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")  # inf - inf, interpreted
def test_det_sin_turns_beyond_int64_and_at_infinity():
    """Turns past 2**63 are whole numbers: sin is a zero of their sign (the compiled floor once
    went through an int64 and overflowed); infinities give NaN, compiled and interpreted."""
    t = np.array([2.0**63, -(2.0**63), 1e300, -1e300, 1.7e308, 2.0**53 + 2.0])
    got = vecmath.sin_turns_array(t)
    assert _same_bits(got, [detmath.det_sin_turns(float(v)) for v in t])
    assert np.all(got == 0.0) and list(np.signbit(got)) == list(t < 0)
    infinite = vecmath.sin_turns_array(np.array([np.inf, -np.inf, np.nan]))
    assert np.isnan(infinite).all()
    assert math.isnan(detmath.det_sin_turns(math.inf))


# ---- detmath: accuracy ----

def test_det_log_within_1e_14_relative():
    x = _wide_positive(20000)
    x = x[x != 1.0]
    got = vecmath.log_array(x)
    want = np.array([math.log(v) for v in x])
    assert np.max(np.abs(got - want) / np.abs(want)) < 1e-14
    assert vecmath.log_array(np.array([1.0]))[0] == 0.0


def test_det_exp_within_1e_14_relative():
    x = np.random.default_rng(14).uniform(-700, 700, 20000)
    got = vecmath.exp_array(x)
    want = np.array([math.exp(v) for v in x])
    assert np.max(np.abs(got - want) / want) < 1e-14
    assert detmath.det_exp(0.0) == 1.0
    assert detmath.det_exp(-701.0) == 0.0  # documented saturation


def _sin_turns_exact(t: float) -> float:
    """sin(2 pi t) with an exact reduction of t to [-1/4, 1/4] turns."""
    f = t - round(t)  # exact, in [-1/2, 1/2]
    if f > 0.25:
        f = 0.5 - f  # exact (Sterbenz), sin(pi - x) = sin x
    elif f < -0.25:
        f = -0.5 - f
    return math.sin(2.0 * math.pi * f)


def test_det_sin_turns_within_1e_14_relative():
    t = _turns(20000)
    got = vecmath.sin_turns_array(t)
    want = np.array([_sin_turns_exact(v) for v in t])
    nonzero = want != 0.0
    assert np.all(got[~nonzero] == 0.0)
    assert np.max(np.abs(got - want)[nonzero] / np.abs(want[nonzero])) < 1e-14
    assert detmath.det_sin_turns(0.25) == 1.0
    assert math.copysign(1.0, detmath.det_sin_turns(-0.0)) == -1.0  # sin(-0) = -0
    assert detmath.det_cos_turns(0.0) == 1.0


# ---- statistics ----

N = 1_000_000


def test_uniform_draws_are_uniform():
    u = rng.uniform_array(rng.stream_key(1, "stats"), np.arange(N, dtype=np.uint64))
    assert abs(u.mean() - 0.5) < 2e-3  # sd of the mean: 2.9e-4
    assert abs(u.var() - 1 / 12) < 1e-3
    counts = np.bincount((u * 10).astype(int), minlength=10)
    assert np.all(np.abs(counts - N / 10) < 1500)  # sd of a count: 300


def test_below_is_uniform_over_its_range():
    b = rng.below_array(rng.stream_key(2, "stats"), np.arange(N, dtype=np.uint64),
                        np.uint64(7))
    counts = np.bincount(b.astype(np.int64), minlength=7)
    assert len(counts) == 7
    assert np.all(np.abs(counts - N / 7) < 2000)  # sd of a count: 350


def test_normal_draws_have_mean_0_std_1():
    z = rng.normal_array(rng.stream_key(3, "stats"), np.arange(N, dtype=np.uint64))
    assert abs(z.mean()) < 5e-3  # sd of the mean: 1e-3
    assert abs(z.std() - 1.0) < 5e-3
    assert abs(np.mean(np.abs(z) < 1.0) - 0.682689) < 3e-3
    assert abs(np.mean(np.abs(z) < 2.0) - 0.954500) < 2e-3
    assert np.abs(z).max() < 7.5


def test_successive_counters_are_uncorrelated():
    u = rng.uniform_array(rng.stream_key(4, "stats"), np.arange(N, dtype=np.uint64))
    assert abs(np.corrcoef(u[:-1], u[1:])[0, 1]) < 5e-3


WALK_SOURCES = 8
WALK_STEPS = 20_000


def _walk_paths(signal: dict) -> np.ndarray:
    """(sources, steps) values of a random-walk field with bounds far away."""
    schema = load_schema({
        "telecrunch": 1, "name": "walk", "sources": {"count": WALK_SOURCES},
        "time": {"interval": "1ms", "bits": 48},
        "kinds": {"k": {"fields": {"x": {"type": "float", "min": -1e6, "max": 1e6,
                                         "resolution": 1e-6,
                                         "signal": {"kind": "random_walk", **signal}}}}},
    })
    columns = generate_columns(schema, 99, 0, WALK_SOURCES * WALK_STEPS)
    return columns["x"].reshape(WALK_STEPS, WALK_SOURCES).T


def test_random_walk_steps_have_the_declared_std():
    paths = _walk_paths({"step": 1.0, "start": 0.0})
    steps = np.diff(paths, axis=1)
    assert abs(steps.std() - 1.0) < 0.015  # sd of the estimate: 0.002
    assert abs(steps.mean()) < 0.02
    for source_steps in steps:
        assert abs(source_steps.std() - 1.0) < 0.05
    # steps that cross a 16-step block boundary (bridge + anchors) are no different
    crossing = steps[:, 15::16]
    assert abs(crossing.std() - 1.0) < 0.04  # 10 000 samples
    # increments are independent: no lag-1 correlation
    flat_a, flat_b = steps[:, :-1].ravel(), steps[:, 1:].ravel()
    assert abs(np.corrcoef(flat_a, flat_b)[0, 1]) < 0.015


def test_random_walk_long_range_spread_grows_like_sqrt_steps():
    paths = _walk_paths({"step": 1.0, "start": 0.0})
    for lag in (16, 256, 4096):
        spread = (paths[:, lag:] - paths[:, :-lag]).std()
        assert abs(spread / math.sqrt(lag) - 1.0) < 0.1, lag
    assert np.all(paths[:, 0] == 0.0)


def test_mean_reverting_walk_is_stationary_ar1():
    paths = _walk_paths({"step": 1.0, "reversion": 0.5, "mean": 3.0})
    settled = paths[:, 200:]  # the start is uniform over [-1e6, 1e6]; 0.5**200 forgets it
    assert abs(settled.mean() - 3.0) < 0.05
    assert abs(settled.std() - 1.0 / math.sqrt(1 - 0.25)) < 0.02
    lag1 = np.corrcoef(settled[:, :-1].ravel(), settled[:, 1:].ravel())[0, 1]
    assert abs(lag1 - 0.5) < 0.02


def test_walk_highest_bit_index():
    """The walk's descent resumes at a level read off a highest set bit: every power of two,
    its neighbours, and random values, against Python's bit_length."""
    from telecrunch.walk import _msb

    @numba.njit
    def msb_all(x):
        out = np.empty(x.shape[0], np.int64)
        for i in range(x.shape[0]):
            out[i] = _msb(x[i])
        return out

    g = np.random.default_rng(3)
    values = [v for p in range(63) for v in (2**p - 1, 2**p, 2**p + 1) if 0 < v < 2**63]
    values += [int(v) for v in g.integers(1, 2**63 - 1, 5000, dtype=np.int64)]
    got = msb_all(np.array(values, np.int64))
    assert got.tolist() == [v.bit_length() - 1 for v in values]
