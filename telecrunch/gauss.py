"""Fast, deterministic standard normal deviates from 64 random bits.

Box-Muller costs a logarithm and a cosine per draw. Here the top bit picks the sign and the
next 52 bits a probability ``p``; ``|z|`` is the half-normal quantile of ``p``, read from a
4096-cell table of cubic Hermite pieces (about 4 ns). Above ``p = 1 - 2**-7`` (``|z| > 2.66``,
0.8% of draws) the exact tail is sampled by Marsaglia's rejection method, drawing further bits
from the hash itself. Both parts use only basic IEEE operations and TeleCrunch's own log, and
the table is built at import from a power series evaluated the same way, so the result is the
same bits on every machine and backend.
"""

from __future__ import annotations

import numba
import numpy as np
from numba.extending import register_jitable

from telecrunch.detmath import det_exp, det_log
from telecrunch.exactconv import small_double

CELLS = 4096
TAIL_CELL = CELLS - CELLS // 128  # p >= TAIL_CELL / CELLS: the tail
_SQRT_2 = 1.4142135623730951
_TWO_OVER_SQRT_PI = 1.1283791670955126
_SQRT_HALF_PI = 1.2533141373155003  # sqrt(pi / 2)


@numba.njit(cache=True)
def _erf(x):
    """erf(x) for 0 <= x <= 3 by its power series (for the table)."""
    term = x
    total = x
    k = 0
    while abs(term) > 1e-18 * abs(total):
        k += 1
        term = term * 2.0 * x * x / (2 * k + 1)
        total += term
    return _TWO_OVER_SQRT_PI * det_exp(-x * x) * total


@numba.njit(cache=True)
def _half_normal_quantile(p):
    """z >= 0 with P(|Z| <= z) = p, by Newton's method on erf(z / sqrt 2) = p."""
    if p == 0.0:
        return 0.0
    z = 1.0
    for _ in range(100):
        step = (_erf(z / _SQRT_2) - p) * _SQRT_HALF_PI * det_exp(0.5 * z * z)  # f / (2 phi)
        z -= step
        if abs(step) < 1e-17:
            break
    return z


@numba.njit(cache=True)
def _build_table():
    """Per cell: cubic coefficients of |z| in the position s in [0, 1) within the cell."""
    h = 1.0 / CELLS
    table = np.empty((TAIL_CELL, 4))
    z0 = _half_normal_quantile(0.0)
    d0 = _SQRT_HALF_PI * det_exp(0.5 * z0 * z0) * h  # dz/ds
    for k in range(TAIL_CELL):
        z1 = _half_normal_quantile((k + 1) * h)
        d1 = _SQRT_HALF_PI * det_exp(0.5 * z1 * z1) * h
        table[k, 0] = z0
        table[k, 1] = d0
        table[k, 2] = 3 * (z1 - z0) - 2 * d0 - d1
        table[k, 3] = 2 * (z0 - z1) + d0 + d1
        z0 = z1
        d0 = d1
    return table


TABLE = _build_table()
TAIL_START = _half_normal_quantile(TAIL_CELL / CELLS)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_FRAC_MASK = np.uint64((1 << 40) - 1)
_TWO_M40 = 1.0 / (1 << 40)
_TWO_M53 = 1.0 / (1 << 53)


@register_jitable
def _remix(z):
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


@register_jitable
def _tail(h):
    """|Z| conditioned on |Z| > TAIL_START (Marsaglia's tail method)."""
    a = TAIL_START
    state = h
    while True:
        state = _remix(state + _GOLDEN)
        u1 = (float(state >> np.uint64(11)) + 0.5) * _TWO_M53
        state = _remix(state + _GOLDEN)
        u2 = (float(state >> np.uint64(11)) + 0.5) * _TWO_M53
        x = -det_log(u1) / a
        y = -det_log(u2)
        if y + y > x * x:
            return a + x


@register_jitable
def _cell(h):
    return np.int64((h >> np.uint64(51)) & np.uint64(CELLS - 1))


@register_jitable
def _table_z(h, cell):
    """|Z| from the table piece of ``cell`` (< TAIL_CELL)."""
    s = small_double((h >> np.uint64(11)) & _FRAC_MASK) * _TWO_M40  # exact: 40 bits
    c = np.uint64(cell)  # an unsigned index: no negative-index handling
    return TABLE[c, 0] + s * (TABLE[c, 1] + s * (TABLE[c, 2] + s * TABLE[c, 3]))


@register_jitable
def _signed(h, z):
    return -z if h >> np.uint64(63) else z


@register_jitable
def std_normal(h):
    """A standard normal deviate from 64 random bits."""
    cell = _cell(h)
    z = _table_z(h, cell) if cell < TAIL_CELL else _tail(h)
    return _signed(h, z)


@register_jitable
def std_normals(z, count, out, at, bits):
    """``out[at + j] = std_normal(mix64(z + j * GOLDEN))`` for ``j < count``: the same bits,
    in two passes. The first reads every draw from the table (a tail draw from its last
    cell, a placeholder): without the tail's branch and loop it runs about twice as fast;
    the second redoes the 0.8% of tail draws. ``bits`` holds ``count`` words of scratch."""
    base = np.uint64(at)  # unsigned indexes: numba adds negative-index handling to signed ones
    for j in range(count):
        h = _remix(z)
        bits[j] = h
        out[base + np.uint64(j)] = _signed(h, _table_z(h, min(_cell(h), TAIL_CELL - 1)))
        z += _GOLDEN
    for j in range(count):
        h = bits[j]
        if _cell(h) >= TAIL_CELL:
            out[base + np.uint64(j)] = _signed(h, _tail(h))

