"""Counter-based random numbers: every draw is a pure function of (stream key, counter).

A stream key is derived on the host from the seed and a name (``stream_key(seed, "kinds.update
.fields.temp")``), so adding a field never shifts the draws of another. A draw is
``mix64(key + counter * GOLDEN)``: the splitmix64 output function applied to a Weyl sequence,
which passes BigCrush and costs a few integer operations. No library RNG stream is used:
their sequences change between versions and backends.

The scalar functions are numba ``register_jitable``: kernels inline them, and the batch helpers
at the bottom run them over arrays. ``tests/reference.py`` holds an independent pure-Python
version for the tests.
"""

from __future__ import annotations

import numba
import numpy as np
from llvmlite import ir
from numba.core import types
from numba.extending import intrinsic, overload, register_jitable

from telecrunch.gauss import std_normal

GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_U30, _U27, _U31 = np.uint64(30), np.uint64(27), np.uint64(31)
_U11 = np.uint64(11)
_TWO_M53 = 1.0 / 9007199254740992.0  # 2**-53

MASK64 = (1 << 64) - 1


# ---- host side: stream keys (plain Python integers) ----

def mix64_int(z: int) -> int:
    """splitmix64 output function on a Python int (the host twin of ``mix64``)."""
    z &= MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return z ^ (z >> 31)


def _fnv1a64(text: str) -> int:
    h = 0xCBF29CE484222325
    for byte in text.encode("utf-8"):
        h = ((h ^ byte) * 0x100000001B3) & MASK64
    return h


def stream_key(seed: int | np.uint64, *names: str | int) -> np.uint64:
    """Key of the stream named by ``names`` (e.g. a field path and a purpose) under ``seed``."""
    key = mix64_int(int(seed) & MASK64)
    for name in names:
        part = _fnv1a64(name) if isinstance(name, str) else mix64_int(name & MASK64)
        key = mix64_int(key ^ part)
    return np.uint64(key)


# ---- scalar primitives, inlined by numba kernels ----

@register_jitable
def mix64(z):
    z = (z ^ (z >> _U30)) * _M1
    z = (z ^ (z >> _U27)) * _M2
    return z ^ (z >> _U31)


@register_jitable
def draw(key, counter):
    """The 64 random bits of (key, counter)."""
    return mix64(key + np.uint64(counter) * GOLDEN)


@register_jitable
def subkey(key, index):
    """Key of sub-stream ``index`` (a source, a character position) of ``key``."""
    return mix64(key ^ mix64(np.uint64(index) + GOLDEN))


@register_jitable
def unit(h):
    """Uniform double in [0, 1) from the top 53 bits."""
    return float(h >> _U11) * _TWO_M53


def mulhi(a, b):
    """High 64 bits of the 128-bit product a * b (one native multiply when compiled)."""
    return np.uint64((int(a) * int(b)) >> 64)


@intrinsic
def _mulhi_native(typingctx, a, b):
    def codegen(context, builder, signature, args):
        wide = ir.IntType(128)
        product = builder.mul(builder.zext(args[0], wide), builder.zext(args[1], wide))
        return builder.trunc(builder.lshr(product, ir.Constant(wide, 64)), ir.IntType(64))

    return types.uint64(types.uint64, types.uint64), codegen


@overload(mulhi)
def _mulhi_compiled(a, b):
    return lambda a, b: _mulhi_native(np.uint64(a), np.uint64(b))


@register_jitable
def below(h, n):
    """Integer in [0, n) from 64 random bits (multiply-high; bias at most n / 2**64)."""
    return mulhi(h, np.uint64(n))


@register_jitable
def normal(h):
    """Standard normal from 64 random bits (see telecrunch.gauss)."""
    return std_normal(h)


# ---- batch helpers over arrays of counters ----

@numba.njit(cache=True)
def uniform_array(key, counters):
    out = np.empty(counters.shape[0], np.float64)
    for i in range(counters.shape[0]):
        out[i] = unit(draw(key, counters[i]))
    return out


@numba.njit(cache=True)
def normal_array(key, counters):
    out = np.empty(counters.shape[0], np.float64)
    for i in range(counters.shape[0]):
        out[i] = normal(draw(key, counters[i]))
    return out


@numba.njit(cache=True)
def below_array(key, counters, n):
    out = np.empty(counters.shape[0], np.uint64)
    for i in range(counters.shape[0]):
        out[i] = below(draw(key, counters[i]), n)
    return out


@numba.njit(cache=True)
def bits_array(key, counters):
    out = np.empty(counters.shape[0], np.uint64)
    for i in range(counters.shape[0]):
        out[i] = draw(key, counters[i])
    return out
