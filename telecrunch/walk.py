"""Gaussian random walks (and mean-reverting AR(1) walks) addressable at any step.

A walk with memory must give the same value at step ``n`` of a source whether it is generated
in one chunk or many. Summing all steps from 0 would cost O(n); instead the walk is built top
down, like a Lévy construction of Brownian motion:

* Block boundaries are every ``BLOCK`` steps. The value at the last boundary of the span
  (``SPAN = BLOCK * 2**LEVELS`` steps) is drawn given the start; the value at the midpoint of
  any interval is drawn from its exact conditional law given both ends. Any boundary is thus
  reached by ``LEVELS`` draws, each keyed by the boundary's index alone.
* Inside a block, ``BLOCK`` ordinary steps are drawn from the left boundary and then corrected
  to end at the right boundary (conditioning by kriging), which is again exact.

Every draw is keyed by (field, source, position), so the whole path is a pure function of
(seed, schema, source, step): a true random walk with N(0, step**2) increments (AR(1) with
``phi = 1 - reversion`` when mean-reverting), and the same whatever the chunking.
All coefficients are computed with basic IEEE operations in a fixed order, so every backend
gets the same bits.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba
import numpy as np
from llvmlite import ir
from numba.core import types
from numba.extending import intrinsic, register_jitable

from telecrunch.gauss import std_normals
from telecrunch.rng import GOLDEN, draw, normal, subkey

BLOCK = 16
LEVELS = 32
ANCHORS = 1 << LEVELS
SPAN = BLOCK * ANCHORS  # steps addressable per source


@dataclass(frozen=True)
class WalkCoefficients:
    """Host-computed constants of a walk with step ``sigma`` and memory ``phi``."""

    root_a: float  # Y(SPAN) = root_a * Y(0) + root_c * z
    root_c: float
    tree_a: np.ndarray  # per level: Y(mid) = tree_a * (Y(left) + Y(right)) + tree_c * z
    tree_c: np.ndarray
    bridge: np.ndarray  # per in-block step j: weight of the end correction
    phi: float
    sigma: float


def coefficients(phi: float, sigma: float) -> WalkCoefficients:
    """Exact conditional-law coefficients, from multiplications and one sqrt each."""
    phi = float(phi)
    sigma = float(sigma)
    # In-block: V(j) = Var(Y_j | Y_0) = phi**2 V(j-1) + sigma**2, and phi**(BLOCK - j).
    var = [0.0]
    for _ in range(BLOCK):
        var.append(phi * phi * var[-1] + sigma * sigma)
    power = [1.0]
    for _ in range(BLOCK):
        power.append(power[-1] * phi)
    v_block = var[BLOCK]
    bridge = np.array(
        [power[BLOCK - j] * var[j] / v_block if v_block > 0 else 0.0 for j in range(BLOCK + 1)]
    )
    # Doubling: V(2d) = V(d) (1 + phi**(2d)), phi**(2d) = (phi**d)**2.
    v_of = [v_block]  # V(BLOCK * 2**j)
    p_of = [power[BLOCK]]  # phi ** (BLOCK * 2**j)
    for _ in range(LEVELS):
        v_of.append(v_of[-1] * (1.0 + p_of[-1] * p_of[-1]))
        p_of.append(p_of[-1] * p_of[-1])
    tree_a = np.empty(LEVELS)
    tree_c = np.empty(LEVELS)
    for level in range(LEVELS):
        j = LEVELS - level - 1  # half-interval = BLOCK * 2**j steps
        p2 = p_of[j] * p_of[j]
        tree_a[level] = p_of[j] / (1.0 + p2)
        tree_c[level] = math.sqrt(v_of[j] / (1.0 + p2))
    return WalkCoefficients(
        root_a=p_of[LEVELS], root_c=math.sqrt(v_of[LEVELS]), tree_a=tree_a, tree_c=tree_c,
        bridge=bridge, phi=phi, sigma=sigma,
    )


@intrinsic
def _leading_zeros(typingctx, x):
    """Leading zero bits of an int64 (64 for 0): one instruction, where frexp is a call."""
    def codegen(context, builder, signature, args):
        return builder.ctlz(args[0], ir.Constant(ir.IntType(1), 0))

    return types.int64(types.int64), codegen


@register_jitable
def _msb(x):
    """Index of the highest set bit of 0 < x < 2**63."""
    return 63 - _leading_zeros(np.int64(x))


@register_jitable
def _resume_level(anchor, last, deepest):
    """The deepest level, at most ``deepest``, whose interval holds both ``last`` and
    ``anchor`` with ``anchor`` strictly inside: where a descent to ``anchor`` can start
    from the ends that the descent to ``last`` recorded. The intervals of level L are
    ``2**(LEVELS - L)`` anchors wide, so both tests read off a bit index."""
    level = min(deepest, LEVELS - 1 - _msb(anchor & -anchor))  # anchor is no end of it
    if anchor != last:
        level = min(level, LEVELS - 1 - _msb(anchor ^ last))  # the same interval
    return max(level, 0)


@numba.njit(cache=True, nogil=True)
def walk_batch(tree_key, step_key, w, base, sources, seqs, picks, count, out, y0, block,
               right, rows, bounds, trail, root_a, root_c, tree_a, tree_c, bridge, phi,
               sigma, path, bits):
    """Y of walk ``w`` for records ``picks[:count]`` (their ``sources`` and ``seqs``) into
    ``out[:count]``, keeping each source's latest block in its state column ``source - base``.

    Records of a source arrive in seq order, so each block is made once, and its right end is
    the next block's left end. A block's ends come from the interval tree, the descent to an
    anchor resuming from the deepest level whose interval it shares with the anchor descended
    last (``bounds``: each level's end values on that descent; ``trail``: that anchor, 0 for
    none, and the level it was found at): the values of a descent from the root, at two tree
    draws per block instead of about 32. All of it inline, in one call per batch: a call
    that passes arrays costs reference counting, too much per block. ``path`` (doubles) and
    ``bits`` (uint64) are scratch of ``BLOCK + 1`` each: a block's values and its draws."""
    if path.shape[0] < BLOCK + 1 or bits.shape[0] < BLOCK + 1:  # written without bounds checks
        raise ValueError("walk_batch: path and bits need BLOCK + 1 elements each")
    wu = np.uint64(w)  # unsigned indexes: numba adds negative-index handling to signed ones
    for t in range(count):
        r = np.uint64(picks[np.uint64(t)])
        s = sources[r]
        seq = seqs[r]
        b = seq // BLOCK
        row = np.uint64(s - base)
        if block[wu, row] == b:
            out[np.uint64(t)] = rows[wu, np.uint64(seq) % np.uint64(BLOCK), row]
            continue
        ktree = subkey(tree_key, s)
        y_left = right[wu, row]  # the block before's right end, when it is the one made last
        y_right = y_left
        for anchor in range(b + 1 if block[wu, row] == b - 1 else b, b + 2):
            if anchor == 0:
                y = y0[wu, row]
            else:
                last = trail[wu, 0, row]
                level = 0
                if last > 0:
                    level = _resume_level(anchor, last, trail[wu, 1, row])
                    y_lo = bounds[wu, np.uint64(level), 0, row]  # level >= 0: unsigned
                    y_hi = bounds[wu, np.uint64(level), 1, row]
                else:
                    y_lo = y0[wu, row]
                    y_hi = root_a * y_lo + root_c * normal(draw(ktree, ANCHORS))
                y = y_hi
                if anchor < ANCHORS:
                    size = ANCHORS >> level
                    lo = (anchor // size) * size
                    hi = lo + size
                    while True:  # every anchor in (0, ANCHORS) is some level's midpoint
                        lu = np.uint64(level)
                        bounds[wu, lu, 0, row] = y_lo
                        bounds[wu, lu, 1, row] = y_hi
                        mid = (lo + hi) >> 1
                        y = tree_a[lu] * (y_lo + y_hi) + tree_c[lu] * normal(draw(ktree, mid))
                        if anchor == mid:
                            break
                        if anchor < mid:
                            hi = mid
                            y_hi = y
                        else:
                            lo = mid
                            y_lo = y
                        level += 1
                    trail[wu, 0, row] = anchor
                    trail[wu, 1, row] = level
            if anchor == b:
                y_left = y
            else:
                y_right = y
        # the BLOCK steps from y_left, bridged to end at y_right; the draws first: they are
        # independent and overlap, the recurrence after them is a short chain
        z = subkey(step_key, s) + (np.uint64(b) * np.uint64(BLOCK) + np.uint64(1)) * GOLDEN
        std_normals(z, BLOCK, path, 1, bits)
        path[0] = y_left
        for j in range(1, BLOCK + 1):
            path[j] = sigma * path[j] + phi * path[j - 1]
        miss = y_right - path[BLOCK]
        for j in range(BLOCK):
            rows[wu, np.uint64(j), row] = path[j] + bridge[j] * miss
        block[wu, row] = b
        right[wu, row] = y_right
        out[np.uint64(t)] = rows[wu, np.uint64(seq) % np.uint64(BLOCK), row]


@numba.njit(cache=True)
def _block_paths(tree_key, step_key, sources, blocks, y0, root_a, root_c, tree_a, tree_c,
                 bridge, phi, sigma):
    """Y at the BLOCK steps of each (source, block) pair, pairs sorted: shape (pairs, BLOCK).
    One state slot serves each source in turn."""
    n = sources.shape[0]
    out = np.empty((n, BLOCK), np.float64)
    one = np.zeros(1, np.int64)
    value = np.empty(1, np.float64)
    start = np.empty((1, 1), np.float64)
    block = np.empty((1, 1), np.int64)
    right = np.zeros((1, 1), np.float64)
    rows = np.zeros((1, BLOCK, 1), np.float64)
    bounds = np.zeros((1, LEVELS, 2, 1), np.float64)
    trail = np.zeros((1, 2, 1), np.int64)
    path = np.empty(BLOCK + 1, np.float64)
    bits = np.empty(BLOCK + 1, np.uint64)
    seq = np.empty(1, np.int64)
    for p in range(n):
        if p == 0 or sources[p] != sources[p - 1]:  # another source: its tree from the root
            block[0, 0] = -2
            trail[0, 0, 0] = 0
            start[0, 0] = y0[p]
        seq[0] = blocks[p] * BLOCK
        walk_batch(tree_key, step_key, 0, sources[p], sources[p:p + 1], seq, one, 1, value,
                   start, block, right, rows, bounds, trail, root_a, root_c, tree_a, tree_c,
                   bridge, phi, sigma, path, bits)
        out[p] = rows[0, :, 0]
    return out


class WalkCache:
    """Each source's latest block of one walk, kept between batches of the same shard."""

    MAX_SOURCES = 1 << 17  # 87 MB of state per walk; more sources take the uncached path

    def __init__(self, sources: int, y0: np.ndarray, walks: int = 1):
        """State of ``walks`` walks (rows w of each array), each started at ``y0[w]``."""
        self.y0 = np.ascontiguousarray(np.reshape(y0, (walks, sources)), dtype=np.float64)
        self.block = np.full((walks, sources), -2, np.int64)
        self.right = np.zeros((walks, sources), np.float64)
        # rows[w, j]: step j of every source's latest block, the sources side by side: the
        # records of a batch come from consecutive sources at the same step (round robin), so
        # eight of them share a cache line (a source's block side by side: one line a record)
        self.rows = np.zeros((walks, BLOCK, sources), np.float64)
        # the interval-tree descent to each source's latest right end (see walk_batch), its
        # ends at each level, sources side by side too
        self.bounds = np.zeros((walks, LEVELS, 2, sources), np.float64)
        self.trail = np.zeros((walks, 2, sources), np.int64)


def walk(tree_key: np.uint64, step_key: np.uint64, source: np.ndarray, seq: np.ndarray,
         y0_of_source, coef: WalkCoefficients, cache: WalkCache | None = None) -> np.ndarray:
    """Zero-mean walk value Y at step ``seq`` of each record's ``source``.

    ``y0_of_source(sources)`` gives Y(0) for an array of source IDs. With a ``cache``, the
    values are the same, made faster when calls come in ID order.
    """
    if len(seq) == 0:
        return np.empty(0, np.float64)
    if cache is not None:
        out = np.empty(len(seq), np.float64)
        walk_batch(tree_key, step_key, 0, 0, np.ascontiguousarray(source, np.int64),
                   np.ascontiguousarray(seq, np.int64), np.arange(len(seq)), len(seq), out,
                   cache.y0, cache.block, cache.right, cache.rows, cache.bounds, cache.trail,
                   coef.root_a, coef.root_c, coef.tree_a, coef.tree_c, coef.bridge, coef.phi,
                   coef.sigma, np.empty(BLOCK + 1, np.float64),
                   np.empty(BLOCK + 1, np.uint64))
        return out
    block = (seq // BLOCK).astype(np.uint64)
    pair = (source.astype(np.uint64) << np.uint64(32)) | block
    uniq, inverse = np.unique(pair, return_inverse=True)
    pair_source = (uniq >> np.uint64(32)).astype(np.int64)
    pair_block = (uniq & np.uint64(0xFFFFFFFF)).astype(np.int64)
    y0 = np.ascontiguousarray(y0_of_source(pair_source), dtype=np.float64)
    table = _block_paths(
        tree_key, step_key, pair_source, pair_block, y0, coef.root_a, coef.root_c,
        coef.tree_a, coef.tree_c, coef.bridge, coef.phi, coef.sigma,
    )
    return table[inverse.ravel(), seq % BLOCK]


def reflect(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Fold values into [lo, hi] as if the walk bounced off both bounds."""
    width = float(hi - lo)  # int bounds: their exact difference, rounded once
    lo = float(lo)
    if width <= 0:
        return np.full_like(x, lo)
    period = 2.0 * width
    t = x - lo
    if math.isinf(period):  # bounds over half the double range apart: one bounce is all
        with np.errstate(over="ignore"):  # in the branch np.where drops
            t = np.where(t > width, width - (t - width), np.abs(t))
        return lo + np.clip(t, 0.0, width)
    return _reflect_finite(np.ascontiguousarray(x, dtype=np.float64), lo, width, period)


@register_jitable
def reflect_one(x, lo, width, period):
    """One value folded into [lo, lo + width] (finite period)."""
    t = x - lo
    t = t - np.floor(t / period) * period
    if t > width:
        t = period - t
    return lo + min(max(t, 0.0), width)


@numba.njit(cache=True, nogil=True)
def _reflect_finite(x, lo, width, period):
    """The folding of ``reflect`` in one pass (the same operations, record by record)."""
    out = np.empty(x.shape[0], np.float64)
    for i in range(x.shape[0]):
        out[i] = reflect_one(x[i], lo, width, period)
    return out
