"""Exact conversions between doubles and integers below 2**52, in forms vector units have.

AVX2 has no vector conversion between doubles and 64-bit integers: a compiled loop with one
stays scalar. For an integer ``0 <= x < 2**52`` the double ``2**52 + x`` has ``x`` as its low 52
bits (its exponent is that of 2**52, and every integer up to 2**53 is exact), so both directions
are an OR or an add on the bit pattern: exact, and vectorizable. Each function is plain Python
where called from Python and the bit-pattern form inside numba kernels.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba.core import types
from numba.extending import intrinsic, overload

TWO52 = 4503599627370496.0
_TWO52_BITS = np.uint64(0x4330000000000000)
_LOW52 = np.uint64((1 << 52) - 1)
SMALL = 1 << 52  # the conversions hold for 0 <= x < SMALL


@intrinsic
def _bits_of(typingctx, x):
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(64))

    return types.uint64(types.float64), codegen


@intrinsic
def _double_of(typingctx, u):
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())

    return types.float64(types.uint64), codegen


def small_double(x):
    """``float(x)`` of an integer ``0 <= x < 2**52``."""
    return float(x)


def small_code(q):
    """``np.uint64(np.int64(q))`` of a whole double ``0 <= q < 2**52`` (or -0.0)."""
    return np.uint64(np.int64(q))


@overload(small_double)
def _small_double_compiled(x):
    return lambda x: _double_of(_TWO52_BITS | np.uint64(x)) - TWO52


@overload(small_code)
def _small_code_compiled(q):
    return lambda q: _bits_of(q + TWO52) & _LOW52
