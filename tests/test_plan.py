"""Shards cut into tasks: runs of consecutive shards, sized against Dask's cost per task."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from telecrunch.plan import TASK_RECORDS, TASKS_PER_THREAD, plan_shards, plan_tasks


@given(st.integers(0, 5_000), st.integers(1, 3_000_000), st.integers(0, 64),
       st.integers(0, 10**12))
def test_tasks_are_runs_of_the_shards_in_order_and_keep_every_thread_busy(count, size,
                                                                         threads, first_id):
    shards = plan_shards(first_id, count * size, size)
    runs = plan_tasks(shards, threads)
    assert [s for run in runs for s in run] == shards
    if not shards:
        assert runs == []
        return
    if threads == 0:  # no worker yet: a task per shard, as a scaling cluster may grow
        assert all(len(run) == 1 for run in runs)
        return
    per_task = len(runs[0])
    assert all(len(run) == per_task for run in runs[:-1]) and 1 <= len(runs[-1]) <= per_task
    assert len(runs) >= min(len(shards), TASKS_PER_THREAD * threads)
    assert per_task == 1 or (per_task - 1) * size < TASK_RECORDS  # no more than needed
    if len(shards) >= TASKS_PER_THREAD * threads * math.ceil(TASK_RECORDS / size):
        assert per_task * size >= TASK_RECORDS


def test_the_default_shards_of_a_40_million_record_job_go_four_to_a_task_on_two_workers():
    runs = plan_tasks(plan_shards(0, 40_000_000, 1_000_000), 2)
    assert [len(run) for run in runs] == [4] * 10
    # big shards stay one to a task; few shards spread over the threads
    assert [len(r) for r in plan_tasks(plan_shards(0, 10**9, 25_000_000), 2)] == [1] * 40
    assert [len(r) for r in plan_tasks(plan_shards(0, 4_000_000, 1_000_000), 2)] == [1] * 4
