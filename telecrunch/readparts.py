"""Cutting an ID range of a dataset into runs of whole blocks, one per reading thread."""

from __future__ import annotations

import os
from collections.abc import Sequence
from itertools import pairwise

MIN_PART = 1 << 18  # records: below this a thread costs more than it decodes


def default_threads() -> int:
    """The cores this process may run on."""
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except AttributeError:  # pragma: no cover - platforms without affinity
        return os.cpu_count() or 1


def read_parts(start: int, stop: int, shards: Sequence[tuple[int, int]], block: int | None,
               parts: int, min_part: int | None = None) -> list[tuple[int, int]]:
    """[start, stop) as at most ``parts`` consecutive ranges of about equal length, each of
    at least ``min_part`` records (default MIN_PART), cut where blocks end: a block cut in
    two would be decoded twice. ``shards`` are the (first ID, stop ID) of the dataset's
    shards in ID order; ``block``, the records per block counted from each shard's first ID
    (None: cut at shard ends only)."""
    total = stop - start
    count = min(parts, total // (min_part or MIN_PART)) if total > 0 else 0
    if count <= 1:
        return [(start, stop)] if total > 0 else []
    cuts = [start]
    k = 0  # the shard holding the target: targets only grow
    for part in range(1, count):
        target = start + total * part // count
        while shards[k][1] <= target:
            k += 1
        first, end = shards[k]
        if block:
            end = min(first + -(-(target - first) // block) * block, end)
        if cuts[-1] < end < stop:
            cuts.append(end)
    cuts.append(stop)
    return list(pairwise(cuts))
