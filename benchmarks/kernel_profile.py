"""Where a fused kernel's time goes: perf's samples put on the kernel's own instructions.

    .venv/bin/python benchmarks/kernel_profile.py SCHEMA [--seconds S] [--top N]

Needs Linux ``perf`` and binutils' ``objdump``. The kernel of SCHEMA runs block after block for
S seconds under ``perf record -e cpu-clock`` (a software clock, so it works on virtual machines
without hardware counters). Compiled code has no symbols perf can see, so the profiled process
writes its kernel's address range to ``/tmp/perf-PID.map`` (perf's convention for JIT code) and
its machine code to a file, which ``objdump`` disassembles. The report lists the kernel's hot
regions, hottest first: runs of instructions that took samples, with their share of the
kernel's samples, their length and their commonest instructions (``vpmuludq`` marks the
vectorized hashes, ``shlx``/``shrx`` the bit packer, ``vpcmpgtq``/``vblendvpd`` 64-bit min and
max). ``--annotate FILE`` writes every instruction with its share, to read a region whole.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

BLOCK = 65_536
WINDOW = 1 << 18  # the most code bytes read after the kernel's entry, within its mapping
SYMBOL = "telecrunch_kernel"
_INSTRUCTION = re.compile(r"^\s*([0-9a-f]+):\s+(?:[0-9a-f]{2} )+\s*(.*)$")


@dataclass
class Region:
    first: int  # index of its first instruction
    last: int  # index of its last
    share: float  # of the kernel's samples
    address: int
    mnemonics: list[tuple[str, int]]  # commonest first


def parse_objdump(text: str) -> list[tuple[int, str]]:
    """(address, instruction) of each line of ``objdump -D`` output that holds one."""
    out = []
    for line in text.splitlines():
        match = _INSTRUCTION.match(line)
        if match and match.group(2):
            out.append((int(match.group(1), 16), match.group(2).strip()))
    return out


def hot_regions(code: list[tuple[int, str]], samples: dict[int, int],
                gap: int = 25) -> list[Region]:
    """Runs of instructions with samples, split where ``gap`` instructions in a row took none
    (a loop's body is a few dozen instructions; cold set-up code separates loops), hottest
    first."""
    total = sum(samples.get(address, 0) for address, _ in code)
    if not total:
        return []
    runs: list[list[int]] = []
    quiet = gap + 1
    for i, (address, _) in enumerate(code):
        if samples.get(address, 0):
            if quiet > gap:
                runs.append([i, i])
            runs[-1][1] = i
            quiet = 0
        else:
            quiet += 1
    regions = []
    for first, last in runs:
        part = code[first: last + 1]
        hits = sum(samples.get(address, 0) for address, _ in part)
        names = Counter(text.split()[0] for _, text in part)
        regions.append(Region(first, last, hits / total, part[0][0], names.most_common(6)))
    return sorted(regions, key=lambda r: -r.share)


def report(regions: list[Region], top: int) -> list[str]:
    lines = [f"{'share':>7}  {'instructions':>12}  {'at':>12}  commonest"]
    for r in regions[:top]:
        common = ", ".join(f"{name} {count}" for name, count in r.mnemonics)
        lines.append(f"{100 * r.share:6.2f}%  {r.first:>5}-{r.last:<6}  {r.address:>12x}  {common}")
    return lines


# ---- the profiled process ----

def _mapping_end(address: int) -> int:
    """End of the memory mapping that holds ``address`` (so reading code never faults)."""
    for line in Path("/proc/self/maps").read_text().splitlines():
        low, high = (int(x, 16) for x in line.split()[0].split("-"))
        if low <= address < high:
            return high
    raise RuntimeError(f"no mapping holds {address:#x}")


def run_kernel(schema_path: str, seconds: float, out: Path) -> None:
    """Run the kernel for ``seconds``; leave its code, address and perf map behind."""
    import telecrunch
    from telecrunch import fused

    blocks = fused.FusedBlocks(telecrunch.load_schema(schema_path))
    blocks.block(1, 0, BLOCK)  # compiled (or loaded) and warm
    kernel = blocks.kernel
    compiled = kernel.overloads[kernel.signatures[0]]
    address = compiled.library.get_pointer_to_function(compiled.fndesc.llvm_func_name)
    size = min(WINDOW, _mapping_end(address) - address)
    (out / "code.bin").write_bytes(ctypes.string_at(address, size))
    (out / "address").write_text(str(address))
    (out / "pid").write_text(str(os.getpid()))
    Path(f"/tmp/perf-{os.getpid()}.map").write_text(f"{address:x} {size:x} {SYMBOL}\n")
    deadline = time.perf_counter() + seconds
    records = 0
    while time.perf_counter() < deadline:
        blocks.begin(0)
        for first in range(0, 4 * BLOCK * 16, BLOCK):
            blocks.pack(1, first, BLOCK)
            records += BLOCK
        blocks.summary()
    print(f"kernel_profile: {records:,} records in {seconds:g} s under perf", file=sys.stderr)


# ---- the parent: perf, objdump, the report ----

def _fail(message: str) -> int:
    print(f"kernel_profile: {message}", file=sys.stderr)
    return 2


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("schema")
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--top", type=int, default=20)
    parser.add_argument("--annotate", help="write every instruction with its share here")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        run_kernel(args.schema, args.seconds, Path(args.child))
        return 0
    import telecrunch
    from telecrunch import fused

    try:  # compiled here first, so that the profiled process loads it from the cache
        fused.FusedBlocks(telecrunch.load_schema(args.schema)).block(1, 0, 1)
    except telecrunch.TeleCrunchError as error:
        return _fail(str(error))
    except ValueError as error:  # a schema the fused kernel does not cover
        return _fail(f"{args.schema}: {error}")
    for tool in ("perf", "objdump"):
        if shutil.which(tool) is None:
            return _fail(f"{tool} is not installed (Debian: apt-get install "
                         f"{'linux-perf' if tool == 'perf' else 'binutils'})")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        data = work / "perf.data"
        child = [sys.executable, __file__, args.schema, "--seconds", str(args.seconds),
                 "--child", str(work)]
        done = subprocess.run(["perf", "record", "-q", "-e", "cpu-clock", "-F", "10000", "-o",
                               str(data), "--", *child])
        if done.returncode != 0 or not (work / "address").exists():
            return _fail(f"perf record failed (exit {done.returncode}); a "
                         "/proc/sys/kernel/perf_event_paranoid above 2 forbids it")
        address = int((work / "address").read_text())
        script = subprocess.run(["perf", "script", "-i", str(data), "-F", "ip,sym"],
                                capture_output=True, text=True, check=True).stdout
        Path(f"/tmp/perf-{(work / 'pid').read_text()}.map").unlink(missing_ok=True)
        samples: Counter[int] = Counter()
        everywhere = 0  # the process's samples, its start-up included
        for line in script.splitlines():
            parts = line.split()
            everywhere += bool(parts)
            if len(parts) >= 2 and parts[1] == SYMBOL:
                samples[int(parts[0], 16)] += 1
        dump = subprocess.run(["objdump", "-D", "-b", "binary", "-m", "i386:x86-64",
                               f"--adjust-vma={address}", str(work / "code.bin")],
                              capture_output=True, text=True, check=True).stdout
    code = parse_objdump(dump)
    total = sum(samples.values())
    print(f"{total} samples in the kernel ({args.schema}), {100 * total / max(everywhere, 1):.0f}% "
          "of the process's")
    for line in report(hot_regions(code, samples), args.top):
        print(line)
    if args.annotate:
        with open(args.annotate, "w") as out:
            for address, text in code:
                out.write(f"{100 * samples.get(address, 0) / max(total, 1):6.2f} "
                          f"{address:x} {text}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
