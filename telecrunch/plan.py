"""The plan: a job's ID range cut into shards, and the shards into tasks (runs of consecutive
shards). Plain lists."""

from __future__ import annotations

import math
from dataclasses import dataclass

SHARD_NAME = "part-{index:06d}"

# A Dask task costs the scheduler, the client and the worker about 3 ms of CPU here whatever it
# does, as much as 150,000 records: a task makes at least this many records where the job
# allows, and a run of small shards (the default is 1,000,000 records) goes to one task.
TASK_RECORDS = 4_000_000
TASKS_PER_THREAD = 4  # at least, where there are shards enough: the cores stay busy to the end


@dataclass(frozen=True)
class ShardPlan:
    """One shard: records [first_id, first_id + records), written as ``name`` + extension."""

    index: int
    first_id: int
    records: int

    @property
    def name(self) -> str:
        return SHARD_NAME.format(index=self.index)

    @property
    def id_stop(self) -> int:
        return self.first_id + self.records


def plan_shards(first_id: int, records: int, shard_records: int) -> list[ShardPlan]:
    """Consecutive shards of ``shard_records`` records (the last may hold fewer)."""
    return [
        ShardPlan(i, start, min(shard_records, first_id + records - start))
        for i, start in enumerate(range(first_id, first_id + records, shard_records))
    ]


def plan_tasks(shards: list[ShardPlan], threads: int) -> list[list[ShardPlan]]:
    """``shards`` cut into runs of consecutive shards, one task each: runs of at least
    TASK_RECORDS records, but at least TASKS_PER_THREAD runs for each of ``threads`` worker
    threads while there are shards for them, all runs of the same count but the last. With no
    thread known yet (a cluster still starting its workers), a task per shard."""
    if not shards:
        return []
    if threads < 1:
        return [[shard] for shard in shards]
    size = max(shards[0].records, 1)
    per_task = min(math.ceil(TASK_RECORDS / size),
                   len(shards) // (TASKS_PER_THREAD * threads))
    per_task = max(per_task, 1)
    return [shards[i:i + per_task] for i in range(0, len(shards), per_task)]
