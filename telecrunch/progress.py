"""A live progress line: shards done, records/s, MB/s, ETA."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from telecrunch.manifest import ShardEntry


def human_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1000
    return f"{n:.1f} TB"  # pragma: no cover


def human_count(n: float) -> str:
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(n) >= scale:
            return f"{n / scale:.2f}{unit}"
    return f"{n:.0f}"


class Progress:
    """Prints one line that updates in place on a terminal (a line per update otherwise)."""

    def __init__(self, total_records: int, total_shards: int, stream: TextIO | None = None,
                 min_interval: float = 0.5):
        self.total_records = total_records
        self.total_shards = total_shards
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.min_interval = min_interval if self.tty else 5.0
        self.started = time.perf_counter()
        self.records = 0
        self.bytes = 0
        self.shards = 0
        self.kept = 0
        self._last = 0.0

    def shard_done(self, entry: ShardEntry, reused: bool) -> None:
        self.shards += 1
        self.records += entry.records
        if reused:
            self.kept += 1
        else:
            self.bytes += sum(f.bytes for f in entry.files)
        now = time.perf_counter()
        if now - self._last >= self.min_interval or self.shards == self.total_shards:
            self._last = now
            self._print(self.line(now), final=self.shards == self.total_shards)

    def line(self, now: float | None = None) -> str:
        elapsed = max((now or time.perf_counter()) - self.started, 1e-9)
        rate = self.records / elapsed
        left = self.total_records - self.records
        eta = f"{left / rate:.0f}s" if rate > 0 and left > 0 else "0s"
        kept = f", {self.kept} kept" if self.kept else ""
        return (f"shards {self.shards}/{self.total_shards}{kept} | records "
                f"{human_count(self.records)}/{human_count(self.total_records)} | "
                f"{human_count(rate)} rec/s | {human_bytes(self.bytes / elapsed)}/s | "
                f"ETA {eta}")

    def _print(self, text: str, final: bool) -> None:
        if self.tty:
            self.stream.write("\r\x1b[2K" + text + ("\n" if final else ""))
        else:
            self.stream.write(text + "\n")
        self.stream.flush()
