"""The fast path: one compiled loop that draws, quantizes and bit-packs a block of records.

The reference path (``generation`` -> ``codes`` -> ``pack``) makes a dozen passes over memory
per field. For a schema it can, this module writes the source of a kernel specialised to the
schema's layout (widths, ranges, weights are literals), compiles it once with numba (cached on
disk by the source's hash, so each worker process loads it in milliseconds), and runs it per
block: each record's kind, timestamp and fields are drawn from the same counter-based streams
with the same floating-point operations in the same order as the reference, then folded into
statistics and placed in the bit stream, batch by batch of 256 records in cache-resident
columns (one loop per field, so the compiler vectorizes what it can and the CPU overlaps the
rest), written into a reused buffer.

Random walks are made in the kernel too, from per-source state kept between blocks
(``walk.walk_batch``). Regimes, text and derived fields are made by the reference path for the
block and handed to the kernel as precomputed codes, so a schema with a few of them still gets
most of the speed. Schemas with anomalies use the
reference path. ``tests/test_fused.py`` holds the two paths to the same bytes.
"""

from __future__ import annotations

import hashlib
import importlib.util
import math
import os
import re
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
from numba.extending import register_jitable

from telecrunch import codes as conv
from telecrunch import rng
from telecrunch.codes import conform
from telecrunch.exactconv import SMALL as SMALL_CODES
from telecrunch.generation import (
    KindMaker,
    apply_triggers,
    check_range,
    kind_codes,
    positions_of_ids,
)
from telecrunch.interleave import first_seq
from telecrunch.layout import Layout, compile_layout
from telecrunch.schema import (
    BoolField,
    EnumField,
    FieldBase,
    FloatField,
    IntField,
    Schema,
    StringField,
    TimestampField,
)
from telecrunch.stats import field_summary, merge_field

FUSED_SIGNALS = {"constant", "uniform", "normal", "lognormal", "bernoulli", "categorical",
                 "sequence", "counter", "sine", "seasonal", "random_walk"}
DAY_NS = 86_400_000_000_000
PER_SOURCE_TABLE = 1 << 20  # up to this many sources, per-source draws come from a table
BATCH = 256  # records per batch: its columns of codes stay in the first-level cache
HIST_UNROLLED = 8  # enums up to this many values are drawn and tallied with compares (vectorizable)


def _lit(x: Any) -> str:
    """A Python literal that reads back to exactly ``x``."""
    if isinstance(x, bool):
        return repr(x)
    if isinstance(x, int | np.integer):
        return str(int(x))
    x = float(x)
    if math.isinf(x):
        return "np.inf" if x > 0 else "-np.inf"
    return repr(x)


def _u64(x: int) -> str:
    return f"np.uint64({int(x) & ((1 << 64) - 1)})"


def _below(h: str, n: int) -> str:
    """``rng.below(h, n)`` for a literal ``n``, exactly, in the cheapest form: a shift for a
    power of two, and below 2**32 from two 32x32-bit products, which vector units have (the
    128-bit product keeps a loop scalar)."""
    if n == 1:
        return "np.uint64(0)"
    if n & (n - 1) == 0:
        return f"({h} >> np.uint64({64 - n.bit_length() + 1}))"
    if n < 1 << 32:
        return (f"((({h} >> np.uint64(32)) * {_u64(n)} + ((({h} & np.uint64(0xFFFFFFFF)) * "
                f"{_u64(n)}) >> np.uint64(32))) >> np.uint64(32))")
    return f"below({h}, {_u64(n)})"


def _base_ticks(seq: str, src: str, it: int, count: int) -> str:
    """A record's ticks before jitter: its interval's start and its source's offset in it
    (unsigned division, both sides >= 0: numba's signed // adds floor corrections)."""
    if it % count == 0:  # each source's offset in the interval, exactly
        return f"{seq} * {it} + {src} * {it // count}"
    return f"{seq} * {it} + np.int64(np.uint64({src} * {it}) // {_u64(count)})"


def _unit_cut(p: float) -> int:
    """The least ``k`` with ``k / 2**53 >= p`` (``p`` finite, as the schema checks them).

    ``unit(h)`` is ``k / 2**53`` exactly, ``k = h >> 11`` below 2**53 (its conversion and
    scaling round nothing), so ``unit(h) < p`` exactly when ``k < _unit_cut(p)``: a compare of
    integers, where the double takes a 64-bit conversion that vector units lack."""
    return math.ceil(Fraction(p) * 2**53)


def _unit_bits(h: str) -> str:
    """The 53 bits ``unit`` scales, as an int64 (compared with _unit_cut's integers)."""
    return f"np.int64({h} >> np.uint64(11))"


_DRAW = re.compile(r"draw\((key\d+), rid\)")


def _stepped(body: list[str], ind: str) -> tuple[list[str], list[str]]:
    """(statements before the loop, body) with each ``draw(keyN, rid)`` of a loop over
    consecutive IDs replaced by mix64 of a counter stepped by GOLDEN: the same bits as
    draw, without its multiply (a running sum the compiler vectorizes)."""
    keys = sorted(set(_DRAW.findall("\n".join(body))))
    if not keys:
        return [], body
    body = [_DRAW.sub(lambda m: f"mix64(z{m.group(1)})", line) for line in body]
    before = [f"{ind}z{key} = {key} + np.uint64(first_id + b0) * GOLDEN" for key in keys]
    return before, body + [f"{ind}    z{key} += GOLDEN" for key in keys]


def _drop_unread(column: str, head: list[str], rest: list[str]) -> tuple[list[str], list[str]]:
    """(head, rest) without the batch array ``column``_b where nothing after the first loop
    reads it but the field loops' standard loads: a store no one loads still costs (about 5%
    of the reference kernel, measured), and the compiler cannot drop a store to an array."""
    load = f"{column} = {column}_b[ru]"
    used = re.compile(rf"\b{column}(_b)?\b")
    if any(used.search(line) for line in rest if line.strip() != load):
        return head, rest
    store = f"{column}_b[ru] = "
    return ([line for line in head if not line.strip().startswith(store)],
            [line for line in rest if line.strip() != load])


_NORMAL = re.compile(r"normal\(mix64\((zkey\d+)\)\)")


def _batched_normals(before: list[str], body: list[str],
                     ind: str) -> tuple[list[str], list[str], int]:
    """A stepped loop's normal draws made for the whole batch before it, by ``std_normals``
    into rows of ``gz`` (the same bits, about twice as fast as one by one: see
    telecrunch.gauss); returns (before, body, rows of gz used)."""
    found = sorted(set(_NORMAL.findall("\n".join(body))))
    if not found:
        return before, body, 0
    row = {z: g for g, z in enumerate(found)}
    body = [_NORMAL.sub(lambda m: f"gz[{row[m.group(1)]}, ru]", line) for line in body]
    steps = {f"{ind}    {z} += GOLDEN" for z in found}
    rest = "\n".join(line for line in body if line not in steps)
    # a counter no other draw reads need not step
    body = [line for line in body
            if line not in steps or re.search(rf"\b{line.split()[0]}\b", rest)]
    calls = [f"{ind}std_normals({z}, m, gz[{g}], 0, gbits)" for z, g in row.items()]
    return before + calls, body, len(found)


@dataclass
class _Kernel:
    """What the code generator collects while walking the schema."""

    keys: list[tuple] = field(default_factory=list)  # how to derive each key from the seed
    consts: list[str] = field(default_factory=list)  # module-level constants
    slots: list[tuple] = field(default_factory=list)  # column, spec, kind, integer, exact
    hists: list[tuple[str, int]] = field(default_factory=list)  # (column, bins)
    precomputed: list[str] = field(default_factory=list)  # fixed columns made by reference
    strings: list[str] = field(default_factory=list)  # string columns made by reference
    walks: list[FieldBase] = field(default_factory=list)  # random_walk fields (state rows)
    before: list[str] = field(default_factory=list)  # statements before the next field loop
    curves: list[str] = field(default_factory=list)  # sine and seasonal fields (rows of curves)
    sources: int = 1
    resolution: int = 1  # of the time column, in ns
    constants: list[tuple] = field(default_factory=list)  # per-source draws: (dist, key spec)

    def per_source(self, dist: str, *spec) -> str:
        """A draw that depends only on the source (an offset, a phase): looked up in a table
        made once per seed where sources are few enough, else drawn in place."""
        if self.sources > PER_SOURCE_TABLE:
            return f"{dist}(draw({self.key(*spec)}, np.uint64(src)))"
        entry = (dist, spec)
        if entry not in self.constants:
            self.constants.append(entry)
        return f"psrc[{self.constants.index(entry)}, np.uint64(src)]"

    def key(self, *spec) -> str:
        if spec not in self.keys:
            self.keys.append(spec)
        return f"key{self.keys.index(spec)}"  # a local: loaded once, kept in a register

    def const(self, name: str, value: np.ndarray) -> str:
        self.consts.append(f"{name} = np.array([{', '.join(_lit(v) for v in value)}])")
        return name

    def slot(self, column: str, spec: FieldBase | None, kind: int | None,
             integer: bool, exact: bool = True) -> int:
        """A numeric statistic of the records of ``kind`` (None: every record): integer
        sums when the values' deviations cannot overflow an int64 sum of squares; min and
        max as int64 (``ext``) when ``exact``, the values being integer codes."""
        self.slots.append((column, spec, kind, integer, exact))
        return len(self.slots) - 1

    def hist(self, column: str, bins: int) -> int:
        """A histogram row; row 0 is reserved for the kinds."""
        self.hists.append((column, bins))
        return len(self.hists)


def fusable(field: FieldBase, sources: int = 1) -> bool:
    """Whether the kernel makes this field itself (else it is precomputed)."""
    kind = field.signal.kind
    if kind not in FUSED_SIGNALS or isinstance(field, StringField):
        return False
    if kind == "random_walk":
        from telecrunch.signals import WalkPlan
        from telecrunch.walk import WalkCache

        if sources > WalkCache.MAX_SOURCES:  # its state is a row per source
            return False
        plan = WalkPlan.of(field, field.signal.params)
        width = plan.hi - plan.lo
        if not (width > 0 and math.isfinite(2.0 * width)):
            return False  # the degenerate folds of walk.reflect
    if isinstance(field, IntField | TimestampField):
        span = (field.max - field.min) // getattr(field, "resolution", 1)
        if span >= 2**52 or not -2**62 < field.min < 2**62 or not -2**62 < field.max < 2**62:
            return False
        if kind == "sequence" and span + 1 >= 2**31:
            return False
        if isinstance(field, TimestampField) and kind not in ("uniform", "constant", "sequence"):
            return False
    if isinstance(field, FloatField) and field.encoding != "quantized" and kind in (
            "sequence", "counter"):
        return False
    return True


def plan_supported(schema: Schema) -> bool:
    """Whether the fast path can make this schema's blocks at all."""
    return not schema.anomalies and schema.sources.interleave in ("round_robin", "blocked")


# ---- code generation ----

def _exact_grid(f: FieldBase) -> bool:
    """Whether ``min + k * resolution`` maps back to ``k`` through conform/to_code for every
    code ``k``: the rounding error of those steps stays below 1/64 of a step when the
    field's bounds are under 2**45 steps from zero (and codes under 2**48, always true)."""
    if isinstance(f, FloatField) and f.encoding == "quantized":
        return max(abs(f.min), abs(f.max)) / f.resolution < 2.0**45
    return False


def _conform_code(k: _Kernel, f: FieldBase, raw: str, out: list[str], ind: str) -> None:
    """Statements turning float ``raw`` into ``c`` (uint64 code), with exactly the operations
    of codes.conform and codes.to_code (skipping steps proven to be the identity)."""
    if isinstance(f, IntField | TimestampField):
        step = getattr(f, "resolution", 1)
        largest = (f.max - f.min) // step
        scaled = f"({raw} - {_lit(f.min)})" + (f" / {_lit(step)}" if step != 1 else "")
        if largest < SMALL_CODES:  # the same codes, clipped first: branch-free, vectorizable
            out += [f"{ind}q = min(max(np.rint({scaled}), 0.0), {_lit(float(largest))})",
                    f"{ind}c = small_code(q)"]
            return
        out += [f"{ind}q = np.rint({scaled})",
                f"{ind}if q >= {_lit(float(largest))}:",
                f"{ind}    c = {_u64(largest)}",
                f"{ind}else:",
                f"{ind}    c = np.uint64(np.int64(max(q, 0.0)))"]
    elif isinstance(f, FloatField) and f.encoding == "quantized":
        out.append(f"{ind}q = min(max(np.rint(({raw} - {_lit(f.min)}) / {_lit(f.resolution)}),"
                   f" 0.0), {_lit(float(f.largest_code))})")
        if _exact_grid(f):
            small = f.largest_code < SMALL_CODES
            out.append(f"{ind}c = small_code(q)" if small else f"{ind}c = np.uint64(np.int64(q))")
        else:
            out += [f"{ind}p = {_lit(f.min)} + q * {_lit(f.resolution)}",
                    f"{ind}c = np.uint64(np.int64(np.rint((p - {_lit(f.min)}) / "
                    f"{_lit(f.resolution)})))"]
    elif isinstance(f, FloatField):
        clip = f"min(max({raw}, {_lit(f.min)}), {_lit(f.max)})"
        if f.encoding == "binary32":
            out += [f"{ind}f32[0] = np.float32({clip})", f"{ind}c = np.uint64(u32[0])",
                    f"{ind}x = np.float64(f32[0])"]
        else:
            out += [f"{ind}f64[0] = {clip}", f"{ind}c = u64[0]", f"{ind}x = f64[0]"]
    else:
        raise AssertionError(f.type)


def _field_code(k: _Kernel, f: FieldBase, out: list[str], ind: str,
                batch: tuple[str, str, str, str]) -> None:
    """Statements setting ``c`` (the field's code) and, for numeric stats, ``x``, in a loop
    over some of the batch's records, named by ``batch``: the array of their indexes, their
    count, the loop's position index, the index of the record at position ``r``. Statements
    to run before that loop (at the batch's indentation) go to ``k.before``."""
    sig = f.signal.kind
    p = f.signal.params
    name = f.name
    fkey = ("field", name)
    raw_float = True  # whether ``raw`` must go through _conform_code
    if sig == "constant" and getattr(f, "per_source", None) is not None:
        out.append(f"{ind}raw = {_lit(float(p.value))}")  # varied per source below
    elif sig == "constant":
        value = conform(f, np.array([p.value if not isinstance(f, EnumField)
                                     else f.values.index(p.value)]))
        code = int(conv.to_code(f, value)[0])
        out.append(f"{ind}c = {_u64(code)}")
        raw_float = False
    elif isinstance(f, BoolField):  # bernoulli
        h = f"draw({k.key(*fkey, 'uniform')}, rid)"
        out.append(f"{ind}c = np.uint64(1) if {_unit_bits(h)} < {_unit_cut(p.p)} "
                   "else np.uint64(0)")
        raw_float = False
    elif isinstance(f, EnumField):  # categorical
        w = np.ones(len(f.values)) if (p.weights or f.weights) is None else \
            np.asarray(p.weights or f.weights, dtype=np.float64)
        cdf = np.cumsum(w)
        cdf = cdf / cdf[-1]
        h = f"draw({k.key(*fkey, 'uniform')}, rid)"
        if len(cdf) <= HIST_UNROLLED:  # the CDF rises: entries <= u = first entry > u
            out += [f"{ind}k53 = {_unit_bits(h)}",
                    f"{ind}j = " + " + ".join(f"np.int64(k53 >= {_unit_cut(float(e))})"
                                              for e in cdf)]
        else:  # many values: a search of the CDF's table
            table = k.const(f"CDF_{name}", cdf)
            out += [f"{ind}u = unit({h})",
                    f"{ind}j = 0",
                    f"{ind}while j < {len(cdf)} and {table}[j] <= u:",
                    f"{ind}    j += 1"]
        out.append(f"{ind}c = np.uint64(min(j, {len(f.values) - 1}))")
        raw_float = False
    elif sig == "uniform" and isinstance(f, IntField | TimestampField):
        step = getattr(f, "resolution", 1)
        lo = f.min if p.min is None else p.min
        hi = f.max if p.max is None else p.max
        from fractions import Fraction

        first = math.ceil(Fraction(lo - f.min) / step)
        last = math.floor(Fraction(hi - f.min) / step)
        out += [f"{ind}h = draw({k.key(*fkey, 'below')}, rid)",
                f"{ind}c = {_u64(first)} + {_below('h', last - first + 1)}"]
        raw_float = False
        if getattr(f, "per_source", None) is not None:  # reference turns the ints into floats
            out.append(f"{ind}raw = np.float64(np.int64({_u64(f.min)} + c * {_u64(step)}))")
            raw_float = True
    elif sig == "uniform" and isinstance(f, FloatField) and f.encoding == "quantized":
        lo = f.min if p.min is None else p.min
        hi = f.max if p.max is None else p.max
        first = int(np.ceil((lo - f.min) / f.resolution - 1e-9))
        last = int(np.floor((hi - f.min) / f.resolution + 1e-9))
        out.append(f"{ind}h = draw({k.key(*fkey, 'below')}, rid)")
        draw_ = _below("h", last - first + 1)
        if _exact_grid(f) and getattr(f, "per_source", None) is None:
            out.append(f"{ind}c = {_u64(first)} + {draw_}")  # the grid round trip is exact
            raw_float = False
        else:
            out += [f"{ind}cf = np.float64(np.int64({draw_}))",
                    f"{ind}raw = {_lit(f.min)} + (cf + {_lit(first)}) * {_lit(f.resolution)}"]
    elif sig == "uniform":  # binary floats
        lo = f.min if p.min is None else p.min
        hi = f.max if p.max is None else p.max
        out.append(f"{ind}raw = {_lit(lo)} + unit(draw({k.key(*fkey, 'uniform')}, rid)) * "
                   f"{_lit(hi - lo)}")
    elif sig == "normal":
        out.append(f"{ind}raw = {_lit(p.mean)} + {_lit(p.std)} * normal(draw("
                   f"{k.key(*fkey, 'normal')}, rid))")
    elif sig == "lognormal":
        out.append(f"{ind}raw = det_exp({_lit(p.mu)} + {_lit(p.sigma)} * normal(draw("
                   f"{k.key(*fkey, 'normal')}, rid)))")
    elif sig == "sequence" and isinstance(f, IntField | TimestampField):
        from fractions import Fraction

        step = getattr(f, "resolution", 1)
        span = (f.max - f.min) // step + 1
        start = f.min if p.start is None else p.start
        offset = round((Fraction(start) - f.min) / step) % span
        stride = round(Fraction(p.step) / step)
        out.append(f"{ind}c = np.uint64(({_lit(offset)} + (seq % {span}) * {stride % span}) % "
                   f"{span})")
        raw_float = False
    elif sig == "sequence":  # quantized floats
        span = float(f.largest_code + 1)
        start = f.min if p.start is None else p.start
        offset = float(np.round((start - f.min) / f.resolution))
        stride = float(np.round(p.step / f.resolution))
        out += [f"{ind}mo = {_mod_of_whole(span)}({_lit(offset)} + np.float64(seq) * "
                f"{_lit(stride)}, {_lit(span)})",
                f"{ind}raw = {_lit(f.min)} + mo * {_lit(f.resolution)}"]
    elif sig == "counter":
        step = getattr(f, "resolution", None) or 1
        if isinstance(f, FloatField):
            span = f.largest_code + 1
        else:
            span = int((f.max - f.min) // step) + 1
        start = f.min if p.start is None else p.start
        out += [f"{ind}tick = np.floor({_lit(p.rate / step)} * (np.float64(seq) + unit(draw("
                f"{k.key(*fkey, 'counter')}, rid))))",
                f"{ind}mo = {_mod_of_whole(span)}("
                f"{_lit(float(np.round((start - f.min) / step)))} + tick, {_lit(float(span))})",
                f"{ind}raw = {_lit(f.min)} + mo * {_lit(step)}"]
    elif sig == "random_walk":
        from telecrunch.signals import WalkPlan

        plan = WalkPlan.of(f, p)
        coef = plan.coef
        w = len(k.walks)
        k.walks.append(f)
        width = float(plan.hi - plan.lo)  # as walk.reflect: int bounds rounded once
        # one call per batch makes the values of the records the loop reads (see walk_batch)
        k.before.append(
            f"walk_batch({k.key(*fkey, 'walk.tree')}, {k.key(*fkey, 'walk.steps')}, {w}, 0, "
            f"src_b, seq_b, {batch[0]}, {batch[1]}, wys[{w}], wy0, wblock, wright, wrows, "
            f"wbounds, wtrail, {_lit(coef.root_a)}, {_lit(coef.root_c)}, "
            f"{k.const(f'TREEA_{name}', coef.tree_a)}, {k.const(f'TREEC_{name}', coef.tree_c)}, "
            f"{k.const(f'BRIDGE_{name}', coef.bridge)}, {_lit(coef.phi)}, {_lit(coef.sigma)}, "
            "wpath, wbits)")
        out += [f"{ind}y = wys[{w}, {batch[2]}]",
                f"{ind}raw = reflect_one({_lit(plan.mean)} + y, {_lit(float(plan.lo))}, "
                f"{_lit(width)}, {_lit(2.0 * width)})"]
    elif sig in ("sine", "seasonal"):
        _curve_code(k, f, batch, out, ind)
    else:  # pragma: no cover - fusable() admits nothing else
        raise AssertionError(sig)
    if sig in ("sine", "seasonal") and p.noise:  # noise on the curve, as the reference adds it
        out.append(f"{ind}raw = raw + {_lit(p.noise)} * normal(draw("
                   f"{k.key(*fkey, 'normal')}, rid))")
    variation = getattr(f, "per_source", None)
    if variation is not None and raw_float:
        if variation.scale:
            out.append(f"{ind}raw = raw * (1.0 + {_lit(variation.scale)} * "
                       f"{k.per_source('normal', 'per_source', name, 'scale')})")
        if variation.offset:
            out.append(f"{ind}raw = raw + {_lit(variation.offset)} * "
                       f"{k.per_source('normal', 'per_source', name, 'offset')}")
    if raw_float:
        _conform_code(k, f, "raw", out, ind)


def _curve_code(k: _Kernel, f: FieldBase, batch: tuple[str, str, str, str], out: list[str],
                ind: str) -> None:
    """A sine or seasonal field's curve (before its noise), made in a loop of its own before
    the field's: with no normal draw (a table lookup, a branch to the tail) beside it, the
    compiler vectorizes the sines. Where the batch spans under a period, each record's
    position in a cycle is its distance from the batch's first time plus that time's
    position, less one period when past it: the same integers as ``%`` without a 64-bit
    division per record, which vector code lacks."""
    sig = f.signal.kind
    p = f.signal.params
    row = len(k.curves)
    k.curves.append(f.name)
    if sig == "sine":  # (origin, period, phase offset) of each cycle
        cycles = [("START", p.period, p.phase)]
    else:
        cycles = [("0", period, offset) for amplitude, period, offset in
                  ((p.daily, DAY_NS, p.daily_phase), (p.weekly, 7 * DAY_NS, p.weekly_phase))
                  if amplitude]
    amplitudes = [p.amplitude] if sig == "sine" else [a for a in (p.daily, p.weekly) if a]
    lines = [f"raw = {_lit(p.offset)}"]
    if sig == "seasonal" and p.trend:
        lines.append(f"raw = raw + {_lit(p.trend)} * (np.float64(ts - START) / {_lit(DAY_NS)})")
    elif sig == "seasonal":  # offset + 0.0 * (elapsed >= 0): the offset, with -0.0 made 0.0
        lines.append("raw = raw + 0.0")
    phase = ""
    if sig == "seasonal" and p.source_phase:
        lines.append(f"phase = {_lit(p.source_phase)} * "
                     f"{k.per_source('unit', 'field', f.name, 'seasonal.phase')}")
        phase = " + phase"
    res = k.resolution

    def loop(fast: bool) -> list[str]:
        body = [f"ru = np.uint64({batch[3]})", "src = src_b[ru]", "ts = ts_b[ru]", *lines]
        for c, ((origin, period, offset), amplitude) in enumerate(
                zip(cycles, amplitudes, strict=True)):
            if fast:
                body += [f"e{c} = ts - tmin + cyc{c}",
                         f"e{c} = e{c} - {period} if e{c} >= {period} else e{c}"]
            else:
                body.append(f"e{c} = (ts - {origin}) % {period}")
            body += [f"turns = np.float64(e{c}) / {_lit(period)} + {_lit(offset)}{phase}",
                     f"raw = raw + {_lit(amplitude)} * det_sin_turns(turns)"]
        body.append(f"curves[{row}, np.uint64(r)] = raw")
        return [f"for r in range({batch[1]}):", *[f"    {line}" for line in body]]

    shortest = min(period for _, period, _ in cycles) if cycles else 0
    if cycles and shortest // res > 0:
        k.before += [f"if thi - tlo < {shortest // res}:  # the batch spans under a period",
                     f"    tmin = START + (base_ticks + tlo) * {res}",
                     *[f"    cyc{c} = (tmin - {origin}) % {period}"
                       for c, (origin, period, _) in enumerate(cycles)],
                     *[f"    {line}" for line in loop(True)], "else:",
                     *[f"    {line}" for line in loop(False)]]
    else:
        k.before += loop(False)
    out.append(f"{ind}raw = curves[{row}, {batch[2]}]")


def _stat_lines(k: _Kernel, f: FieldBase, kind: int, ind: str) -> list[str]:
    """Fold the field's code (in ``c``) into its statistics."""
    if isinstance(f, EnumField | BoolField):
        bins = 2 if isinstance(f, BoolField) else len(f.values)
        return [f"{ind}hist[{k.hist(f.name, bins)}, np.int64(c)] += 1"]
    if isinstance(f, FloatField) and f.encoding != "quantized":  # scaled: squares stay finite
        j = k.slot(f.name, f, kind, False, exact=False)
        return _fold(j, f"x * {_lit(1.0 / _float_scale(f))}", "t == 0", ind, "np.float64")
    j = k.slot(f.name, f, kind, f.width <= 24)
    return _fold(j, "np.int64(c)", "t == 0", ind, _sum_type(k, j))


def _float_scale(f: FloatField) -> float:
    """A power of two at least the field's largest magnitude."""
    from telecrunch.stats import _pow2_at_least

    return _pow2_at_least(max(abs(f.min), abs(f.max)))


def _fold(j: int, x: str, first: str | None, ind: str, typ: str) -> list[str]:
    """min and max of x; sum and sum of squares of x minus a batch's value ``kb`` (integers
    when exact), merged per batch with Chan's formula: no cancellation however far from zero.
    ``kb`` is the first x (``first``: the condition naming it), else set before the loop."""
    lines = [f"{ind}x{j} = {x}"]
    if first is not None:
        lines += [f"{ind}if {first}:", f"{ind}    kb{j} = {typ}(x{j})"]
    return lines + [f"{ind}d{j} = x{j} - kb{j}",
                    f"{ind}lo{j} = min(lo{j}, x{j})",
                    f"{ind}hi{j} = max(hi{j}, x{j})",
                    f"{ind}s{j} += d{j}",
                    f"{ind}q{j} += {_square(f'd{j}', typ)}"]


def _square(d: str, typ: str) -> str:
    """d * d; for integer sums d is under 2**31 in magnitude (codes of at most 24 bits, time
    offsets cut in halves of 27 bits), and as a product of sign-extended 32-bit values the compiler
    squares it with one vector instruction instead of an emulated 64-bit multiply."""
    if typ != "np.int64":
        return f"{d} * {d}"
    return f"np.int64(np.int32({d})) * np.int64(np.int32({d}))"


def _reset(k: _Kernel, j: int, ind: str) -> list[str]:
    """Start slot j's per-batch accumulators (locals only while its loop runs)."""
    _, _, _, integer, exact = k.slots[j]
    ends = "np.int64(9223372036854775807), np.int64(-9223372036854775807 - 1)" if exact \
        else "np.float64(np.inf), np.float64(-np.inf)"
    typ = _sum_type(k, j)
    return [f"{ind}lo{j}, hi{j} = {ends}",
            f"{ind}s{j} = {typ}(0); q{j} = {typ}(0); kb{j} = {typ}(0)"]


def _sum_type(k: _Kernel, j: int) -> str:
    return "np.int64" if k.slots[j][3] else "np.float64"


def _merge(k: _Kernel, j: int, nb: str, ind: str) -> list[str]:
    """Fold slot j's batch into its running (count, min, max, mean, m2) in ``stats[j]``
    (Chan's formula), min and max of integer codes into ``ext[j]`` (doubles would round
    those beyond 2**53)."""
    i2 = ind + "    "
    ends = "ext" if k.slots[j][4] else "stats"
    first = 0 if k.slots[j][4] else 1
    return [f"{ind}nb = np.float64({nb})",
            f"{ind}if nb > 0:",
            f"{i2}{ends}[{j}, {first}] = min({ends}[{j}, {first}], lo{j})",
            f"{i2}{ends}[{j}, {first + 1}] = max({ends}[{j}, {first + 1}], hi{j})",
            f"{i2}mb = np.float64(kb{j}) + np.float64(s{j}) / nb",
            f"{i2}m2b = np.float64(q{j}) - np.float64(s{j}) * np.float64(s{j}) / nb",
            f"{i2}tot = stats[{j}, 0] + nb",
            f"{i2}delta = mb - stats[{j}, 3]",
            f"{i2}stats[{j}, 3] += delta * nb / tot",
            f"{i2}stats[{j}, 4] += m2b + delta * delta * stats[{j}, 0] * nb / tot",
            f"{i2}stats[{j}, 0] = tot"]


def _put(width: int, value: str, ind: str) -> list[str]:
    """Append a value that fits ``width`` bits (telecrunch.pack._put_masked, written out:
    a call passing the ``out`` array costs atomic reference counting per record; an unsigned
    index, as numba adds negative-index handling to a signed one: 8% of the reference kernel)."""
    if width == 0:
        return []
    if width == 64:  # a whole word: the current one completes, the fill stays where it is
        return [f"{ind}v = {value}",
                f"{ind}out[np.uint64(word)] = acc | (v << np.uint64(fill))",
                f"{ind}acc = (v >> np.uint64(63 - fill)) >> np.uint64(1)",
                f"{ind}word += 1"]
    return [f"{ind}v = {value}",
            f"{ind}acc = acc | (v << np.uint64(fill))",
            f"{ind}spill = (v >> np.uint64(63 - fill)) >> np.uint64(1)",
            f"{ind}out[np.uint64(word)] = acc",
            f"{ind}fill += {width}",
            f"{ind}if fill >= 64:",
            f"{ind}    word += 1",
            f"{ind}    acc = spill",
            f"{ind}    fill -= 64"]


def _frame_words(klayout, values: list[str]) -> list[str] | None:
    """Expressions of a record's frame as 64-bit words (None when it holds strings, whose
    offsets vary): fixed offsets, so its slots are combined with constant shifts."""
    if any(slot.is_string for slot in klayout.slots):
        return None
    parts: list[list[str]] = [[] for _ in range((klayout.fixed_bits + 63) // 64)]
    offset = 0
    for slot, value in zip(klayout.slots, values, strict=True):
        if slot.width:
            w, shift = divmod(offset, 64)
            parts[w].append(f"(np.uint64({value}) << np.uint64({shift}))" if shift else
                            f"np.uint64({value})")
            if shift + slot.width > 64:
                parts[w + 1].append(f"(np.uint64({value}) >> np.uint64({64 - shift}))")
        offset += slot.width
    return [" | ".join(terms) or "np.uint64(0)" for terms in parts]


def _place_record(klayout, values: list[str], ind: str,
                  words: list[str] | None = None) -> list[str]:
    """Statements appending one record's slots to the bit stream: a word at a time when its
    frame has fixed offsets (``words``: their expressions, default from ``_frame_words``),
    else slot by slot."""
    words = words or _frame_words(klayout, values)
    if words is not None:
        total = klayout.fixed_bits
        lines = [line for w, word in enumerate(words)
                 for line in _put(min(64, total - 64 * w), word, ind)]
        return lines or [f"{ind}pass"]
    lines = []
    for slot, value in zip(klayout.slots, values, strict=True):
        if slot.is_string:
            s = value.removeprefix("STRING")
            lines.append(f"{ind}length = str_len[{s}, np.uint64(i)]")
            lines += _put(slot.width, "np.uint64(length)", ind)
            lines.append(f"{ind}for j in range(length):")
            lines += _put(slot.char_bits, f"np.uint64(str_sym[{s}, np.uint64(i), j])", ind + "    ")
        else:
            lines += _put(slot.width, f"np.uint64({value})", ind)
    return lines


def _batch_stats(k: _Kernel, f: FieldBase, kind: int, row: int, ind: str) -> list[str]:
    """A loop folding a dense field's codes (``codes[row]``; ``xs[row]`` for binary floats)
    into its statistics. Records of other kinds hold a copy of the first record of ``kind``
    (``f0``): they add nothing to the sums around it nor to min and max, so the loop needs no
    mask; the tallies of enums and bools take them back out (``others`` of them)."""
    i2 = ind + "    "
    loop = [f"{ind}for r in range(m):", f"{i2}ru = np.uint64(r)"]
    if isinstance(f, BoolField):
        h = k.hist(f.name, 2)
        return [f"{ind}t1 = np.int64(0)", *loop, f"{i2}t1 += np.int64(codes[{row}, ru])",
                f"{ind}t1 -= others * np.int64(codes[{row}, f0])",
                f"{ind}hist[{h}, 1] += t1", f"{ind}hist[{h}, 0] += cnt[{kind}] - t1"]
    if isinstance(f, EnumField):
        bins = len(f.values)
        h = k.hist(f.name, bins)
        if bins > HIST_UNROLLED:
            lines = loop + [f"{i2}hist[{h}, np.int64(codes[{row}, ru])] += 1"]
        else:
            lines = [f"{ind}t{v} = np.int64(0)" for v in range(bins)] + loop + \
                [f"{i2}c = codes[{row}, ru]"] + \
                [f"{i2}t{v} += np.int64(c == np.uint64({v}))" for v in range(bins)] + \
                [f"{ind}hist[{h}, {v}] += t{v}" for v in range(bins)]
        return lines + [f"{ind}hist[{h}, np.int64(codes[{row}, f0])] -= others"]
    if isinstance(f, FloatField) and f.encoding != "quantized":  # scaled: squares stay finite
        j = k.slot(f.name, f, kind, False, exact=False)
        value = f"xs[{row}, ru] * {_lit(1.0 / _float_scale(f))}"
    else:
        j = k.slot(f.name, f, kind, f.width <= 24)
        value = f"np.int64(codes[{row}, ru])"
    typ = _sum_type(k, j)  # kb, set before the loop, is typed here, not by its value
    return _reset(k, j, ind) + [f"{ind}ru = np.uint64(f0)", f"{ind}kb{j} = {typ}({value})"] + \
        loop + _fold(j, value, None, i2, typ) + _merge(k, j, f"cnt[{kind}]", ind)


def _time_stats(k: _Kernel, column: str, ind: str) -> list[str]:
    """Statistics of the batch's time offsets: exact integer sums around the smallest. A
    batch of the reference workload spans about 2**28 ticks (256 sources 1 ms apart, in ns),
    too many to square in 64 bits, so each offset is cut in two halves of 27 bits whose
    products are summed apart: d**2 = hi**2 * 2**54 + hi * lo * 2**28 + lo**2, each sum
    below 2**62 and the squares made by the vector instruction of ``_square``. Batches
    spanning 2**54 ticks or more take sums of doubles (a dependency chain per record)."""
    j = k.slot(column, None, None, False)
    i2, i3 = ind + "    ", ind + "        "
    half = 27
    assert 2 * half + (BATCH - 1).bit_length() <= 62  # the sums of products stay exact
    low = f"np.int64({(1 << half) - 1})"
    return _reset(k, j, ind) + [
        f"{ind}tlo = delta_b[0]",
        f"{ind}thi = tlo",
        f"{ind}for r in range(m):",
        f"{i2}tlo = min(tlo, delta_b[np.uint64(r)])",
        f"{i2}thi = max(thi, delta_b[np.uint64(r)])",
        f"{ind}lo{j} = tlo + tshift",  # from the origin of the statistics (FusedBlocks.begin)
        f"{ind}hi{j} = thi + tshift",
        f"{ind}kb{j} = np.float64(tlo + tshift)",
        f"{ind}if thi - tlo < {1 << 2 * half}:",
        f"{i2}si = np.int64(0)",
        f"{i2}qhh = np.int64(0)",
        f"{i2}qhl = np.int64(0)",
        f"{i2}qll = np.int64(0)",
        f"{i2}for r in range(m):",
        f"{i3}dt = delta_b[np.uint64(r)] - tlo",
        f"{i3}dh = dt >> np.int64({half})",
        f"{i3}dl = dt & {low}",
        f"{i3}si += dt",
        f"{i3}qhh += {_square('dh', 'np.int64')}",
        f"{i3}qhl += np.int64(np.int32(dh)) * np.int64(np.int32(dl))",
        f"{i3}qll += {_square('dl', 'np.int64')}",
        f"{i2}s{j} = np.float64(si)",
        f"{i2}q{j} = np.float64(qhh) * {float(1 << 2 * half)!r} + "
        f"np.float64(qhl) * {float(1 << half + 1)!r} + np.float64(qll)",
        f"{ind}else:",
        f"{i2}for r in range(m):",
        f"{i3}dx = np.float64(delta_b[np.uint64(r)] - tlo)",
        f"{i3}s{j} += dx",
        f"{i3}q{j} += dx * dx",
    ] + _merge(k, j, "m", ind)


def _dense_fold(dense: int | None, schema: Schema, copies: list[str],
                stats: list[str]) -> list[str]:
    """The dense kind's statistics, after its records' codes are copied over the others'."""
    if not stats:
        return []
    i8, i12, i16 = " " * 8, " " * 12, " " * 16
    lines = [f"{i8}if cnt[{dense}] > 0:", f"{i12}f0 = np.uint64(0)",
             f"{i12}others = m - cnt[{dense}]"]
    if len(schema.kinds) > 1:
        lines += [f"{i12}while kind_b[f0] != {dense}:", f"{i16}f0 += np.uint64(1)"]
        for kd in schema.kinds:
            if kd.code != dense:
                lines += [f"{i12}for t in range(cnt[{kd.code}]):",
                          f"{i16}ru = np.uint64(idx[{kd.code}, np.uint64(t)])",
                          *[f"{i16}{line}" for line in copies]]
    return lines + stats


def generate_source(schema: Schema, layout: Layout) -> tuple[str, _Kernel]:
    """The kernel module's source for a schema.

    Per batch of records: a first loop draws each record's kind and timestamp; then one loop
    per field computes that field's codes (independent iterations, which the compiler
    vectorizes or the CPU overlaps) and a second folds them into statistics; a last loop
    places every record's codes in the bit stream. The fields of the most common kind are made
    for every record of the batch (``dense``, below); those of the others for the records
    of their kind, listed as the kinds are drawn.
    """
    k = _Kernel(sources=schema.sources.count, resolution=schema.time.resolution)
    src_spec = schema.sources
    clock = schema.time
    res = clock.resolution
    it = clock.interval // res
    count = src_spec.count
    multi = len(schema.kinds) > 1
    # the kind whose fields are made for every record of a batch (the values made for
    # records of other kinds are dropped): contiguous loops the compiler vectorizes beat
    # gathering the kind's records once it holds at least half of them
    dense = schema.majority_kind
    limit = 1 << clock.bits
    i8, i12, i16 = " " * 8, " " * 12, " " * 16
    batch_start: list[str] = []  # statements before the batch's first loop
    # unsigned indexes: numba adds negative-index handling to every signed one
    head: list[str] = [f"{i12}ru = np.uint64(r)", f"{i12}i = b0 + r",
                       f"{i12}rid = np.uint64(first_id + i)"]
    if src_spec.interleave == "blocked":
        block = src_spec.block
        head += [f"{i12}within = rid % {_u64(count * block)}",
                 f"{i12}src = np.int64(within // {_u64(block)})",
                 f"{i12}seq = np.int64((rid // {_u64(count * block)}) * {_u64(block)} + "
                 f"within % {_u64(block)})"]
    elif count + BATCH <= 1 << 32:  # from the batch's first: a 32-bit division, vectorized
        batch_start += [f"{i8}src0 = np.uint64(first_id + b0) % {_u64(count)}",
                        f"{i8}seq0 = np.int64(np.uint64(first_id + b0) // {_u64(count)})"]
        head += [f"{i12}t32 = np.uint32(src0 + ru)",
                 f"{i12}q32 = t32 // np.uint32({count})",
                 f"{i12}src = np.int64(t32 - q32 * np.uint32({count}))",
                 f"{i12}seq = seq0 + np.int64(q32)"]
    else:
        head += [f"{i12}src = np.int64(rid % {_u64(count)})",
                 f"{i12}seq = np.int64(rid // {_u64(count)})"]
    fused_kinds = all(kd.trigger is None and not kd.rate_spread for kd in schema.kinds)
    if not multi:
        head.append(f"{i12}kind = 0")
    elif fused_kinds:
        kind_draw = f"draw({k.key('kind')}, rid)"
        head += [f"{i12}k53 = {_unit_bits(kind_draw)}", f"{i12}kind = 0"]
        edge = 0.0
        for kd in schema.kinds[1:]:  # selects, not branches: the loop stays vectorizable
            low, edge = edge, edge + kd.rate  # the reference's sums of doubles, in its order
            head.append(f"{i12}kind = {kd.code} if (k53 >= {_unit_cut(low)}) & "
                        f"(k53 < {_unit_cut(edge)}) else kind")
    else:
        head.append(f"{i12}kind = np.int64(pre_kind[np.uint64(i)])")
    jitter = clock.jitter // res  # the most a record's jitter adds
    ordered = src_spec.interleave == "round_robin"  # times never fall as IDs rise
    if ordered and it % count == 0:
        # seq * it + src * (it / count) is the ID times it / count: a running sum, no product
        batch_start.append(f"{i8}tick0 = np.int64(first_id + b0) * {it // count}")
        head.append(f"{i12}ticks = tick0 + np.int64(r) * {it // count}")
        ends = ("tick0", f"tick0 + np.int64(m - 1) * {it // count}")
    else:
        head.append(f"{i12}ticks = {_base_ticks('seq', 'src', it, count)}")
        last = "np.uint64(first_id + b0 + m - 1)"
        ends = (_base_ticks(f"np.int64(np.uint64(first_id + b0) // {_u64(count)})",
                            f"np.int64(np.uint64(first_id + b0) % {_u64(count)})", it, count),
                _base_ticks(f"np.int64({last} // {_u64(count)})",
                            f"np.int64({last} % {_u64(count)})", it, count))
    if ordered:  # the batch's bounds, checked once: record by record only if they fail
        batch_start.append(f"{i8}bad = ({ends[0]} - base_ticks < 0) | "
                           f"({ends[1]} + {jitter} - base_ticks >= {limit})")
    else:  # each record's, as the first loop makes it
        batch_start.append(f"{i8}bad = False")
    if clock.jitter:
        head += [f"{i12}h = draw({k.key('jitter')}, rid)",
                 f"{i12}ticks += np.int64({_below('h', jitter + 1)})"]
    head.append(f"{i12}delta = ticks - base_ticks")
    if not ordered:
        head.append(f"{i12}bad = bad | (delta < 0) | (delta >= {limit})")
    head += [f"{i12}src_b[ru] = src", f"{i12}seq_b[ru] = seq",
             f"{i12}kind_b[ru] = kind", f"{i12}delta_b[ru] = delta",
             f"{i12}ts_b[ru] = START + ticks * {res}"]
    head_before, head = _stepped(head, i8)
    checks = [f"{i8}if bad:  # the first record out of range names the error",
              f"{i12}for r in range(m):",
              f"{i16}if delta_b[np.uint64(r)] < 0 or delta_b[np.uint64(r)] >= {limit}:",
              f"{i16}    return -1 - (b0 + r)"]
    if not multi:
        listing = [f"{i8}cnt[0] = m"]
    else:
        listing = [f"{i8}cnt[:] = 0",
                   f"{i8}for r in range(m):",
                   f"{i12}kind = kind_b[np.uint64(r)]"]
        body = ["idx[kind, np.uint64(cnt[kind])] = r", "cnt[kind] += 1"]
        if dense is None:
            listing += [f"{i12}{line}" for line in body]
        else:
            listing += [f"{i12}if kind != {dense}:", *[f"{i16}{line}" for line in body],
                        f"{i8}cnt[{dense}] = m - cnt.sum()"]
    fixed = _time_stats(k, clock.field, i8)  # statistics of the time and source columns
    j = k.slot(src_spec.field, None, None, src_spec.width <= 24)
    typ = _sum_type(k, j)
    fixed += _reset(k, j, i8) + [f"{i8}ru = np.uint64(0)", f"{i8}kb{j} = {typ}(src_b[ru])",
                                 f"{i8}for r in range(m):", f"{i12}ru = np.uint64(r)",
                                 *_fold(j, "src_b[ru]", None, i12, typ), *_merge(k, j, "m", i8)]

    loops: list[str] = []  # per field of a gathered kind: a loop making codes and stats
    dense_loops: list[str] = []  # per field of the dense kind: a loop making its codes,
    dense_stats: list[str] = []  # and one folding them into statistics
    copies: list[str] = []  # statements giving record ``ru`` the codes of record f0
    placing: list[str] = [f"{i12}ru = np.uint64(r)", f"{i12}i = b0 + r",
                          f"{i12}kind = kind_b[ru]"]
    rows = 0
    assemble: list[str] = []
    frames = 1
    floats = 0  # rows of xs: values of dense binary floats, for their statistics
    normal_rows = 0  # rows of gz: a dense loop's normal draws, made before it
    for kd, klayout in zip(schema.kinds, layout.kinds, strict=True):
        fi = i16 if multi else i12
        if multi:
            placing.append(f"{i12}{'if' if kd.code == 0 else 'elif'} kind == {kd.code}:")
        gathered = kd.code != dense
        if gathered:
            placing += [f"{fi}tu = np.uint64(pos[{kd.code}])", f"{fi}pos[{kd.code}] += 1"]
        at = "tu" if gathered else "ru"
        fields = {f.name: f for f in kd.fields}
        values: list[str] = [_lit(kd.code), "delta_b[ru]", "src_b[ru]"]  # code of each slot
        for slot in klayout.slots[3:]:
            f = fields[slot.column]
            if isinstance(f, StringField):
                s = len(k.strings)
                k.strings.append(f.name)
                values.append(f"STRING{s}")
                continue
            if not fusable(f, count):
                pre = len(k.precomputed)
                k.precomputed.append(f.name)
                values.append(f"pre_codes[{pre}, np.uint64(i)]")
                continue
            row = rows
            rows += 1
            values.append(f"codes[{row}, {at}]")
            body: list[str] = []
            batch = (f"idx[{kd.code}]", f"cnt[{kd.code}]", "tu",
                     f"idx[{kd.code}, np.uint64(r)]") if gathered else ("every", "m", "ru", "r")
            _field_code(k, f, body, i12, batch)
            before = [f"{i8}{line}" for line in k.before]
            k.before.clear()
            if gathered:
                first_slot = len(k.slots)
                body += _stat_lines(k, f, kd.code, i12)
                body.append(f"{i12}codes[{row}, tu] = c")
                own = range(first_slot, len(k.slots))
                loops += [line for j in own for line in _reset(k, j, i8)] + before
                loops += [f"{i8}for t in range(cnt[{kd.code}]):",
                          f"{i12}tu = np.uint64(t)", f"{i12}ru = np.uint64(idx[{kd.code}, tu])",
                          f"{i12}rid = np.uint64(first_id + b0) + ru", f"{i12}src = src_b[ru]",
                          f"{i12}seq = seq_b[ru]", f"{i12}ts = ts_b[ru]", *body]
                loops += [line for j in own for line in _merge(k, j, f"cnt[{kd.code}]", i8)]
                continue
            body.append(f"{i12}codes[{row}, ru] = c")
            copies.append(f"codes[{row}, ru] = codes[{row}, f0]")
            if isinstance(f, FloatField) and f.encoding != "quantized":
                body.append(f"{i12}xs[{row}, ru] = x")
                copies.append(f"xs[{row}, ru] = xs[{row}, f0]")
                floats = rows
            stepping, body = _stepped([f"{i12}ru = np.uint64(r)", f"{i12}i = b0 + r",
                                     f"{i12}rid = np.uint64(first_id + i)",
                                     f"{i12}src = src_b[ru]", f"{i12}seq = seq_b[ru]",
                                     f"{i12}ts = ts_b[ru]", *body], i8)
            stepping, body, used = _batched_normals(stepping, body, i8)
            normal_rows = max(normal_rows, used)
            dense_loops += [*before, *stepping, f"{i8}for r in range(m):", *body]
            dense_stats += _batch_stats(k, f, kd.code, row, i12)
        words = _frame_words(klayout, values) if not gathered else None
        if words:  # the dense kind's frames, assembled in a loop the compiler vectorizes
            assemble = [f"{i8}for r in range(m):", f"{i12}ru = np.uint64(r)",
                        f"{i12}i = b0 + r",
                        *[f"{i12}frame[{w}, ru] = {word}" for w, word in enumerate(words)]]
            frames = len(words)
            words = [f"frame[{w}, ru]" for w in range(len(words))]
        placing += _place_record(klayout, values, fi, words)
    nk = len(schema.kinds)
    header = [
        "# Generated by telecrunch.fused: do not edit.",
        "import numba",
        "import numpy as np",
        "from telecrunch.detmath import det_exp, det_sin_turns",
        "from telecrunch.exactconv import small_code",
        "from telecrunch.fused import pymod, whole_mod",
        "from telecrunch.gauss import std_normals",
        "from telecrunch.rng import GOLDEN, below, draw, mix64, normal, unit",
        "from telecrunch.walk import BLOCK, reflect_one, walk_batch",
        "",
        f"START = {clock.start}",
        *k.consts,
        "",
        "",
        "@numba.njit(cache=True, nogil=True)",
        "def kernel(first_id, n, base_ticks, tshift, keys, out, stats, ext, hist, pre_kind, "
        "pre_codes, str_len, str_sym, wy0, wblock, wright, wrows, wbounds, wtrail, psrc):",
        *[f"    key{j} = keys[{j}]" for j in range(len(k.keys))],
        "    acc = np.uint64(0)",
        "    fill = 0",
        "    word = 0",
        "    f64 = np.empty(1, np.float64)",
        "    u64 = f64.view(np.uint64)",
        "    f32 = np.empty(1, np.float32)",
        "    u32 = f32.view(np.uint32)",
        f"    src_b = np.empty({BATCH}, np.int64)",
        f"    seq_b = np.empty({BATCH}, np.int64)",
        f"    kind_b = np.empty({BATCH}, np.int64)",
        f"    delta_b = np.empty({BATCH}, np.int64)",
        f"    ts_b = np.empty({BATCH}, np.int64)",
        f"    idx = np.empty(({nk}, {BATCH}), np.int64)",
        f"    cnt = np.zeros({nk}, np.int64)",
        f"    pos = np.zeros({nk}, np.int64)",
        f"    codes = np.empty(({max(rows, 1)}, {BATCH}), np.uint64)",
        f"    xs = np.empty(({max(floats, 1)}, {BATCH}), np.float64)",
        f"    frame = np.empty(({frames}, {BATCH}), np.uint64)",
        "    wpath = np.empty(BLOCK + 1, np.float64)",
        "    wbits = np.empty(BLOCK + 1, np.uint64)",
        f"    wys = np.empty(({max(len(k.walks), 1)}, {BATCH}), np.float64)",
        f"    every = np.arange({BATCH})",
        f"    curves = np.empty(({max(len(k.curves), 1)}, {BATCH}), np.float64)",
    ]
    if normal_rows:
        header += [f"    gz = np.empty(({normal_rows}, {BATCH}), np.float64)",
                   f"    gbits = np.empty({BATCH}, np.uint64)"]
    rest = [*checks, *listing, *fixed, *dense_loops,
            *_dense_fold(dense, schema, copies, dense_stats), *loops,
            *[f"{i8}hist[0, {kd.code}] += cnt[{kd.code}]" for kd in schema.kinds],
            *assemble, f"{i8}for r in range(m):", *placing]
    for column in ("seq", "ts"):
        head, rest = _drop_unread(column, head, rest)
    loop = [f"    for b0 in range(0, n, {BATCH}):",
            f"{i8}m = min({BATCH}, n - b0)",
            f"{i8}pos[:] = 0",
            *batch_start,
            *head_before, f"{i8}for r in range(m):", *head, *rest]
    k.hists.insert(0, ("kind", nk))  # row 0: kind counts
    tail = ["    nbits = word * 64 + fill", "    if fill > 0:", "        out[word] = acc"]
    tail.append("    return nbits")
    source = "\n".join(header + loop + tail) + "\n"
    return source, k


@register_jitable
def pymod(a, b):
    """numpy's floor-mod of doubles (the sign of the divisor), for the kernels."""
    m = np.fmod(a, b)
    if m != 0.0:
        if (b < 0.0) != (m < 0.0):
            m += b
    else:
        m = math.copysign(0.0, b)
    return m


@register_jitable
def whole_mod(a, b):
    """pymod of a whole number ``a`` by a whole ``0 < b < 2**52``, by one division where
    ``|a| < 2**52``, without fmod's library call (pymod beyond). Exact there: a quotient of
    whole numbers that is not whole lies at least 1/b from every whole number, and its
    rounding error is under |a| / (b * 2**53) < 1/(2b), so its floor is the true one; the
    product and the difference are whole numbers under 2**53 (+0.0 where it divides)."""
    if abs(a) < 4503599627370496.0:
        return a - np.floor(a / b) * b
    return pymod(a, b)


def _mod_of_whole(span: float) -> str:
    """The kernel's floor-mod of whole numbers by ``span``."""
    return "whole_mod" if span < 2.0**52 else "pymod"


def _cache_dir() -> Path:
    base = os.environ.get("TELECRUNCH_KERNEL_CACHE")
    path = Path(base) if base else Path(tempfile.gettempdir()) / "telecrunch-kernels"
    path.mkdir(parents=True, exist_ok=True)
    return path


_LOADING = threading.Lock()  # worker threads of one process may ask for the same kernel
_FINGERPRINT: list[str] = []  # the package's, computed once


def package_fingerprint(folder: Path) -> str:
    """A digest of every module under ``folder``. A kernel's compiled code holds the compiled
    helpers it calls (walk_batch, std_normals, ...), and numba's cache looks at the kernel's
    own file alone: the kernel's name carries this, so a changed helper makes a new kernel
    rather than reuse one built against the old (another state layout is a crash)."""
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*.py")):
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def kernel_name(source: str, fingerprint: str) -> str:
    """Module name of a kernel's source, built against the package with ``fingerprint``."""
    return "telecrunch_kernel_" + hashlib.sha256(
        (fingerprint + "\n" + source).encode()).hexdigest()[:20]


def _load(source: str):
    with _LOADING:
        return _load_locked(source)


def _load_locked(source: str):
    if not _FINGERPRINT:
        _FINGERPRINT.append(package_fingerprint(Path(__file__).parent))
    name = kernel_name(source, _FINGERPRINT[0])
    if name in sys.modules:
        return sys.modules[name]
    path = _cache_dir() / f"{name}.py"
    if not path.exists():
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(source)
        os.replace(tmp, path)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


class FusedBlocks:
    """Makes packed blocks of one schema with the fast kernel.

    Not for sharing between threads: each block overwrites the output buffer and the walk
    state the last one left, and adds to the statistics since ``begin``
    (``tasks.fast_blocks`` keeps one per thread)."""

    def __init__(self, schema: Schema):
        if not plan_supported(schema):
            raise ValueError("schema not supported by the fused path")
        self.schema = schema
        self.layout = compile_layout(schema)
        source, self.spec = generate_source(schema, self.layout)
        self.kernel = _load(source).kernel
        self._words = np.zeros(0, np.uint64)
        self._keys: dict[int, np.ndarray] = {}
        self._caches: dict[int, dict] = {}  # per seed: state of signals between blocks
        self._walks: dict[int, Any] = {}  # per seed: state of the fused walks
        self._tables: dict[int, np.ndarray] = {}  # per seed: per-source draws
        self._seeded: dict[int, tuple] = {}  # per seed: the kernel's arguments made of them
        # the accumulators' starting values, copied into arrays reused block after block
        slots = len(self.spec.slots)
        self._stats0 = np.zeros((slots, 6))  # count, min, max, mean, m2
        self._stats0[:, 1] = np.inf
        self._stats0[:, 2] = -np.inf
        self._ext0 = np.empty((slots, 2), np.int64)  # min and max of integer codes
        self._ext0[:, 0] = np.iinfo(np.int64).max
        self._ext0[:, 1] = np.iinfo(np.int64).min
        self._acc = (self._stats0.copy(), self._ext0.copy(), np.zeros(
            (len(self.spec.hists), max([b for _, b in self.spec.hists] or [1])), np.int64))
        self._max_bits = max(k.max_bits for k in self.layout.kinds)
        self._no_precompute = not (self.spec.precomputed or self.spec.strings or any(
            kd.trigger is not None or kd.rate_spread for kd in schema.kinds))
        self._none = (np.zeros(0, np.uint8), np.zeros((0, 0), np.uint64),
                      np.zeros((0, 0), np.int64), np.zeros((0, 0, 0), np.uint8), None)
        self._slot_info = [(column, None if f is None else schema.kind_of_field[column].code,
                            exact, None if f is None and column == schema.time.field
                            else self._affine(column, f, 0))
                           for column, f, _kind, _integer, exact in self.spec.slots]
        self.begin(0)

    def keys(self, seed: int) -> np.ndarray:
        if seed not in self._keys:
            out = []
            for spec in self.spec.keys:
                if spec[0] == "field":
                    out.append(rng.stream_key(rng.stream_key(seed, "field", spec[1]), spec[2]))
                elif spec[0] == "per_source":
                    key = rng.stream_key(seed, "per_source", spec[1])
                    out.append(rng.stream_key(key, spec[2]))
                elif spec[0] == "kind":
                    out.append(rng.stream_key(seed, "kind"))
                else:
                    out.append(rng.stream_key(seed, "time.jitter"))
            self._keys[seed] = np.array(out, dtype=np.uint64)
        return self._keys[seed]

    def block(self, seed: int, first_id: int, n: int) -> tuple[memoryview, int, dict]:
        """(payload, bit count, statistics) of records [first_id, first_id + n).

        The payload is a view of a buffer the next call overwrites: write it before then.
        """
        self.begin(first_id)
        payload, nbits = self.pack(seed, first_id, n)
        return payload, nbits, self.summary()

    def begin(self, first_id: int) -> None:
        """Start the statistics that ``pack`` adds to and ``summary`` gives, their time origin
        at ``first_id``'s: the kernel merges block after block into the same accumulators,
        so a shard of many blocks is summarized once, not block by block in Python."""
        stats, ext, hist = self._acc
        stats[:] = self._stats0
        ext[:] = self._ext0
        hist[:] = 0
        self._origin = first_id
        self._origin_ticks = self._base_ticks(first_id)
        self._records = 0
        self._extra: dict[str, Any] = {}

    def pack(self, seed: int, first_id: int, n: int) -> tuple[memoryview, int]:
        """(payload, bit count) of records [first_id, first_id + n), their statistics added
        to those since ``begin``. The payload is a view of a buffer the next call
        overwrites: write it before then."""
        schema = self.schema
        check_range(schema, first_id, first_id + n)
        need = (self._max_bits * n + 63) // 64 + 1  # as pack.max_words
        if len(self._words) < need:
            self._words = np.zeros(need, np.uint64)
        pre_kind, pre_codes, str_len, str_sym, extra = \
            self._none if self._no_precompute else self._precompute(seed, first_id, n)
        stats, ext, hist = self._acc
        base_ticks = self._base_ticks(first_id)
        seeded = self._seeded.get(seed)
        if seeded is None:  # the kernel's arguments that depend on the seed alone
            state = self._walk_state(seed)
            seeded = self._seeded[seed] = (
                self.keys(seed), state.y0, state.block, state.right, state.rows, state.bounds,
                state.trail, self._per_source(seed))
        keys, *walk_and_tables = seeded
        nbits = self.kernel(first_id, n, base_ticks, base_ticks - self._origin_ticks, keys,
                            self._words, stats, ext, hist, pre_kind, pre_codes, str_len,
                            str_sym, *walk_and_tables)
        if nbits < 0:
            from telecrunch.errors import FormatError

            raise FormatError("time.bits", f"the block from ID {first_id} spans more ticks of "
                              f"{schema.time.resolution} ns than {schema.time.bits} bits hold; "
                              "raise time.bits or time.resolution, or use smaller blocks",
                              has_got=False)
        self._records += n
        if extra:
            self._add_extra(extra)
        # a view of the reused buffer, not a copy: fresh pages cost more than packing here
        words = self._words[: (nbits + 63) // 64].astype("<u8", copy=False)
        return memoryview(words.view(np.uint8))[: (nbits + 7) // 8], nbits

    def summary(self) -> dict:
        """Statistics of the records packed since ``begin``, in the form of
        telecrunch.stats.block_stats."""
        stats, ext, hist = self._acc
        return self._stats(self._origin, self._records, stats, ext, hist, self._extra)

    def _base_ticks(self, first_id: int) -> int:
        return first_seq(self.schema, first_id) * (
            self.schema.time.interval // self.schema.time.resolution)

    def _add_extra(self, extra: dict) -> None:
        """Merge the summaries of the fields made by the reference path into those since
        ``begin``."""
        for name, (_index, made) in extra.items():
            summary = field_summary(self.schema.fields[name], made)
            known = self._extra.get(name)
            self._extra[name] = summary if known is None else merge_field(known, summary)

    def _per_source(self, seed: int) -> np.ndarray:
        """The kernel's per-source draw tables for this seed (rows of spec.constants)."""
        table = self._tables.get(seed)
        if table is None:
            sources = np.arange(self.schema.sources.count if self.spec.constants else 1,
                                dtype=np.uint64)
            rows = []
            keys = dict(zip(self.spec.keys, self.keys(seed), strict=True))
            for dist, spec in self.spec.constants:
                draw = rng.normal_array if dist == "normal" else rng.uniform_array
                rows.append(draw(self._key_of(seed, spec, keys), sources))
            table = self._tables[seed] = np.stack(rows) if rows else np.zeros((1, 1))
        return table

    def _key_of(self, seed: int, spec: tuple, known: dict) -> np.uint64:
        if spec in known:
            return known[spec]
        if spec[0] == "field":
            return rng.stream_key(rng.stream_key(seed, "field", spec[1]), spec[2])
        return rng.stream_key(rng.stream_key(seed, "per_source", spec[1]), spec[2])

    def _walk_state(self, seed: int):
        """Each walk field's per-source state for this seed (kept between blocks)."""
        from telecrunch.signals import WalkPlan
        from telecrunch.walk import WalkCache

        state = self._walks.get(seed)
        if state is None:
            count = self.schema.sources.count if self.spec.walks else 1
            everyone = np.arange(count, dtype=np.int64)
            starts = [WalkPlan.of(f, f.signal.params).start(
                f.signal.params, rng.stream_key(rng.stream_key(seed, "field", f.name),
                                                "walk.start"), everyone)
                      for f in self.spec.walks] or [np.zeros(count)]
            state = self._walks[seed] = WalkCache(count, np.stack(starts), len(starts))
        return state

    def _precompute(self, seed: int, first_id: int, n: int):
        """Kinds and non-fused fields by the reference path (empty arrays when not needed)."""
        schema = self.schema
        spec = self.spec
        need_kinds = any(kd.trigger is not None or kd.rate_spread for kd in schema.kinds)
        if not (spec.precomputed or spec.strings or need_kinds):
            return (np.zeros(0, np.uint8), np.zeros((0, 0), np.uint64), np.zeros((0, 0),
                    np.int64), np.zeros((0, 0, 0), np.uint8), None)
        ids = np.arange(first_id, first_id + n, dtype=np.uint64)
        pos = positions_of_ids(schema, seed, ids)
        kinds = kind_codes(schema, seed, pos)
        apply_triggers(schema, seed, pos, kinds, np.zeros(n, np.uint64))
        pre_codes = np.zeros((max(len(spec.precomputed), 1), n), np.uint64)
        longest = max(self.layout.max_string_length, 1)
        str_len = np.zeros((max(len(spec.strings), 1), n), np.int64)
        str_sym = np.zeros((max(len(spec.strings), 1), n, longest), np.uint8)
        values: dict[str, np.ndarray] = {}
        wanted = set(spec.precomputed) | set(spec.strings)
        caches = self._caches.setdefault(seed, {})
        for kd in schema.kinds:
            names = [f.name for f in kd.fields if f.name in wanted]
            if not names:
                continue
            index = np.flatnonzero(kinds == kd.code)
            if any(schema.fields[name].signal.kind in ("derived", "template") for name in names):
                maker = KindMaker(schema, seed, kd, pos.take(index), caches)
                made = maker.make_all(upto=names[-1])  # they read fields made before them
            elif 2 * len(index) > n:  # most records: make it for all, then select (cheaper)
                maker = KindMaker(schema, seed, kd, pos, caches)
                made = {name: maker.make(schema.fields[name])[index] for name in names}
            else:
                maker = KindMaker(schema, seed, kd, pos.take(index), caches)
                made = {name: maker.make(schema.fields[name]) for name in names}
            for name in names:
                f = schema.fields[name]
                values[name] = (index, made[name])
                if isinstance(f, StringField):
                    s = spec.strings.index(name)
                    lengths, symbols = conv.string_codes(f, made[name])
                    str_len[s, index] = lengths
                    str_sym[s, index, : symbols.shape[1]] = symbols
                else:
                    pre_codes[spec.precomputed.index(name), index] = conv.to_code(f, made[name])
        return kinds, pre_codes, str_len, str_sym, values

    def _stats(self, first_id: int, n: int, stats: np.ndarray, ext: np.ndarray,
               hist: np.ndarray, extra: dict) -> dict:
        """Statistics in the form of telecrunch.stats.block_stats of ``n`` records whose time
        statistics count from ``first_id``'s time; ``extra``: summaries of the fields made by
        the reference path."""
        schema = self.schema
        stats, ext, hist = stats.tolist(), ext.tolist(), hist.tolist()  # Python numbers, once
        kinds = hist[0]
        out_fields: dict[str, Any] = {}
        for (column, kind, exact, affine), acc, ends in zip(self._slot_info, stats, ext,
                                                           strict=True):
            count = n if kind is None else kinds[kind]
            if affine is None:  # the time column: its origin moves with the block
                affine = self._affine(column, None, first_id)
            out_fields[column] = _summary(count, ends if exact else acc[1:3], acc, affine)
        for h, (column, bins) in enumerate(self.spec.hists[1:], start=1):
            counts = hist[h][:bins]
            f = schema.fields[column]
            if isinstance(f, BoolField):
                out_fields[column] = {"count": sum(counts), "true": counts[1]}
            else:
                out_fields[column] = {"count": sum(counts), "values": dict(
                    zip(f.values, counts, strict=True))}
        out_fields.update(extra)
        ordered = {schema.time.field: out_fields[schema.time.field],
                   schema.sources.field: out_fields[schema.sources.field]}
        for name in schema.fields:
            ordered[name] = out_fields[name]
        return {"records": n, "kinds": {kd.name: kinds[kd.code] for kd in schema.kinds},
                "fields": ordered}

    def _affine(self, column: str, f: FieldBase | None, first_id: int) -> tuple:
        """(offset, scale, as_int) turning the kernel's statistic value into the field's."""
        schema = self.schema
        if f is None:
            if column == schema.time.field:
                base = schema.time.start + first_seq(schema, first_id) * schema.time.interval
                return base, schema.time.resolution, True
            return 0, 1, True
        if isinstance(f, IntField):
            return f.min, 1, True
        if isinstance(f, TimestampField):
            return f.min, f.resolution, True
        if f.encoding == "quantized":
            return f.min, f.resolution, False
        return 0.0, _float_scale(f), False


def _summary(count: int, ends: tuple, acc: np.ndarray, affine: tuple) -> dict:
    """numeric_summary from the kernel's (min, max) and (count, -, -, mean, m2) of x, mapped
    through the field's value = offset + scale * x (binary floats arrive divided by a power
    of two)."""
    lo, hi = ends
    mean_x, m2_x = acc[3], acc[4]
    if count == 0:
        return {"count": 0}
    offset, scale, as_int = affine
    if as_int:
        lo_v, hi_v = int(offset + int(lo) * scale), int(offset + int(hi) * scale)
    else:
        lo_v, hi_v = float(offset + lo * scale), float(offset + hi * scale)
    return {"count": int(count), "min": lo_v, "max": hi_v,
            "mean": float(offset + mean_x * scale),
            "std": float(math.sqrt(max(m2_x, 0.0) / count) * scale)}
