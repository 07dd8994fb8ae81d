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

import numpy as np
from pydantic import Field as Param

from telecrunch import walk as walks
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
from telecrunch.vecmath import sin_turns_array

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


def random_walk(field: FieldBase, p: RandomWalkParams, d: Draws) -> np.ndarray:
    lo, hi = _bounds(field, p.min, p.max)
    mean = (lo + hi) / 2 if p.mean is None else p.mean
    coef = walks.coefficients(1.0 - p.reversion, p.step)

    def y0(sources: np.ndarray) -> np.ndarray:
        if p.start is not None:
            return np.full(len(sources), p.start - mean)
        return lo + d.per_source_uniform(sources, "walk.start") * (hi - lo) - mean

    y = walks.walk(d.stream("walk.tree"), d.stream("walk.steps"), d.source, d.seq, y0, coef)
    return walks.reflect(mean + y, lo, hi)


def sine(field: FieldBase, p: SineParams, d: Draws) -> np.ndarray:
    elapsed = d.time - d.clock.start
    turns = (elapsed % p.period).astype(np.float64) / p.period + p.phase
    value = p.offset + p.amplitude * sin_turns_array(turns)
    if p.noise:
        value = value + p.noise * d.normal()
    return value


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
