"""Signals: one registry from a signal kind to its parameters and one pure function.

A signal function ``fn(field, params, draws) -> values`` returns raw values for the records in
``draws``: numbers (float64 or int64) for numeric fields, bools, enum indexes, or bytes for
strings. ``telecrunch.codes.conform`` then clips and quantizes them onto the field's grid, so a
signal need not know the field's resolution. Each function must be a pure function of the
draws it is given (record identity and stream keys), never of the batch it sits in.

To add a signal: write a params model and a function, and register them in ``SIGNALS``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numba
import numpy as np
from pydantic import Field as Param

from telecrunch import rng
from telecrunch import walk as walks
from telecrunch.detmath import det_exp
from telecrunch.draws import Draws
from telecrunch.rng import MASK64
from telecrunch.schema import (
    BoolField,
    Duration,
    EnumField,
    FieldBase,
    FloatField,
    IntField,
    Numbers,
    Spec,
    StringField,
    TimestampField,
)
from telecrunch.vecmath import exp_array, sin_turns_array

NUMERIC = (IntField, FloatField, TimestampField)


# ---- parameter models ----

class ConstantParams(Spec):
    value: Any  # checked against the field by ``check_constant``


class UniformParams(Spec):
    min: int | float | None = None  # defaults: the field's range
    max: int | float | None = None


class NormalParams(Spec):
    mean: float
    std: float = Param(gt=0)


class BernoulliParams(Spec):
    p: float = Param(0.5, ge=0, le=1)


class CategoricalParams(Spec):
    weights: Numbers | None = None  # defaults to the field's weights, else equal


class SequenceParams(Spec):
    start: float | None = None  # first value of every source (default: the field's min)
    step: float = 1  # added per record of the source; wraps around past the field's max


class RandomWalkParams(Spec):
    step: float = Param(ge=0)  # standard deviation of one step
    start: float | None = None  # default: uniform in [min, max], drawn per source
    reversion: float = Param(0.0, ge=0, lt=1)  # pull towards mean per step (0: pure walk)
    mean: float | None = None  # default: middle of [min, max]
    min: float | None = None  # reflecting bounds; default: the field's range
    max: float | None = None


class SineParams(Spec):
    period: Duration  # e.g. 1d
    amplitude: float
    offset: float  # the level the sine swings around
    phase: float = 0.0  # in turns (0.25 = a quarter period)
    noise: float = Param(0.0, ge=0)  # std of added Gaussian noise


class LogNormalParams(Spec):
    mu: float  # mean of the log
    sigma: float = Param(gt=0)  # std of the log


class CounterParams(Spec):
    start: float | None = None  # first value of every source (default: the field's min)
    rate: float = Param(1.0, gt=0)  # mean increment per record; never decreases, wraps past max


class SeasonalParams(Spec):
    offset: float  # the level at time.start
    trend: float = 0.0  # change per day
    daily: float = 0.0  # amplitude of the daily cycle
    weekly: float = 0.0  # amplitude of the weekly cycle
    daily_phase: float = 0.0  # in turns of the cycle: 0.25 moves the peak from 06:00 to 00:00
    weekly_phase: float = 0.0  # in turns of the week (which starts Thursday 1970-01-01)
    noise: float = Param(0.0, ge=0)  # std of added Gaussian noise
    source_phase: float = Param(0.0, ge=0, le=1)  # spread of per-source phases, in turns


class RegimeParams(Spec):
    levels: Numbers | None = None  # the values regimes take (default: uniform in the range)
    mean_duration: int = Param(ge=1)  # mean records between changes, per source
    noise: float = Param(0.0, ge=0)  # std of added Gaussian noise


class DerivedParams(Spec):
    expr: str  # e.g. "temperature * 1.8 + 32" (see telecrunch.expr)


class TemplateParams(Spec):
    text: str  # e.g. "overheat on {source}: code {code}" (fields declared before, source, id)


class TextParams(Spec):
    """Random text: length uniform in [min_length, max_length], characters from the alphabet."""


class ChoiceParams(Spec):
    """One of the field's ``values``, drawn with the field's weights."""


# ---- helpers ----

def _bounds(field: FieldBase, lo: float | None, hi: float | None) -> tuple[float, float]:
    return (field.min if lo is None else lo), (field.max if hi is None else hi)


def _pick(weights: tuple[float, ...] | None, count: int, u: np.ndarray) -> np.ndarray:
    """Index drawn with the given weights (equal when None) from uniforms ``u``."""
    w = np.ones(count) if weights is None else np.asarray(weights, dtype=np.float64)
    cdf = np.cumsum(w)  # sequential sum: the same bits on every backend
    cdf = cdf / cdf[-1]
    return np.minimum(np.searchsorted(cdf, u, side="right"), count - 1).astype(np.int64)


# ---- signal functions ----

def constant(field: FieldBase, p: ConstantParams, d: Draws) -> np.ndarray:
    if isinstance(field, EnumField):
        return np.full(len(d), field.values.index(p.value), np.int64)
    if isinstance(field, StringField):
        return np.full(len(d), p.value.encode("ascii"), dtype=f"S{max(field.length_limit, 1)}")
    if isinstance(field, BoolField):
        return np.full(len(d), bool(p.value))
    if isinstance(field, IntField | TimestampField):
        return np.full(len(d), int(p.value), np.int64)
    return np.full(len(d), float(p.value))


def uniform(field: FieldBase, p: UniformParams, d: Draws) -> np.ndarray:
    lo, hi = _bounds(field, p.min, p.max)
    if isinstance(field, IntField | TimestampField):
        step = getattr(field, "resolution", 1)
        first = math.ceil(Fraction(lo - field.min) / step)  # grid points in [lo, hi], exactly
        last = math.floor(Fraction(hi - field.min) / step)
        codes = d.below(last - first + 1)
        # uint64 arithmetic wraps exactly like the int64 values it stands for
        value = np.uint64(field.min & MASK64) + (np.uint64(first) + codes) * np.uint64(step)
        return value.view(np.int64)
    if isinstance(field, FloatField) and field.encoding == "quantized":
        first = int(np.ceil((lo - field.min) / field.resolution - 1e-9))
        last = int(np.floor((hi - field.min) / field.resolution + 1e-9))
        codes = d.below(last - first + 1).astype(np.float64)
        return field.min + (codes + first) * field.resolution
    return lo + d.uniform() * (hi - lo)


def normal(field: FieldBase, p: NormalParams, d: Draws) -> np.ndarray:
    return p.mean + p.std * d.normal()


def bernoulli(field: FieldBase, p: BernoulliParams, d: Draws) -> np.ndarray:
    return d.uniform() < p.p


def categorical(field: EnumField, p: CategoricalParams, d: Draws) -> np.ndarray:
    return _pick(p.weights or field.weights, len(field.values), d.uniform())


def sequence(field: FieldBase, p: SequenceParams, d: Draws) -> np.ndarray:
    start = field.min if p.start is None else p.start
    if isinstance(field, IntField | TimestampField):
        # exact integers: a 64-bit range has up to 2**64 grid points, beyond float64 and int64
        step = getattr(field, "resolution", 1)
        span = (field.max - field.min) // step + 1  # grid points in the field's range
        offset = round((Fraction(start) - field.min) / step) % span
        stride = round(Fraction(p.step) / step)
        if span < 2**31:
            position = (offset + (d.seq % span) * (stride % span)) % span
        else:  # exact modular arithmetic beyond int64 products
            position = (offset + d.seq.astype(object) * stride) % span
        position = position.astype(np.uint64)
        return (np.uint64(field.min & MASK64) + position * np.uint64(step)).view(np.int64)
    step = getattr(field, "resolution", None) or 1
    if field.encoding == "quantized":
        span = field.largest_code + 1  # the grid that codes.conform rounds onto
    else:
        span = np.floor((field.max - field.min) / step + 1)
    offset = np.round((start - field.min) / step)
    stride = np.round(p.step / step)
    position = np.mod(offset + d.seq.astype(np.float64) * stride, span)
    return field.min + position * step


@dataclass(frozen=True)
class WalkPlan:
    """What a random_walk field needs besides its draws: bounds, level and coefficients."""

    lo: float
    hi: float
    mean: float
    coef: walks.WalkCoefficients

    @staticmethod
    def of(field: FieldBase, p: RandomWalkParams) -> WalkPlan:
        lo, hi = _bounds(field, p.min, p.max)
        mean = (lo + hi) / 2 if p.mean is None else p.mean
        return WalkPlan(lo, hi, mean, walks.coefficients(1.0 - p.reversion, p.step))

    def start(self, p: RandomWalkParams, start_key: np.uint64, sources: np.ndarray) -> np.ndarray:
        """Y(0) of each source: the given start, else uniform in the bounds per source."""
        if p.start is not None:
            return np.full(len(sources), p.start - self.mean)
        u = rng.uniform_array(start_key, sources.astype(np.uint64))
        return self.lo + u * (self.hi - self.lo) - self.mean


def random_walk(field: FieldBase, p: RandomWalkParams, d: Draws) -> np.ndarray:
    plan = WalkPlan.of(field, p)

    def y0(sources: np.ndarray) -> np.ndarray:
        return plan.start(p, d.stream("walk.start"), sources)

    cache = None
    if d.caches is not None and d.clock_sources <= walks.WalkCache.MAX_SOURCES:
        cache = d.caches.get(field.name)
        if cache is None:
            everyone = np.arange(d.clock_sources, dtype=np.int64)
            cache = d.caches[field.name] = walks.WalkCache(d.clock_sources, y0(everyone))
    y = walks.walk(d.stream("walk.tree"), d.stream("walk.steps"), d.source, d.seq, y0,
                   plan.coef, cache)
    return walks.reflect(plan.mean + y, plan.lo, plan.hi)


def sine(field: FieldBase, p: SineParams, d: Draws) -> np.ndarray:
    elapsed = d.time - d.clock.start
    turns = (elapsed % p.period).astype(np.float64) / p.period + p.phase
    value = p.offset + p.amplitude * sin_turns_array(turns)
    if p.noise:
        value = value + p.noise * d.normal()
    return value


def lognormal(field: FieldBase, p: LogNormalParams, d: Draws) -> np.ndarray:
    return exp_array(p.mu + p.sigma * d.normal())


def counter(field: FieldBase, p: CounterParams, d: Draws) -> np.ndarray:
    """floor(rate * (seq + u)) with u in [0, 1): never decreases, increments average ``rate``."""
    start = field.min if p.start is None else p.start
    step = getattr(field, "resolution", None) or 1
    if isinstance(field, FloatField) and field.encoding == "quantized":
        span = field.largest_code + 1  # the grid that codes.conform rounds onto
    else:  # grid points in the range, exactly (an int range needs no float division)
        span = int((field.max - field.min) // step) + 1
    ticks = np.floor(p.rate / step * (d.seq.astype(np.float64) + d.uniform("counter")))
    position = np.mod(np.round((start - field.min) / step) + ticks, span)
    return field.min + position * step


DAY_NS = 86_400_000_000_000


def seasonal(field: FieldBase, p: SeasonalParams, d: Draws) -> np.ndarray:
    elapsed = d.time - d.clock.start
    value = p.offset + p.trend * (elapsed.astype(np.float64) / DAY_NS)
    phase = 0.0
    if p.source_phase:
        phase = p.source_phase * d.per_source_uniform(d.source, "seasonal.phase")
    for amplitude, period, offset in ((p.daily, DAY_NS, p.daily_phase),
                                      (p.weekly, 7 * DAY_NS, p.weekly_phase)):
        if amplitude:
            turns = (d.time % period).astype(np.float64) / period + offset + phase
            value = value + amplitude * sin_turns_array(np.ascontiguousarray(turns))
    if p.noise:
        value = value + p.noise * d.normal()
    return value


def regime(field: FieldBase, p: RegimeParams, d: Draws) -> np.ndarray:
    levels = np.asarray(p.levels if p.levels is not None else (), dtype=np.float64)
    epoch = 4 * p.mean_duration
    source, seq = np.ascontiguousarray(d.source), np.ascontiguousarray(d.seq)
    if len(levels):
        # changes inside an epoch always move to another level; the epoch's own start keeps
        # the level 1 / len(levels) of the time: 3 + 1 / len(levels) changes on average make
        # one switch per mean_duration
        lam = 3.0 + 1.0 / len(levels)
        value = levels[_regime_level(d.stream("regime"), source, seq, epoch, lam, len(levels))]
    else:
        # every epoch starts a regime, so 3 more per epoch on average make one per mean_duration
        u = _regime_draw(d.stream("regime"), source, seq, epoch, 3.0)
        value = field.min + u * (field.max - field.min)
    if p.noise:
        value = value + p.noise * d.normal()
    return value


@numba.njit(cache=True)
def _regime_draw(key, sources, seqs, epoch, lam):
    """Per record: the uniform draw of the regime it is in. Change points per epoch of a source
    are Poisson(lam) at uniform positions; every epoch also starts a regime."""
    out = np.empty(sources.shape[0], np.float64)
    for i in range(sources.shape[0]):
        skey = rng.subkey(key, sources[i])
        e = seqs[i] // epoch
        ekey = rng.subkey(skey, e)
        k = _poisson_count(rng.unit(rng.draw(ekey, 0)), lam)
        best = e * epoch
        pick = np.uint64(0)
        for j in range(1, k + 1):
            at = e * epoch + np.int64(rng.below(rng.draw(ekey, 2 * j), epoch))
            if best <= at <= seqs[i]:
                best = at
                pick = np.uint64(j)
        out[i] = rng.unit(rng.draw(ekey, np.uint64(1) << np.uint64(40) | pick))
    return out


@numba.njit(cache=True)
def _regime_level(key, sources, seqs, epoch, lam, count):
    """Per record: the level index of the regime it is in. An epoch of a source starts at a
    random level; its Poisson(lam) change points, in order, each move to another level."""
    out = np.empty(sources.shape[0], np.int64)
    ats = np.empty(64, np.int64)
    for i in range(sources.shape[0]):
        skey = rng.subkey(key, sources[i])
        e = seqs[i] // epoch
        ekey = rng.subkey(skey, e)
        k = _poisson_count(rng.unit(rng.draw(ekey, 0)), lam)
        for j in range(1, k + 1):
            ats[j] = e * epoch + np.int64(rng.below(rng.draw(ekey, 2 * j), epoch))
        top = np.uint64(1) << np.uint64(40)
        level = np.int64(rng.below(rng.draw(ekey, top), count))
        last_at, last_j = np.int64(-1), 0
        while True:  # the change points up to this record, in (position, j) order
            next_j = 0
            for j in range(1, k + 1):
                after = ats[j] > last_at or (ats[j] == last_at and j > last_j)
                if after and ats[j] <= seqs[i] and (next_j == 0 or ats[j] < ats[next_j]):
                    next_j = j
            if next_j == 0:
                break
            step = np.int64(rng.below(rng.draw(ekey, top | np.uint64(next_j)), count - 1))
            level = (level + 1 + step) % count
            last_at, last_j = ats[next_j], next_j
        out[i] = level
    return out


@numba.njit(cache=True)
def _poisson_count(u, lam):
    p = det_exp(-lam)
    cdf = p
    k = 0
    while u >= cdf and k < 32:
        k += 1
        p = p * lam / k
        cdf += p
    return k


def derived(field: FieldBase, p: DerivedParams, d: Draws) -> np.ndarray:
    from telecrunch.expr import BUILTIN_NAMES, compile_expression

    env = dict(d.values)
    env.update(source=d.source, seq=d.seq, t=d.seconds())
    expr = compile_expression(p.expr, set(env) | set(BUILTIN_NAMES))
    return expr.evaluate(env, len(d))


def template_names(text: str) -> list[str]:
    """Placeholder names of a template, in order (raises ValueError if malformed)."""
    import string

    names = []
    for _literal, name, spec, conversion in string.Formatter().parse(text):
        if name is None:
            continue
        if not name or spec or conversion:
            raise ValueError("placeholders are plain {name}, without format or conversion")
        names.append(name)
    return names


def template(field: StringField, p: TemplateParams, d: Draws) -> np.ndarray:
    import string

    width = max(field.length_limit, 1)
    env = {"source": d.source, "seq": d.seq, "id": d.ids, **d.values}
    out = np.full(len(d), b"", dtype=object)
    for literal, name, _spec, _conv in string.Formatter().parse(p.text):
        if literal:
            out = out + literal.encode("ascii")
        if name is not None:
            out = out + np.array(_as_text(env[name], d.field_specs.get(name)), dtype=object)
    return np.array([v[:width] for v in out], dtype=f"S{width}")


def _as_text(values: np.ndarray, spec) -> list[bytes]:
    from telecrunch.codes import to_python

    if spec is None:
        return [str(int(v)).encode("ascii") for v in values]
    return [_format(to_python(spec, v), spec) for v in values]


def _format(value, spec) -> bytes:
    if isinstance(value, bool):
        return b"true" if value else b"false"
    if isinstance(value, float) and isinstance(spec, FloatField) and spec.resolution:
        decimals = max(0, -math.floor(math.log10(spec.resolution) + 1e-9))
        return f"{value:.{decimals}f}".encode("ascii")
    return str(value).encode("ascii")


def text(field: StringField, p: TextParams, d: Draws) -> np.ndarray:
    limit = field.length_limit
    symbols = np.frombuffer(field.symbols.encode("ascii"), np.uint8)
    length = field.min_length + d.below(limit - field.min_length + 1, "length").astype(np.int64)
    chars = np.zeros((len(d), max(limit, 1)), np.uint8)
    for j in range(limit):
        pick = symbols[d.below(len(symbols), f"char.{j}").astype(np.int64)]
        chars[:, j] = np.where(j < length, pick, 0)
    return chars.view(f"S{max(limit, 1)}").ravel()


def choice(field: StringField, p: ChoiceParams, d: Draws) -> np.ndarray:
    width = max(field.length_limit, 1)
    table = np.array([v.encode("ascii") for v in field.values], dtype=f"S{width}")
    return table[_pick(field.weights, len(field.values), d.uniform())]


# ---- registry ----

@dataclass(frozen=True)
class SignalKind:
    """A registered signal: its parameters, the field types it serves and its function."""

    params: type[Spec]
    types: tuple[type[FieldBase], ...]
    fn: Callable[[Any, Any, Draws], np.ndarray]
    doc: str


SIGNALS: dict[str, SignalKind] = {
    "constant": SignalKind(ConstantParams, (IntField, FloatField, TimestampField, BoolField,
                                            EnumField, StringField), constant,
                           "the same value in every record"),
    "uniform": SignalKind(UniformParams, NUMERIC, uniform,
                          "uniform over [min, max] (default: the field's range)"),
    "normal": SignalKind(NormalParams, (IntField, FloatField), normal,
                         "Gaussian around mean, clipped to the field's range"),
    "bernoulli": SignalKind(BernoulliParams, (BoolField,), bernoulli, "true with probability p"),
    "categorical": SignalKind(CategoricalParams, (EnumField,), categorical,
                              "one of the values, with weights"),
    "sequence": SignalKind(SequenceParams, NUMERIC, sequence,
                           "per-source counter from start by step, wrapping past max"),
    "random_walk": SignalKind(RandomWalkParams, (IntField, FloatField), random_walk,
                              "per-source Gaussian walk, reflecting at bounds, "
                              "optionally mean-reverting"),
    "sine": SignalKind(SineParams, (IntField, FloatField), sine,
                       "offset + amplitude * sin(2 pi (t / period + phase)) + noise"),
    "lognormal": SignalKind(LogNormalParams, (IntField, FloatField), lognormal,
                            "exp(mu + sigma * z): skewed positive values"),
    "counter": SignalKind(CounterParams, (IntField, FloatField), counter,
                          "per-source counter growing by rate per record on average, "
                          "never decreasing, wrapping past max"),
    "seasonal": SignalKind(SeasonalParams, (IntField, FloatField), seasonal,
                           "offset + trend + daily and weekly cycles + noise"),
    "regime": SignalKind(RegimeParams, (IntField, FloatField), regime,
                         "per-source level that switches at random times (steps)"),
    "derived": SignalKind(DerivedParams, (IntField, FloatField, BoolField), derived,
                          "computed from earlier fields of the record by an expression"),
    "template": SignalKind(TemplateParams, (StringField,), template,
                           "text from a template with {field} placeholders"),
    "text": SignalKind(TextParams, (StringField,), text,
                       "random characters of the alphabet, random length"),
    "choice": SignalKind(ChoiceParams, (StringField,), choice,
                         "one of the field's values, with weights"),
}


def default_signal(field: FieldBase) -> tuple[str, dict]:
    """The signal a field gets when its schema names none."""
    if isinstance(field, BoolField):
        return "bernoulli", {}
    if isinstance(field, EnumField):
        return "categorical", {}
    if isinstance(field, StringField):
        return ("choice" if field.values else "text"), {}
    return "uniform", {}
