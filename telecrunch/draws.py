"""What a signal function sees of the records it generates values for."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from telecrunch import rng
from telecrunch.schema import TimeSpec


@dataclass(frozen=True)
class Draws:
    """The records of one field in one batch, and their counter-based random streams.

    ``key`` is the field's stream key; every helper derives a named sub-stream from it, so a
    signal's draws for different purposes never collide, and depend only on record identity.
    """

    key: np.uint64
    ids: np.ndarray  # uint64 record IDs
    source: np.ndarray  # int64 source of each record
    seq: np.ndarray  # int64: the record is its source's seq-th
    time: np.ndarray  # int64 ns timestamps
    clock: TimeSpec
    values: Mapping[str, np.ndarray] = field(default_factory=dict)  # fields made before
    field_specs: Mapping[str, object] = field(default_factory=dict)  # their schema fields
    caches: dict | None = None  # per-field state a signal may keep between calls (same values)
    clock_sources: int = 0  # number of sources, for caches indexed by source

    def __len__(self) -> int:
        return len(self.ids)

    def stream(self, purpose: str) -> np.uint64:
        return rng.stream_key(self.key, purpose)

    def uniform(self, purpose: str = "uniform") -> np.ndarray:
        """Doubles in [0, 1), one per record."""
        return rng.uniform_array(self.stream(purpose), self.ids)

    def normal(self, purpose: str = "normal") -> np.ndarray:
        """Standard normal doubles, one per record."""
        return rng.normal_array(self.stream(purpose), self.ids)

    def below(self, n: int, purpose: str = "below") -> np.ndarray:
        """Integers in [0, n) as uint64, one per record (n may be 2**64)."""
        if n == 1 << 64:
            return rng.bits_array(self.stream(purpose), self.ids)
        return rng.below_array(self.stream(purpose), self.ids, np.uint64(n))

    def per_source_uniform(self, sources: np.ndarray, purpose: str) -> np.ndarray:
        """Doubles in [0, 1), one per given source ID: a per-device parameter."""
        return rng.uniform_array(self.stream(purpose), sources.astype(np.uint64))

    def subset(self, index: np.ndarray) -> Draws:
        return Draws(self.key, self.ids[index], self.source[index], self.seq[index],
                     self.time[index], self.clock,
                     {k: v[index] for k, v in self.values.items()}, self.field_specs,
                     self.caches, self.clock_sources)

    def with_time(self, time: np.ndarray) -> Draws:
        return Draws(self.key, self.ids, self.source, self.seq, time, self.clock, self.values,
                     self.field_specs, self.caches, self.clock_sources)

    def seconds(self) -> np.ndarray:
        """Seconds since time.start, as doubles."""
        return (self.time - self.clock.start).astype(np.float64) / 1e9
