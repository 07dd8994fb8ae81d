"""The reference benchmark runs end to end at a small size and prints its stable format.

Speeds are not asserted (the machine is shared): the test holds the report's shape, that every
measurement is there, and that the sizes it reports agree with each other.
"""

from __future__ import annotations

import importlib.util
import re

import pytest

from telecrunch.bench import run_bench

ROW = re.compile(r"^.{28} \| +(\S+) +(\S+) +(\S+) M rec/s \| +[\d.]+ MB/s \| +[\d.]+ B/rec$")
NAMES = ["kernel, 1 core", "kernel realistic, 1 core", "numpy PCG64 draw floor",
         "numpy vectorized gen+pack", "naive Python packer", "end to end, 2 workers",
         "end to end lz4, 2 workers", "read (decode, 1 core)", "read batches, reused, 1 core",
         "end to end, 1 worker"]


def test_bench_reports_every_measurement_in_its_format(tmp_path):
    lines: list[str] = []
    records = 300_000
    results = run_bench(records=records, repeats=1, out=str(tmp_path), echo=lines.append)
    by = {r.name: r for r in results}
    assert set(NAMES) <= set(by)
    assert ("Faker + struct.pack" in by) == (importlib.util.find_spec("faker") is not None)
    for result in results:
        row = ROW.match(result.line())
        assert row, result.line()
        low, median, high = (float(x) for x in row.groups())
        assert 0 < low <= median <= high
        assert result.line() in lines
    # the same schema's packed records, in process and in shard files (block and shard
    # headers add well under a percent at this size)
    kernel = by["kernel, 1 core"].bytes / by["kernel, 1 core"].records
    files = by["end to end, 2 workers"].bytes / records
    assert files == pytest.approx(kernel, rel=0.01)
    assert by["read (decode, 1 core)"].records == records
    assert by["read batches, reused, 1 core"].records == records
    # uniform draws packed to their widths leave lz4 nothing to find: the same size, framed
    assert by["end to end lz4, 2 workers"].bytes == pytest.approx(files * records, rel=0.01)
    assert any(line.startswith("  end to end, 2 workers / end to end, 1 worker = ")
               for line in lines)
    assert any(line.startswith("peak RSS: ") for line in lines)
    assert not list(tmp_path.iterdir())  # its datasets are removed
