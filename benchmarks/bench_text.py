"""Text formats: lines/s and MB/s of ``encode_lines`` and ``encode_jsonl`` next to plain
Python f-string formatters of the same records, measured in the same run.

    .venv/bin/python benchmarks/bench_text.py [--records N] [--repeats R] [--schema FILE]

Both baselines write byte-identical output (checked before timing); the ratios compare median
times (and best times). Target: the encoders at least 5x faster than their baseline.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import orjson

import telecrunch
from telecrunch.columns import Columns
from telecrunch.formats.floats import float_formatter
from telecrunch.formats.jsonl import encode_jsonl
from telecrunch.formats.lineprotocol import encode_lines
from telecrunch.formats.reference import reference_lines
from telecrunch.schema import BoolField, EnumField, FloatField, StringField

ROOT = Path(__file__).resolve().parent.parent
TARGET = 5.0


def fstring_jsonl(columns: Columns) -> bytes:
    """JSON lines the plain way: one f-string per record, labels encoded once up front."""
    schema = columns.schema
    data = {name: columns.values[name].tolist() for name in columns.values}
    ids, kinds = columns.ids.tolist(), columns.kind.tolist()
    times, sources = data[schema.time.field], data[schema.sources.field]
    heads, bodies = {}, {}
    for kind in schema.kinds:
        heads[kind.code] = (f',"kind":"{kind.name}","{schema.time.field}":',
                            f',"{schema.sources.field}":')
        bodies[kind.code] = [(f',"{f.name}":', _json_value(f), data[f.name]) for f in kind.fields]
    out = []
    for i in range(len(ids)):
        kind_text, source_key = heads[kinds[i]]
        body = "".join(f"{key}{fmt(values[i])}" for key, fmt, values in bodies[kinds[i]])
        out.append(f'{{"id":{ids[i]}{kind_text}{times[i]}{source_key}{sources[i]}{body}}}\n')
    return "".join(out).encode()


def _json_value(field) -> Callable:
    if isinstance(field, FloatField):
        return float_formatter(field)
    if isinstance(field, BoolField):
        return lambda v: "true" if v else "false"
    if isinstance(field, EnumField):
        return [orjson.dumps(label).decode() for label in field.values].__getitem__
    if isinstance(field, StringField):
        return lambda v: '"' + v.decode().replace("\\", "\\\\").replace('"', '\\"') + '"'
    return str


def measure(fn: Callable[[Columns], bytes], columns: Columns, repeats: int) -> tuple[list, int]:
    """Seconds of each run, and the output size."""
    times, size = [], 0
    for _ in range(repeats):
        start = time.perf_counter()
        size = len(fn(columns))
        times.append(time.perf_counter() - start)
    return times, size


def row(label: str, times: list[float], size: int, n: int) -> str:
    rates = sorted(n / t for t in times)
    mbs = size / statistics.median(times) / 1e6
    return (f"  {label:22s} {rates[0]:>12,.0f} {statistics.median(rates):>12,.0f} "
            f"{rates[-1]:>12,.0f}   {mbs:8.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--schema", default=str(ROOT / "jobs" / "demo_schema.yaml"))
    args = parser.parse_args()

    schema = telecrunch.load_schema(args.schema)
    columns = telecrunch.generate_columns(schema, args.seed, 0, args.records)
    n = len(columns)
    pairs = [("line protocol", encode_lines, reference_lines),
             ("JSON lines", encode_jsonl, fstring_jsonl)]
    for name, fast, slow in pairs:
        if fast(columns) != slow(columns):
            raise SystemExit(f"{name}: encoder and baseline outputs differ")

    print(f"bench_text: {n:,} records of schema {schema.name!r} ({args.schema}), seed "
          f"{args.seed}, {args.repeats} repeats; Python {platform.python_version()}, "
          f"numpy {np.__version__}, {platform.machine()}")
    print(f"  {'':22s} {'lines/s min':>12s} {'median':>12s} {'max':>12s}   {'MB/s med':>8s}")
    for name, fast, slow in pairs:
        print(name)
        fast_t, size = measure(fast, columns, args.repeats)
        slow_t, _ = measure(slow, columns, args.repeats)
        print(row(fast.__name__, fast_t, size, n))
        print(row("f-string baseline", slow_t, size, n))
        ratio = statistics.median(slow_t) / statistics.median(fast_t)
        best = min(slow_t) / min(fast_t)
        verdict = "met" if ratio >= TARGET else "NOT met"
        print(f"  speed-up: {ratio:.1f}x median, {best:.1f}x best "
              f"(target >= {TARGET:.0f}x: {verdict})")


if __name__ == "__main__":
    main()
