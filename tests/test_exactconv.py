"""Exact double <-> integer conversions below 2**52, compiled and from Python."""

from __future__ import annotations

import numba
import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from telecrunch.exactconv import SMALL, small_code, small_double


@numba.njit
def _convert(x, q):
    """small_double of each of ``x`` and small_code of each of ``q``, compiled."""
    doubles = np.empty(x.shape[0], np.float64)
    codes = np.empty(q.shape[0], np.uint64)
    for i in range(x.shape[0]):
        doubles[i] = small_double(x[i])
    for i in range(q.shape[0]):
        codes[i] = small_code(q[i])
    return doubles, codes


def _codes(q):
    return _convert(np.empty(0, np.uint64), q)[1]


def _doubles(x):
    return _convert(x, np.empty(0))[0]


EDGES = [0, 1, 2, 3, 16500, 2**32 - 1, 2**32, 2**40 - 1, 2**51, SMALL - 2, SMALL - 1]


def _wholes(n: int) -> np.ndarray:
    g = np.random.default_rng(11)
    return np.concatenate([EDGES, g.integers(0, SMALL, n, dtype=np.uint64),
                           np.arange(5000)]).astype(np.uint64)


def test_compiled_small_code_is_the_integer_conversion():
    x = _wholes(10_000)
    q = x.astype(np.float64)
    want = q.astype(np.int64).astype(np.uint64)
    assert np.array_equal(_codes(q), want)
    assert np.array_equal(_codes(np.array([-0.0])), [0])  # a clipped -0.0 is code 0
    assert all(small_code(v) == w for v, w in zip(q[:50], want[:50], strict=True))  # Python


def test_compiled_small_double_is_the_conversion():
    x = _wholes(10_000)
    got = _doubles(x)
    assert np.array_equal(got.view(np.uint64), x.astype(np.float64).view(np.uint64))
    assert all(small_double(v) == float(v) for v in x[:50])  # Python


@given(st.integers(0, SMALL - 1))
def test_both_ways_round_trip(n):
    x = np.array([n], np.uint64)
    assert _doubles(x)[0] == float(n)
    assert _codes(_doubles(x))[0] == n
