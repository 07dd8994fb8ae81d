"""Deterministic elementary functions built from IEEE basic operations only.

Library ``log``, ``exp`` and ``sin`` differ by an ulp between numpy builds, CPUs (SIMD paths),
libm versions and GPUs; an ulp is enough to flip a quantized value. These versions use only
+, -, *, /, sqrt, floor, frexp and ldexp, which are exact or correctly rounded everywhere, in a
fixed order, so every backend that runs them without fused multiply-add gets the same bits.
Accuracy is a few ulps, far below any resolution a schema can declare.

They are plain Python on scalars, marked ``register_jitable`` so numba kernels inline them;
called from Python they run interpreted, the reference the compiled versions are tested against.
"""

from __future__ import annotations

import math

import numpy as np
from numba.extending import register_jitable

LN2_HI = 6.93147180369123816490e-01  # ln 2, upper bits: k * LN2_HI is exact for |k| < 2**20
LN2_LO = 1.90821492927058770002e-10  # ln 2 - LN2_HI
INV_LN2 = 1.44269504088896338700e00
SQRT_HALF = 0.70710678118654752440
TWO_PI = 6.28318530717958647692


@register_jitable
def det_log(x: float) -> float:
    """Natural logarithm for finite x > 0."""
    m, e = math.frexp(x)  # x = m * 2**e, 0.5 <= m < 1
    if m < SQRT_HALF:
        m = m * 2.0
        e = e - 1
    # log m = 2 atanh(s), s = (m - 1) / (m + 1), |s| <= 0.1716
    s = (m - 1.0) / (m + 1.0)
    z = s * s
    p = 1.0 / 23.0
    p = p * z + 1.0 / 21.0
    p = p * z + 1.0 / 19.0
    p = p * z + 1.0 / 17.0
    p = p * z + 1.0 / 15.0
    p = p * z + 1.0 / 13.0
    p = p * z + 1.0 / 11.0
    p = p * z + 1.0 / 9.0
    p = p * z + 1.0 / 7.0
    p = p * z + 1.0 / 5.0
    p = p * z + 1.0 / 3.0
    p = p * z + 1.0
    k = float(e)
    return k * LN2_HI + (2.0 * s * p + k * LN2_LO)


@register_jitable
def det_exp(x: float) -> float:
    """Exponential, saturating to 0 below -700 and to exp(700) above 700."""
    if x < -700.0:
        return 0.0
    if x > 700.0:
        x = 700.0
    k = math.floor(x * INV_LN2 + 0.5)
    r = (x - k * LN2_HI) - k * LN2_LO  # |r| <= 0.35
    p = 1.0 / 6227020800.0  # 1/13!
    p = p * r + 1.0 / 479001600.0
    p = p * r + 1.0 / 39916800.0
    p = p * r + 1.0 / 3628800.0
    p = p * r + 1.0 / 362880.0
    p = p * r + 1.0 / 40320.0
    p = p * r + 1.0 / 5040.0
    p = p * r + 1.0 / 720.0
    p = p * r + 1.0 / 120.0
    p = p * r + 1.0 / 24.0
    p = p * r + 1.0 / 6.0
    p = p * r + 0.5
    p = p * r + 1.0
    p = p * r + 1.0
    return math.ldexp(p, int(k))


@register_jitable
def _sin_poly(x: float) -> float:
    """sin x for |x| <= pi/4 (Taylor to x**17)."""
    z = x * x
    p = 1.0 / 355687428096000.0  # 1/17!
    p = -p * z + 1.0 / 1307674368000.0
    p = -p * z + 1.0 / 6227020800.0
    p = -p * z + 1.0 / 39916800.0
    p = -p * z + 1.0 / 362880.0
    p = -p * z + 1.0 / 5040.0
    p = -p * z + 1.0 / 120.0
    p = -p * z + 1.0 / 6.0
    p = -p * z + 1.0
    return x * p


@register_jitable
def _cos_poly(x: float) -> float:
    """cos x for |x| <= pi/4 (Taylor to x**18)."""
    z = x * x
    p = 1.0 / 6402373705728000.0  # 1/18!
    p = -p * z + 1.0 / 20922789888000.0
    p = -p * z + 1.0 / 87178291200.0
    p = -p * z + 1.0 / 479001600.0
    p = -p * z + 1.0 / 3628800.0
    p = -p * z + 1.0 / 40320.0
    p = -p * z + 1.0 / 720.0
    p = -p * z + 1.0 / 24.0
    p = -p * z + 0.5
    p = -p * z + 1.0
    return p


@register_jitable
def det_sin_turns(t: float) -> float:
    """sin(2 pi t): the argument is in turns, so reduction is an exact floor.

    Both polynomials are evaluated and one is selected: the octant is data, and a branch on
    it mispredicts often enough to cost more than the second polynomial. The octant's tests
    are made on the double itself (exact for 0..7), so a loop of these compiles to vector
    code, with no conversion to an integer that AVX2 lacks."""
    sign = -1.0 if t < 0.0 else 1.0  # sin is odd; t - floor(t) is exact only for t >= 0
    t = -t if t < 0.0 else t  # (not abs: -0.0 keeps its sign, as before)
    # [0, 1), exactly; np.floor keeps a double (math.floor makes an int, which AVX2 cannot
    # convert in vector registers and which overflows past 2**63); + 0.0 turns floor(-0.0)
    # into 0.0, so that sin(-0.0) stays -0.0
    f = t - (np.floor(t) + 0.0)
    octant = np.floor(f * 8.0) + 0.0  # (likewise)
    r = f - octant * 0.125  # [0, 1/8): exact
    odd = octant - 2.0 * np.floor(octant * 0.5) == 1.0
    x = ((0.125 - r) if odd else r) * TWO_PI  # odd octants mirror: pi/4 - x
    s = _sin_poly(x)
    c = _cos_poly(x)
    turn = octant + 1.0
    v = c if turn - 4.0 * np.floor(turn * 0.25) >= 2.0 else s  # octants 1, 2, 5, 6: cosine
    v = -v if octant >= 4.0 else v
    return sign * v


@register_jitable
def det_cos_turns(t: float) -> float:
    """cos(2 pi t)."""
    return det_sin_turns(t + 0.25)
