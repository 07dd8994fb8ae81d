"""Injected anomalies and their ground-truth labels, as pure functions of (seed, source, seq).

Each anomaly spec places windows on every eligible source's series of records. The series is
cut into epochs of ``E`` records; epoch ``e`` of source ``s`` holds a Poisson number of windows
(mean ``rate * E``), each with a start drawn uniformly in the epoch and a duration in the spec's
range, all keyed by (spec, source, epoch). A window may run into the next epoch (``E`` is at
least four window extents), so a record at seq ``n`` only looks at epochs ``n div E`` and the
one before. Whether a record is in a window thus never depends on the chunk it is made in.

Value anomalies change a target field's raw values inside windows; time anomalies (``late``,
``dropout``) move timestamps. Labels are a bitmask per record: bit ``i`` set means anomaly spec
``i`` touched it (a field of the spec in the record, or its timestamp).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba
import numpy as np
from numba.extending import register_jitable

from telecrunch import rng
from telecrunch.detmath import det_exp
from telecrunch.rng import below, draw, normal, subkey, unit
from telecrunch.schema import Anomaly, Schema

MAX_WINDOWS = 16  # per epoch; Poisson means are kept <= 6 so this truncates nothing in practice
DROPOUT_CATCH_UP = 10  # a dropout of d records is caught up over 10 d records
VALUE_KINDS = ("spike", "dip", "level_shift", "drift", "variance", "stuck", "out_of_range",
               "frequency", "saturation")
TIME_KINDS = ("late", "dropout")
KINDS = VALUE_KINDS + TIME_KINDS


def extent(spec: Anomaly, duration: int) -> int:
    """Records a window of ``duration`` affects."""
    return duration * DROPOUT_CATCH_UP if spec.kind == "dropout" else duration


def epoch_length(spec: Anomaly) -> int:
    return max(4 * extent(spec, spec.duration_range[1]), math.ceil(0.25 / spec.rate))


@dataclass(frozen=True)
class Hits:
    """Where records fall in a spec's windows (arrays over the records asked about)."""

    hit: np.ndarray  # bool
    offset: np.ndarray  # int64: position of the record in its window (seq - start)
    duration: np.ndarray  # int64: the window's duration
    key: np.ndarray  # uint64: the window's own stream key (its magnitude, sign, noise)


@numba.njit(cache=True)
def _poisson(u, lam, p0):
    """Inverse-CDF Poisson draw, truncated at MAX_WINDOWS; ``p0`` is det_exp(-lam)."""
    p = p0
    cdf = p
    k = 0
    while u >= cdf and k < MAX_WINDOWS:
        k += 1
        p = p * lam / k
        cdf += p
    return k


@register_jitable
def _epoch_windows(skey, ep, lam, p0):
    """(key, number of windows) of epoch ``ep`` of a source."""
    ekey = subkey(skey, ep)
    return ekey, _poisson(unit(draw(ekey, 0)), lam, p0)


@register_jitable
def _window(ekey, j, ep, epoch, dmin, dmax):
    """(start seq, duration) of window j (1-based) of an epoch."""
    start = ep * epoch + np.int64(below(draw(ekey, 2 * j), epoch))
    return start, dmin + np.int64(below(draw(ekey, 2 * j + 1), dmax - dmin + 1))


@numba.njit(cache=True)
def _locate(key, sources, seqs, eligible, epoch, lam, dmin, dmax, catch_up):
    p0 = det_exp(-lam)  # once, not per record
    n = sources.shape[0]
    hit = np.zeros(n, np.bool_)
    offset = np.zeros(n, np.int64)
    duration = np.zeros(n, np.int64)
    wkey = np.zeros(n, np.uint64)
    for i in range(n):
        if not eligible[i]:
            continue
        skey = subkey(key, sources[i])
        e = seqs[i] // epoch
        for ep in range(max(e - 1, 0), e + 1):
            ekey, count = _epoch_windows(skey, ep, lam, p0)
            for j in range(1, count + 1):
                start, dur = _window(ekey, j, ep, epoch, dmin, dmax)
                reach = dur * catch_up
                if start <= seqs[i] < start + reach:
                    hit[i] = True
                    offset[i] = seqs[i] - start
                    duration[i] = dur
                    wkey[i] = subkey(ekey, 1000 + j)
    return hit, offset, duration, wkey


@numba.njit(cache=True)
def _dropout_shift(key, sources, seqs, eligible, epoch, lam, dmin, dmax, interval, res):
    """Per record: the timestamp shift of the dropout windows covering it, summed (windows of
    one spec may overlap), and whether a window starts at it."""
    p0 = det_exp(-lam)  # once, not per record
    n = sources.shape[0]
    shift = np.zeros(n, np.int64)
    first = np.zeros(n, np.bool_)
    for i in range(n):
        if not eligible[i]:
            continue
        skey = subkey(key, sources[i])
        e = seqs[i] // epoch
        for ep in range(max(e - 1, 0), e + 1):
            ekey, count = _epoch_windows(skey, ep, lam, p0)
            for j in range(1, count + 1):
                start, dur = _window(ekey, j, ep, epoch, dmin, dmax)
                reach = dur * DROPOUT_CATCH_UP
                offset = seqs[i] - start
                if 0 <= offset < reach:
                    # a gap of dur intervals, caught up evenly: dur * interval * left / reach
                    q, r = divmod(dur * interval, reach)
                    left = q * (reach - offset) + r * (reach - offset) // reach
                    shift[i] += left // res * res
                    if offset == 0:
                        first[i] = True
    return shift, first


def eligible_sources(spec: Anomaly, key: np.uint64, source: np.ndarray) -> np.ndarray:
    if spec.sources is not None:
        return np.isin(source, np.asarray(spec.sources, dtype=np.int64))
    if spec.share >= 1.0:
        return np.ones(len(source), bool)
    u = rng.uniform_array(rng.stream_key(key, "share"), source.astype(np.uint64))
    return u < spec.share


def spec_key(seed: int, index: int, spec: Anomaly) -> np.uint64:
    return rng.stream_key(seed, "anomaly", spec.label)


def locate(seed: int, index: int, spec: Anomaly, source: np.ndarray, seq: np.ndarray) -> Hits:
    """Which of the records (source, seq) fall in a window of spec ``index``."""
    key = spec_key(seed, index, spec)
    if len(source) == 0:
        empty = np.zeros(0, np.int64)
        return Hits(np.zeros(0, bool), empty, empty, np.zeros(0, np.uint64))
    epoch = epoch_length(spec)
    dmin, dmax = spec.duration_range
    catch_up = DROPOUT_CATCH_UP if spec.kind == "dropout" else 1
    hit, offset, duration, wkey = _locate(
        key, np.ascontiguousarray(source, np.int64), np.ascontiguousarray(seq, np.int64),
        eligible_sources(spec, key, source), epoch, spec.rate * epoch, dmin, dmax, catch_up)
    return Hits(hit, offset, duration, wkey)


@numba.njit(cache=True)
def _window_draws(keys, lo, hi, direction):
    """Per window: (magnitude in [lo, hi], sign)."""
    n = keys.shape[0]
    mag = np.empty(n, np.float64)
    sign = np.empty(n, np.float64)
    for i in range(n):
        mag[i] = lo + unit(draw(keys[i], 1)) * (hi - lo)
        if direction == 0:
            sign[i] = 1.0 if draw(keys[i], 2) >> np.uint64(63) else -1.0
        else:
            sign[i] = float(direction)
    return mag, sign


@numba.njit(cache=True)
def _noise(keys, offsets):
    out = np.empty(keys.shape[0], np.float64)
    for i in range(keys.shape[0]):
        out[i] = normal(draw(keys[i], 100 + offsets[i]))
    return out


def _direction(spec: Anomaly) -> int:
    if spec.kind == "dip":
        return -1
    return {"up": 1, "down": -1, "random": 0}[spec.direction]


def magnitudes(spec: Anomaly, hits: Hits, index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lo, hi = spec.magnitude_range
    return _window_draws(np.ascontiguousarray(hits.key[index]), lo, hi, _direction(spec))


def apply_value(spec: Anomaly, field, hits: Hits, raw: np.ndarray, stuck_value=None,
                time_warped=None) -> np.ndarray:
    """Raw values with spec's change applied to the records in a window.

    ``stuck_value(index)`` gives the field's value at each window's start, ``time_warped(index,
    factor)`` recomputes a periodic signal with time scaled by ``factor`` from the window start.
    """
    index = np.flatnonzero(hits.hit)
    if len(index) == 0:
        return raw
    out = np.array(raw, dtype=np.float64 if raw.dtype.kind != "f" else raw.dtype, copy=True)
    mag, sign = magnitudes(spec, hits, index)
    kind = spec.kind
    if kind in ("spike", "dip", "level_shift"):
        out[index] = out[index] + sign * mag
    elif kind == "drift":
        ramp = (hits.offset[index] + 1) / hits.duration[index]
        out[index] = out[index] + sign * mag * ramp
    elif kind == "variance":
        out[index] = out[index] + mag * _noise(np.ascontiguousarray(hits.key[index]),
                                                hits.offset[index])
    elif kind == "stuck":
        out[index] = stuck_value(index)
    elif kind == "out_of_range":
        out[index] = np.where(sign > 0, field.max, field.min)
    elif kind == "saturation":
        out[index] = field.max if spec.level is None else spec.level
    elif kind == "frequency":
        out[index] = time_warped(index, mag)
    return out


def time_shift(schema: Schema, seed: int, source: np.ndarray, seq: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray]:
    """(timestamp shift in ns, labels of time anomalies) of records (source, seq)."""
    shift = np.zeros(len(source), np.int64)
    labels = np.zeros(len(source), np.uint64)
    interval = schema.time.interval
    res = schema.time.resolution
    for i, spec in enumerate(schema.anomalies):
        if spec.kind not in TIME_KINDS:
            continue
        if spec.kind == "dropout":  # the window's records are gone; later ones catch up
            key = spec_key(seed, i, spec)
            dmin, dmax = spec.duration_range
            epoch = epoch_length(spec)
            moved, first = _dropout_shift(
                key, np.ascontiguousarray(source, np.int64), np.ascontiguousarray(seq, np.int64),
                eligible_sources(spec, key, source), epoch, spec.rate * epoch, dmin, dmax,
                interval, res)
            shift += moved
            labels[first] |= np.uint64(1 << i)
            continue
        hits = locate(seed, i, spec, source, seq)
        index = np.flatnonzero(hits.hit)
        if len(index):  # late
            u = _window_draws(np.ascontiguousarray(hits.key[index]), 0.0, 1.0, 1)[0]
            delay = interval + u * (spec.delay - interval)
            shift[index] -= (delay // res).astype(np.int64) * res
            labels[index] |= np.uint64(1 << i)
    return shift, labels


def max_lateness(schema: Schema) -> int:
    return max([s.delay for s in schema.anomalies if s.kind == "late"] or [0])
