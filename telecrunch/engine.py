"""Run a job: plan shards, run them on the cluster (runs of consecutive shards, a task each),
write the manifest last.

The dataset folder's state decides what happens:

* empty or new: the job's identity is recorded in ``.telecrunch/job.json``, then shards run;
* an unfinished run of the same job (``--resume``): shards with an intact receipt are kept,
  the others are made again;
* a complete dataset of the same job (``--resume``): damaged or missing shards are made again;
* anything else (another job's dataset, a folder of other files): refused, never overwritten.

Shard files appear under their final names only when whole; the manifest is written once every
shard is done, and the run's state folder is removed after it.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Callable
from typing import Any

import orjson

from telecrunch import __version__
from telecrunch.cluster import open_runner
from telecrunch.errors import DatasetError, FormatError, TeleCrunchError
from telecrunch.job import Job
from telecrunch.manifest import MANIFEST_NAME, Manifest, ShardEntry
from telecrunch.plan import ShardPlan, plan_shards, plan_tasks
from telecrunch.sinks import format_options, prepare_formats
from telecrunch.stats import empty_stats, merge
from telecrunch.storage import is_temporary, join, open_fs, write_atomic
from telecrunch.tasks import RECEIPTS, STATE_DIR, check_payload, make_shards, shard_results

JOB_STATE = f"{STATE_DIR}/job.json"


def task_payload(job: Job) -> dict[str, Any]:
    """What every shard task needs: small, and the same for all of them."""
    return {
        "schema": orjson.dumps(job.schema.to_doc()).decode(),  # key order is meaning
        "seed": job.spec.seed,
        "out": job.spec.out,
        "formats": list(job.spec.formats),
        "compression": job.spec.compression,
        "block_records": job.spec.block_records,
        "identity": job.identity_token(),
        "options": format_options(job),  # checks that every format can carry the job
    }


def _read_bytes(fs: Any, path: str) -> bytes:
    with fs.open(path, "rb") as f:
        return f.read()


def _read_json(fs: Any, path: str) -> Any:
    return orjson.loads(_read_bytes(fs, path))


def prepare(job: Job, resume: bool) -> dict[int, dict]:
    """Check the output folder and return the shards already known (index -> entry dict)."""
    fs, root = open_fs(job.spec.out)
    identity = job.identity()
    token = job.identity_token()
    out = job.spec.out
    if fs.exists(join(root, MANIFEST_NAME)):
        try:
            manifest = Manifest.from_json(_read_bytes(fs, join(root, MANIFEST_NAME)))
        except FormatError as exc:
            raise DatasetError(out, f"holds an unreadable manifest ({exc}); choose another "
                               "output folder", has_got=False) from None
        same = {k: manifest.job.get(k) for k in identity} == identity
        if not same:
            raise DatasetError(out, "holds a different job's dataset (schema, seed, range, "
                               "shards or formats differ); choose another output folder",
                               has_got=False)
        if not resume:
            raise DatasetError(out, "already holds this dataset; pass --resume to check it and "
                               "remake missing or damaged shards", has_got=False)
        known = {s.index: s.to_dict() for s in manifest.shards}
        write_atomic(fs, join(root, JOB_STATE), orjson.dumps({"job": token,
                                                              "identity": identity}))
        return known
    state = join(root, JOB_STATE)
    if fs.exists(state):
        recorded = _read_json(fs, state)
        if recorded.get("job") != token:
            raise DatasetError(out, "holds an unfinished run of a different job; choose another "
                               "output folder", has_got=False)
        if not resume:
            raise DatasetError(out, "holds an unfinished run of this job; pass --resume to "
                               "continue it", has_got=False)
        _remove_temporaries(fs, root)
        return _receipts(fs, root, token)
    if fs.exists(root):
        if fs.ls(root, detail=False):
            raise DatasetError(out, "is not empty and holds no TeleCrunch dataset; choose an "
                               "empty or new folder", has_got=False)
    fs.makedirs(root, exist_ok=True)
    write_atomic(fs, state, orjson.dumps({"job": token, "identity": identity}))
    return {}


def _receipts(fs: Any, root: str, token: str) -> dict[int, dict]:
    known = {}
    folder = join(root, RECEIPTS)
    if not fs.exists(folder):
        return known
    for path in fs.ls(folder, detail=False):
        name = path.rsplit("/", 1)[-1]
        if is_temporary(name) or not name.endswith(".json"):
            continue
        try:
            doc = _read_json(fs, path)
        except (orjson.JSONDecodeError, OSError):
            continue  # a damaged receipt: that shard is simply made again
        if doc.get("job") == token:
            entry = doc["entry"]
            known[int(entry["index"])] = entry
    return known


def _forget_run(fs: Any, root: str, existed: bool) -> None:
    """Remove what a run that made nothing left in a folder it found empty (or absent)."""
    if not existed:
        fs.rm(root, recursive=True)
        return
    for path in fs.ls(root, detail=False):
        fs.rm(path, recursive=True)


def _remove_temporaries(fs: Any, root: str) -> None:
    """Temporary files of a killed run: never part of a dataset."""
    for path in fs.find(root):
        if is_temporary(path.rsplit("/", 1)[-1]):
            fs.rm(path)


def run_job(job: Job, *, resume: bool = False, cluster: str | None = None,
            workers: int | None = None,
            on_start: Callable[[Any, list[ShardPlan]], None] | None = None,
            on_shard: Callable[[ShardEntry, bool], None] | None = None) -> Manifest:
    """Make the job's dataset and return its manifest.

    ``on_start(runner, shards)`` is called once the cluster is up; ``on_shard(entry, reused)``
    after each shard (for progress).
    """
    payload = task_payload(job)
    check_payload(payload)
    shards = plan_shards(job.spec.first_id, job.spec.records, job.spec.shard_records)
    fs, root = open_fs(job.spec.out)
    token = payload["identity"]
    entries: dict[int, ShardEntry] = {}
    made = 0
    with open_runner(cluster or job.spec.cluster, workers or job.spec.workers) as runner:
        existed = fs.exists(root)
        fresh = not existed or not fs.ls(root, detail=False)
        known = prepare(job, resume)  # once the cluster is up: a failed start leaves no trace
        try:
            files = prepare_formats(job, payload["options"])
            started = time.perf_counter()
            # keys of this run alone: a client kept between runs may still hold an earlier
            # run's results under the same job, and the scheduler would hand those back
            run_id = uuid.uuid4().hex[:8]
            calls = [(f"telecrunch-shards-{token}-{run_id}-{run[0].index}",
                      (payload, run, [known.get(s.index) for s in run]))
                     for run in plan_tasks(shards, runner.threads)]
            if on_start is not None:
                on_start(runner, shards)
            for results in runner.run(make_shards, calls):
                for doc, reused in shard_results(results):
                    entry = ShardEntry.from_dict(doc)
                    entries[entry.index] = entry
                    made += not reused
                    if on_shard is not None:
                        on_shard(entry, reused)
        except TeleCrunchError:
            if fresh and not entries:
                _forget_run(fs, root, existed)  # bad input, nothing made: leave it as it was
            raise
    wall = time.perf_counter() - started
    ordered = tuple(entries[s.index] for s in shards)
    stats = empty_stats(job.schema)
    for entry in ordered:
        stats = merge(stats, entry.stats)
    manifest = Manifest(
        tool_version=__version__,
        created=dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        job={"name": job.spec.name, **job.identity()},
        schema=job.schema.to_doc(),
        shards=ordered,
        stats=stats,
        timings={"wall_seconds": round(wall, 6), "shards_made": made,
                 "shards_kept": len(shards) - made,
                 "records_per_second": round(job.spec.records / wall, 1) if wall else None},
        complete=True,
        files=tuple(files),
    )
    write_atomic(fs, join(root, MANIFEST_NAME), manifest.to_json())
    fs.rm(join(root, STATE_DIR), recursive=True)
    return manifest
