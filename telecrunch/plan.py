"""The plan: a job's ID range cut into shards. A plain list; one task per shard."""

from __future__ import annotations

from dataclasses import dataclass

SHARD_NAME = "part-{index:06d}"


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
