"""The reference benchmark runs end to end at a small size and prints its stable format.

Speeds are not asserted (the machine is shared): the test holds the report's shape, that every
measurement is there, and that the sizes it reports agree with each other.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import pytest

from telecrunch.bench import _kernel_passes, _timed, kernel_processes, run_bench, write_floor

ROW = re.compile(r"^.{28} \| +(\S+) +(\S+) +(\S+) M rec/s \| +[\d.]+ MB/s \| +[\d.]+ B/rec$")
ROOT = Path(__file__).resolve().parent.parent
REFERENCE = str(ROOT / "jobs" / "reference_schema.yaml")
NAMES = ["kernel, 1 core", "kernel, 2 processes at once", "kernel realistic, 1 core",
         "numpy PCG64 draw floor", "numpy vectorized gen+pack", "naive Python packer",
         "end to end, 2 workers", "end to end lz4, 2 workers", "read (decode, 1 core)",
         "read (decode, all cores)", "read batches, reused, 1 core", "end to end, 1 worker",
         "write floor, 2 processes"]


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
    # two processes, each as many records as the one-core kernel (its own IDs): twice the
    # records, and as many bytes a record
    both = by["kernel, 2 processes at once"]
    assert both.records == 2 * by["kernel, 1 core"].records
    assert both.bytes / both.records == pytest.approx(kernel, rel=0.01)
    assert files == pytest.approx(kernel, rel=0.01)
    # the write floor writes as many bytes as end to end, for as many records
    floor = by["write floor, 2 processes"]
    assert (floor.records, floor.bytes) == (records, round(records * kernel))
    assert by["read (decode, 1 core)"].records == records
    assert by["read (decode, all cores)"].records == records
    assert by["read batches, reused, 1 core"].records == records
    # uniform draws packed to their widths leave lz4 nothing to find: the same size, framed
    assert by["end to end lz4, 2 workers"].bytes == pytest.approx(files * records, rel=0.01)
    for ratio in ("end to end, 2 workers / end to end, 1 worker",
                  "end to end, 2 workers / kernel, 2 processes at once",
                  "end to end, 2 workers / write floor, 2 processes"):
        assert any(line.startswith(f"  {ratio} = ") for line in lines)
    assert any(line.startswith("peak RSS: ") for line in lines)
    assert not list(tmp_path.iterdir())  # its datasets are removed


def test_the_kernel_processes_make_consecutive_id_ranges_of_their_own():
    """Two processes, N records each: together the bytes of IDs [0, N) and [N, 2N) made in
    process (the two ranges hold different numbers of events, so differ in size)."""
    n = 200_000
    both = kernel_processes(Path(REFERENCE), n, 1, 2)
    alone = [_kernel_passes(Path(REFERENCE), n, first)() for first in (0, n)]
    assert alone[0] != alone[1]
    assert (both.records, both.bytes, len(both.seconds)) == (2 * n, sum(alone), 1)


def test_a_failing_kernel_process_fails_the_bench_instead_of_hanging(tmp_path):
    with pytest.raises(RuntimeError, match="bench.s kernel, 2 processes at once failed"):
        kernel_processes(tmp_path / "missing.yaml", 1_000, 1, 2)


def test_the_write_floor_writes_its_bytes_into_new_files_and_removes_them(tmp_path):
    """1,000 records of 10.5 bytes in 3 files by 2 processes, 65,536 x 10.5 bytes a write:
    10,500 bytes in all, each pass into files it made itself."""
    floor = write_floor(tmp_path / "floor", 1_000, 10.5, 3, 2)
    assert (floor.name, floor.records, floor.bytes, len(floor.seconds)) == (
        "write floor, 2 processes", 1_000, 10_500, 2)
    assert all(s > 0 for s in floor.seconds)
    assert not (tmp_path / "floor").exists()


def test_a_write_pass_fills_its_files_with_the_bytes_asked_for(tmp_path):
    from telecrunch.bench import _write_passes

    run, clear = _write_passes(tmp_path / "w", 10, 3, 4)
    assert run() == 10
    sizes = sorted(p.stat().st_size for p in (tmp_path / "w").iterdir())
    assert sizes == [3, 3, 4]
    clear()
    assert not (tmp_path / "w").exists()


def _benchmark(name: str):
    """A script of benchmarks/ as a module."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # a dataclass looks its module up there
    spec.loader.exec_module(module)
    return module


def _kernel_ab():
    return _benchmark("kernel_ab")


def _edit_file(tmp_path, name: str, body: str) -> str:
    path = tmp_path / f"{name}.py"
    path.write_text(f"def edit(source):\n    return {body}\n")
    return str(path)


AB_ROW = re.compile(r"^A best [\d.]+ q1 [\d.]+ \| B best [\d.]+ q1 [\d.]+ M rec/s \| "
                    r"B/A best [\d.]+ q1 [\d.]+$")


def test_timed_runs_the_preparation_before_every_call_outside_the_clock(monkeypatch):
    clock = [0.0]  # a fake clock: preparing takes 100 "seconds", a call 1
    events = []
    monkeypatch.setattr("telecrunch.bench.time.perf_counter", lambda: clock[0])

    def prepare():
        events.append("prepare")
        clock[0] += 100.0

    def fn():
        events.append("run")
        clock[0] += 1.0
        return 7

    times, size = _timed(fn, 3, prepare)
    assert events == ["prepare", "run"] * 4  # the warm-up, then 3 timed calls
    assert times == [1.0, 1.0, 1.0] and size == 7


def test_kernel_ab_times_an_edit_that_keeps_the_output(tmp_path, capsys):
    same = _edit_file(tmp_path, "same", "source.replace('    nbits = word * 64 + fill', "
                      "'    # no change\\n    nbits = word * 64 + fill', 1)")
    assert _kernel_ab().main([REFERENCE, same, "--records", "20000", "--rounds", "2",
                              "--block", "4096"]) == 0
    assert AB_ROW.match(capsys.readouterr().out.strip())


def test_kernel_ab_refuses_an_edit_that_changes_the_output(tmp_path, capsys):
    # every record's kind hash skipped: other kinds, other bytes
    other = _edit_file(tmp_path, "other", "source.replace('mix64(zkey0)', '(zkey0)')")
    ab = _kernel_ab()
    assert ab.main([REFERENCE, other, "--records", "20000", "--rounds", "2"]) == 1
    err = capsys.readouterr().err
    assert "packed bits differ" in err and "statistics differ" in err
    # an ablation may change the output on purpose
    assert ab.main([REFERENCE, other, "--records", "20000", "--rounds", "2", "--no-check"]) == 0
    assert AB_ROW.match(capsys.readouterr().out.strip())


def test_kernel_ab_refuses_an_edit_that_edits_nothing(tmp_path):
    nothing = _edit_file(tmp_path, "nothing", "source")
    with pytest.raises(SystemExit, match="unchanged"):
        _kernel_ab().main([REFERENCE, nothing, "--records", "20000", "--rounds", "2"])


def _kernel_profile():
    return _benchmark("kernel_profile")


OBJDUMP = """
/tmp/code.bin:     file format binary

Disassembly of section .data:

0000000000001000 <.data>:
    1000:\t55                   \tpush   %rbp
    1001:\tc5 fd 6f 01          \tvmovdqa (%rcx),%ymm0
    1005:\tc5 fd f4 c1          \tvpmuludq %ymm1,%ymm0,%ymm0
    1009:\tc5 fd f4 c2          \tvpmuludq %ymm2,%ymm0,%ymm0
    100d:\t75 f2                \tjne    0x1001
    100f:\t90                   \tnop
    1010:\t90                   \tnop
    1011:\tc4 e2 f9 f7 c0       \tshlx   %rax,%rax,%rax
    1016:\t48 09 c3             \tor     %rax,%rbx
    1019:\t75 f6                \tjne    0x1011
    101b:\tc3                   \tret
"""


def test_kernel_profile_reads_objdump_and_ranks_the_hot_regions():
    kp = _kernel_profile()
    code = kp.parse_objdump(OBJDUMP)
    assert code[0] == (0x1000, "push   %rbp") and code[-1] == (0x101B, "ret")
    assert len(code) == 11
    samples = {0x1005: 30, 0x1009: 10, 0x1011: 40, 0x1016: 20}
    regions = kp.hot_regions(code, samples, gap=1)  # the two nops part the loops
    assert [(r.first, r.last) for r in regions] == [(7, 8), (2, 3)]
    assert [r.share for r in regions] == [0.6, 0.4]
    assert regions[1].address == 0x1005 and regions[1].mnemonics == [("vpmuludq", 2)]
    # with a wider gap they are one region
    assert [(r.first, r.last, r.share) for r in kp.hot_regions(code, samples, gap=5)] == [
        (2, 8, 1.0)]
    assert kp.hot_regions(code, {}) == []
    lines = kp.report(regions, top=1)
    assert len(lines) == 2 and lines[1].startswith(" 60.00%") and "shlx 1" in lines[1]


def test_kernel_profile_names_a_missing_tool(monkeypatch, capsys):
    kp = _kernel_profile()
    monkeypatch.setattr(kp.shutil, "which", lambda tool: None if tool == "perf" else "/bin/x")
    assert kp.main([REFERENCE]) == 2
    assert capsys.readouterr().err.strip() == (
        "kernel_profile: perf is not installed (Debian: apt-get install linux-perf)")


def test_kernel_profile_refuses_a_schema_it_cannot_profile(tmp_path, capsys):
    kp = _kernel_profile()
    assert kp.main([str(tmp_path / "missing.yaml")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("kernel_profile: ") and "missing.yaml" in err and "\n" not in err
    fleet = str(ROOT / "jobs" / "fleet_schema.yaml")  # anomalies: the reference path's
    assert kp.main([fleet]) == 2
    assert capsys.readouterr().err.strip() == (
        f"kernel_profile: {fleet}: schema not supported by the fused path")
