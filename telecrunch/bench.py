"""The reference benchmark: TeleCrunch against baselines measured in the same run.

Run ``telecrunch bench`` or ``python benchmarks/bench_generate.py``. Every figure is the
min / median / max of several repeats, and the report ends with ratios of medians, which hold
on a shared, noisy machine where absolute times do not. The output format is stable:
one line per measurement, ``name | records/s min median max | MB/s | B/record``.
"""

from __future__ import annotations

import os
import platform
import queue
import random
import resource
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "jobs" / "reference_schema.yaml"
REALISTIC = ROOT / "jobs" / "reference_realistic_schema.yaml"
BLOCK = 65536
SHARDS = 16  # the shards of an end-to-end run


@dataclass
class Result:
    name: str
    records: int
    seconds: list[float]
    bytes: int = 0  # output bytes per run

    def rates(self) -> list[float]:
        return sorted(self.records / s for s in self.seconds)

    @property
    def median(self) -> float:
        return statistics.median(self.rates())

    def line(self) -> str:
        r = self.rates()
        mbs = self.bytes / self.records * self.median / 1e6 if self.bytes else 0.0
        per = self.bytes / self.records if self.bytes else 0.0
        return (f"{self.name:<28} | {r[0] / 1e6:9.4g} {self.median / 1e6:9.4g} "
                f"{r[-1] / 1e6:9.4g} M rec/s | {mbs:8.1f} MB/s | {per:6.2f} B/rec")


def _timed(fn: Callable[[], int], repeats: int,
           prepare: Callable[[], None] | None = None) -> tuple[list[float], int]:
    """Seconds of each of ``repeats`` calls of ``fn`` after a warm-up one; ``prepare`` runs
    untimed before every call (clearing the last run's output)."""
    if prepare is not None:
        prepare()
    fn()  # warm up: compilation, caches, page faults of first use
    times, size = [], 0
    for _ in range(repeats):
        if prepare is not None:
            prepare()
        started = time.perf_counter()
        size = fn()
        times.append(time.perf_counter() - started)
    return times, size


# ---- TeleCrunch ----

def _kernel_passes(path: Path, records: int, first_id: int = 0):
    """A function making ``records`` records of ``path``'s schema from ``first_id`` on, in
    process, as a worker makes a shard: blocks into a reused buffer, statistics summarized
    once, at the end."""
    import telecrunch
    from telecrunch.fused import FusedBlocks

    fast = FusedBlocks(telecrunch.load_schema(path))

    def run() -> int:
        size = 0
        fast.begin(first_id)
        for start in range(first_id, first_id + records, BLOCK):
            payload, _ = fast.pack(1, start, min(BLOCK, first_id + records - start))
            size += len(payload)
        fast.summary()
        return size

    return run


def kernel(path: Path, records: int, repeats: int, name: str) -> Result:
    """In-process generate + pack on one core, blocks into a reused buffer."""
    times, size = _timed(_kernel_passes(path, records), repeats)
    return Result(name, records, times, size)


def _kernel_pass_of(path: Path, records: int, first_id: int):
    return _kernel_passes(path, records, first_id), None


def _shares(total: int, parts: int) -> list[int]:
    """``total`` cut into ``parts`` whole shares that differ by at most one."""
    return [total // parts + (i < total % parts) for i in range(parts)]


def _write_passes(folder: Path, nbytes: int, files: int, write: int):
    """A function writing ``nbytes`` of prepared bytes into ``files`` new files under
    ``folder``, ``write`` bytes a call, as a worker writes a shard's blocks; and one removing
    them (untimed)."""
    chunk = np.random.default_rng(0).bytes(write)
    per_file = _shares(nbytes, files)

    def run() -> int:
        folder.mkdir(parents=True, exist_ok=True)
        for i, size in enumerate(per_file):
            with open(folder / f"{i}.bin", "wb", buffering=0) as file:
                for start in range(0, size, write):
                    file.write(chunk[:min(write, size - start)])
        return nbytes

    return run, lambda: shutil.rmtree(folder, ignore_errors=True)


def _process(make: Callable, args: tuple, repeats: int, barrier, results) -> None:
    run, prepare = make(*args)
    if prepare is not None:
        prepare()
    run()  # warm-up: the kernel loaded, buffers made
    times = []
    for _ in range(repeats):
        if prepare is not None:
            prepare()
        barrier.wait()  # every process starts each pass together
        started = time.perf_counter()
        size = run()
        times.append(time.perf_counter() - started)
    results.put((times, size))


def _at_once(name: str, make: Callable, args: list[tuple], records: int,
             repeats: int) -> Result:
    """``make(*a)`` for each ``a`` of ``args`` in a process of its own, all passes started
    together: a pass takes as long as its slowest process."""
    import multiprocessing

    processes = len(args)
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(processes), context.Queue()
    workers = [context.Process(target=_process, args=(make, a, repeats, barrier, results))
               for a in args]
    for worker in workers:
        worker.start()
    done: list = []
    try:
        while len(done) < processes:
            try:
                done.append(results.get(timeout=1))
            except queue.Empty:
                if any(w.exitcode not in (None, 0) for w in workers):
                    raise RuntimeError(f"a process of the bench's {name} failed") from None
    finally:
        for worker in workers:  # one failed: the others wait at the barrier for ever
            worker.join(timeout=0 if len(done) < processes else 60)
            if worker.is_alive():
                worker.kill()
    seconds = [max(times[i] for times, _ in done) for i in range(repeats)]
    return Result(name, records, seconds, sum(size for _, size in done))


def kernel_processes(path: Path, records: int, repeats: int, processes: int) -> Result:
    """The kernel in ``processes`` processes at once, each on its own records, as the
    workers of a local cluster run it: the most the machine's cores make together right now,
    the ceiling of end to end."""
    return _at_once(f"kernel, {processes} processes at once", _kernel_pass_of,
                    [(path, records, i * records) for i in range(processes)],
                    records * processes, repeats)


def write_floor(folder: Path, records: int, record_bytes: float, files: int, repeats: int,
                processes: int = 2) -> Result:
    """Prepared bytes, as many as end to end writes for ``records`` records, written into
    ``files`` new files by ``processes`` processes at once: what the machine's file system
    takes through the page cache right now, the other ceiling of end to end."""
    nbytes = round(records * record_bytes)
    write = round(BLOCK * record_bytes)
    args = [(folder / str(i), size, max(count, 1), write) for i, (size, count) in
            enumerate(zip(_shares(nbytes, processes), _shares(files, processes), strict=True))]
    result = _at_once(f"write floor, {processes} processes", _write_passes, args, records,
                      repeats)
    shutil.rmtree(folder, ignore_errors=True)
    return result


def end_to_end(address: str, out: Path, records: int, repeats: int, name: str,
               compression: str = "none") -> Result:
    """``telecrunch.generate`` of the reference schema on a running cluster."""
    import telecrunch

    schema = telecrunch.load_schema(REFERENCE)
    sizes = []

    def clear() -> None:  # deleting the last run's files is no part of generating
        shutil.rmtree(out, ignore_errors=True)

    def run() -> int:
        manifest = telecrunch.generate(schema, records, out, seed=1, cluster=address,
                                       shard_records=max(records // SHARDS, BLOCK),
                                       compression=compression)
        sizes.append(sum(manifest.bytes_by_format().values()))
        return sizes[-1]

    times, size = _timed(run, repeats, clear)
    return Result(name, records, times, size)


def read_back(out: Path, repeats: int) -> list[Result]:
    """``open_dataset(...).read()`` of the whole dataset on one core (new columns: the
    system's fresh pages are part of it) and on all (its default), and the same records as
    ``batches(reuse=True)``."""
    import telecrunch

    ds = telecrunch.open_dataset(out)
    size = sum(ds.manifest.bytes_by_format().values())
    times, _ = _timed(lambda: len(ds.read(threads=1)), repeats)
    whole = Result("read (decode, 1 core)", len(ds), times, size)
    times, _ = _timed(lambda: len(ds.read()), repeats)
    threaded = Result("read (decode, all cores)", len(ds), times, size)

    def batches() -> int:
        return sum(len(batch) for batch in ds.batches(reuse=True))

    times, _ = _timed(batches, repeats)
    return [whole, threaded, Result("read batches, reused, 1 core", len(ds), times, size)]


# ---- baselines ----

# (name, number of values) of the reference update record, and the kind draw and jitter
FIELDS = [("temperature", 16501), ("voltage", 5001), ("status", 5), ("ok", 2),
          ("counter", 1 << 20), ("rssi", 121)]
WIDTHS = [15, 13, 3, 1, 20, 7]


def numpy_pcg64(records: int, repeats: int) -> Result:
    """The floor: numpy's PCG64 merely drawing the reference record's 8 random values."""
    gen = np.random.Generator(np.random.PCG64(1))

    def run() -> int:
        for start in range(0, records, BLOCK):
            n = min(BLOCK, records - start)
            gen.random(n)  # kind
            gen.integers(0, 1_000_001, n)  # jitter
            for _, count in FIELDS:
                gen.integers(0, count, n)
        return 0

    times, _ = _timed(run, repeats)
    return Result("numpy PCG64 draw floor", records, times)


def numpy_vectorized(records: int, repeats: int) -> Result:
    """A vectorized numpy generate + bit-pack of the same update frames (kind, 40-bit time,
    14-bit device, the six fields: 114 bits, records back to back)."""
    gen = np.random.Generator(np.random.PCG64(2))
    record_bits = 114
    u = np.uint64

    def run() -> int:
        size = 0
        for start in range(0, records, BLOCK):
            n = min(BLOCK, records - start)
            ids = np.arange(start, start + n, dtype=np.uint64)
            ticks = (ids // u(10000)) * u(10_000_000_000) + gen.integers(0, 1_000_001, n,
                                                                           dtype=np.uint64)
            lo = (ticks & u((1 << 40) - 1)) << u(1) | (ids % u(10000)) << u(41)
            hi = np.zeros(n, np.uint64)
            offset = 55
            for (_, count), width in zip(FIELDS, WIDTHS, strict=True):
                code = gen.integers(0, count, n, dtype=np.uint64)
                if offset >= 64:
                    hi |= code << u(offset - 64)
                elif offset + width <= 64:
                    lo |= code << u(offset)
                else:
                    lo |= code << u(offset)
                    hi |= code >> u(64 - offset)
                offset += width
            words = np.zeros((n * record_bits + 63) // 64 + 2, np.uint64)
            bit = np.arange(n, dtype=np.uint64) * u(record_bits)
            word, shift = bit >> u(6), bit & u(63)
            carry = np.where(shift == 0, u(0), lo >> (u(64) - shift))
            carry_hi = np.where(shift == 0, u(0), hi >> (u(64) - shift))
            for phase in range(3):  # records 3 apart share no word: plain scatter is safe
                sel = slice(phase, None, 3)
                w = word[sel].astype(np.int64)
                words[w] |= lo[sel] << shift[sel]
                words[w + 1] |= carry[sel] | hi[sel] << shift[sel]
                words[w + 2] |= carry_hi[sel]
            size += (n * record_bits + 7) // 8
        return size

    times, size = _timed(run, repeats)
    return Result("numpy vectorized gen+pack", records, times, size)


def naive_python(records: int, repeats: int) -> Result:
    """Per-value Python: random draws and a bit packer on Python integers."""
    rnd = random.Random(3)

    def run() -> int:
        out = bytearray()
        carry, fill = 0, 0  # bits not yet written as whole bytes
        for i in range(records):
            values = [(rnd.random() < 0.01, 1), ((i // 10000) * 10_000_000_000
                      + rnd.randrange(1_000_001) & ((1 << 40) - 1), 40), (i % 10000, 14)]
            values += [(rnd.randrange(count), width)
                       for (_, count), width in zip(FIELDS, WIDTHS, strict=True)]
            for value, width in values:
                carry |= int(value) << fill
                fill += width
                while fill >= 8:
                    out.append(carry & 0xFF)
                    carry >>= 8
                    fill -= 8
        return len(out)

    times, size = _timed(run, repeats)
    return Result("naive Python packer", records, times, size)


def faker_struct(records: int, repeats: int) -> Result | None:
    """Faker values + struct.pack (only when the optional faker package is installed)."""
    try:
        from faker import Faker
    except ImportError:
        return None
    import struct

    fake = Faker()
    Faker.seed(4)

    def run() -> int:
        out = bytearray()
        for i in range(records):
            out += struct.pack("<?QHHHBBIb", fake.pybool(), i * 10, i % 10000,
                               fake.pyint(0, 16500), fake.pyint(0, 5000), fake.pyint(0, 4),
                               fake.pyint(0, 1), fake.pyint(0, 1 << 20), fake.pyint(-120, 0))
        return len(out)

    times, size = _timed(run, repeats)
    return Result("Faker + struct.pack", records, times, size)


# ---- the run ----

def _peak_rss_mib() -> float:
    """This process's peak resident set (VmHWM), in MiB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _worker_rss(client) -> float:
    rss = client.run(_peak_rss_mib)
    return max(rss.values()) if rss else 0.0


def run_bench(records: int = 40_000_000, repeats: int = 3, out: str | None = None,
              quick: bool = False, echo: Callable[[str], None] = print) -> list[Result]:
    """Measure everything, print the report, return the results."""
    from distributed import Client

    from telecrunch.cluster import start_local_cluster

    if quick:
        records, repeats = min(records, 4_000_000), 2
    kernel_records = min(records, 16_000_000)
    # where users write: files through the page cache (tmpfs took new pages at about half
    # the rate of the disk's page cache on the development machine)
    base = Path(out) if out else Path(tempfile.gettempdir())
    folder = Path(tempfile.mkdtemp(prefix="telecrunch-bench-", dir=base))
    echo(f"telecrunch bench: reference workload (jobs/reference_schema.yaml), {records:,} "
         f"records end to end, {repeats} repeats")
    echo(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
         f"output in {folder}")
    results: list[Result] = []

    def add(result: Result | None) -> None:
        if result is not None:
            results.append(result)
            echo(result.line())

    echo(f"{'name':<28} | {'min':>9} {'median':>9} {'max':>9}   rate    |  output     | size")
    one_core = kernel(REFERENCE, kernel_records, repeats, "kernel, 1 core")
    add(one_core)
    add(kernel_processes(REFERENCE, kernel_records, repeats, 2))
    add(kernel(REALISTIC, kernel_records // 4, repeats, "kernel realistic, 1 core"))
    add(numpy_pcg64(kernel_records, repeats))
    add(numpy_vectorized(kernel_records // 4, repeats))
    add(naive_python(50_000, repeats))
    add(faker_struct(5_000, repeats))
    add(write_floor(folder / "floor", records, one_core.bytes / one_core.records, SHARDS,
                    repeats))
    worker_rss = 0.0
    try:
        for workers in (2, 1):
            # the cluster `telecrunch generate` starts, as it starts it
            with start_local_cluster(workers) as lc, Client(lc) as client:
                address = lc.scheduler_address
                add(end_to_end(address, folder / "e2e", records, repeats,
                               f"end to end, {workers} worker{'s' if workers > 1 else ''}"))
                if workers == 2:
                    add(end_to_end(address, folder / "lz4", records, repeats,
                                   "end to end lz4, 2 workers", "lz4"))
                    shutil.rmtree(folder / "lz4", ignore_errors=True)
                    for result in read_back(folder / "e2e", repeats):
                        add(result)
                worker_rss = max(worker_rss, _worker_rss(client))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    by = {r.name: r for r in results}
    echo("ratios of medians:")
    for a, b in [("end to end, 2 workers", "kernel, 2 processes at once"),
                 ("end to end, 2 workers", "write floor, 2 processes"),
                 ("kernel, 2 processes at once", "kernel, 1 core"),
                 ("end to end, 2 workers", "numpy PCG64 draw floor"),
                 ("end to end, 2 workers", "naive Python packer"),
                 ("end to end, 2 workers", "end to end, 1 worker"),
                 ("end to end lz4, 2 workers", "end to end, 2 workers"),
                 ("kernel, 1 core", "numpy PCG64 draw floor"),
                 ("kernel, 1 core", "numpy vectorized gen+pack"),
                 ("kernel, 1 core", "naive Python packer"),
                 ("kernel realistic, 1 core", "kernel, 1 core"),
                 ("read (decode, all cores)", "read (decode, 1 core)"),
                 ("end to end, 2 workers", "Faker + struct.pack")]:
        if a in by and b in by:
            echo(f"  {a} / {b} = {by[a].median / by[b].median:.2f}")
    echo(f"peak RSS: bench process {_peak_rss_mib():.0f} MiB (it decodes whole datasets), "
         f"largest worker {worker_rss:.0f} MiB")
    return results
