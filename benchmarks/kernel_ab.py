"""A/B of a fused kernel against an edited copy of its generated source, in one process.

    .venv/bin/python benchmarks/kernel_ab.py SCHEMA EDIT.py [--records N] [--rounds R]
                                              [--block B] [--no-check]

``EDIT.py`` defines ``edit(source: str) -> str``: it gets the kernel source that
``telecrunch.fused`` generates for SCHEMA and returns the variant to try. Both kernels make the
same records, alternately, ``--rounds`` times each (the machine is shared and noisy: absolute
times drift, alternating rounds drift together); the report gives each one's best and first
quartile in M records/s and the ratios B/A. Unless ``--no-check``, the variant must first make
the same bytes and statistics as the generated kernel on a few blocks, so an edit meant as a
speed-up cannot pass while changing the output (an ablation that drops work on purpose takes
``--no-check``).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import telecrunch
from telecrunch import fused

PROBES = ((0, 70_000), (123_456_789, 5_000))  # (first ID, records): blocks the check compares


def variant(blocks: fused.FusedBlocks, edit: Callable[[str], str]) -> fused.FusedBlocks:
    """Another FusedBlocks of the same schema whose kernel is built from ``edit(source)``."""
    source, _ = fused.generate_source(blocks.schema, blocks.layout)
    edited = edit(source)
    if edited == source:
        raise SystemExit("kernel_ab: the edit left the kernel source unchanged")
    other = fused.FusedBlocks(blocks.schema)
    other.kernel = fused._load(edited).kernel
    return other


def differences(a: fused.FusedBlocks, b: fused.FusedBlocks, seed: int) -> list[str]:
    """Where the two kernels' blocks differ (payload, bit count or statistics)."""
    out = []
    for first, records in PROBES:
        pa, na, sa = a.block(seed, first, records)
        pa = bytes(pa)  # the payload is a view the next block overwrites
        pb, nb, sb = b.block(seed, first, records)
        if na != nb or pa != bytes(pb):
            out.append(f"block of {records} records from ID {first}: packed bits differ")
        if repr(sa) != repr(sb):
            out.append(f"block of {records} records from ID {first}: statistics differ")
    return out


def race(a: fused.FusedBlocks, b: fused.FusedBlocks, seed: int, records: int, rounds: int,
         block: int) -> tuple[list[float], list[float]]:
    """Seconds per round of each kernel over the same ``records``, rounds alternating."""
    def one(blocks: fused.FusedBlocks) -> float:
        started = time.perf_counter()
        blocks.begin(0)  # as a worker makes a shard: statistics summarized once, at the end
        for first in range(0, records, block):
            blocks.pack(seed, first, min(block, records - first))
        blocks.summary()
        return time.perf_counter() - started

    one(a), one(b)  # compiled and warm before timing
    times_a, times_b = [], []
    for _ in range(rounds):
        times_a.append(one(a))
        times_b.append(one(b))
    return sorted(times_a), sorted(times_b)


def report(records: int, times_a: list[float], times_b: list[float]) -> str:
    q = len(times_a) // 4  # first quartile: steadier than the best on a noisy machine
    rate = [records / t / 1e6 for t in (times_a[0], times_a[q], times_b[0], times_b[q])]
    return (f"A best {rate[0]:.1f} q1 {rate[1]:.1f} | B best {rate[2]:.1f} q1 {rate[3]:.1f} "
            f"M rec/s | B/A best {times_a[0] / times_b[0]:.3f} q1 {times_a[q] / times_b[q]:.3f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("schema")
    parser.add_argument("edit", help="a Python file defining edit(source) -> source")
    parser.add_argument("--records", type=int, default=4_000_000)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--block", type=int, default=65_536)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-check", action="store_true",
                        help="time a variant that makes other output (an ablation)")
    args = parser.parse_args(argv)
    names: dict = {}
    exec(compile(Path(args.edit).read_text(), args.edit, "exec"), names)  # the user's own file
    a = fused.FusedBlocks(telecrunch.load_schema(args.schema))
    b = variant(a, names["edit"])
    if not args.no_check:
        problems = differences(a, b, args.seed)
        if problems:
            for problem in problems:
                print(f"kernel_ab: {problem}", file=sys.stderr)
            return 1
    times_a, times_b = race(a, b, args.seed, args.records, args.rounds, args.block)
    print(report(args.records, times_a, times_b))
    return 0


if __name__ == "__main__":
    sys.exit(main())
