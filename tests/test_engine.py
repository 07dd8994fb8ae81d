"""The engine end to end: shards, manifest, chunking and cluster independence, reading back."""

from __future__ import annotations

import random

import numpy as np
import orjson
import pytest

import telecrunch
from telecrunch.columns import Columns
from telecrunch.dataset import open_dataset
from telecrunch.errors import DatasetError, FormatError
from telecrunch.generation import generate_columns
from telecrunch.manifest import MANIFEST_NAME

from .conftest import DEMO_SCHEMA, run_cli

RECORDS = 120_000
SEED = 11


def shard_bytes(folder) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.glob("part-*.tcs"))}


@pytest.fixture(scope="module")
def schema():
    return telecrunch.load_schema(DEMO_SCHEMA)


@pytest.fixture(scope="module")
def reference(schema):
    """The records generated in one piece, in memory."""
    return generate_columns(schema, SEED, 0, RECORDS)


@pytest.fixture(scope="module")
def datasets(tmp_path_factory, cluster_address):
    """The same job with shard sizes 1,000 and 37,000, on sync and on the process cluster."""
    base = tmp_path_factory.mktemp("engine")
    made = {}
    for shard_records, cluster in [(37_000, "sync"), (37_000, cluster_address),
                                   (1_000, cluster_address)]:
        label = f"{shard_records}-{'sync' if cluster == 'sync' else 'cluster'}"
        out = base / label
        result = run_cli("generate", DEMO_SCHEMA, "--records", RECORDS, "--out", out, "--seed",
                         SEED, "--shard-records", shard_records, "--block-records", 10_000,
                         "--cluster", cluster, "--quiet")
        assert result.returncode == 0, result.stderr
        made[label] = out
    return made


def test_shard_sizes_and_clusters_decode_to_the_same_records(datasets, reference):
    for label, folder in datasets.items():
        columns = open_dataset(folder).read()
        assert columns.differences(reference) == [], label


def test_same_shard_size_gives_byte_identical_files_on_any_cluster(datasets):
    sync = shard_bytes(datasets["37000-sync"])
    cluster = shard_bytes(datasets["37000-cluster"])
    assert len(sync) == 4  # 3 full shards and a last one of 9,000 records
    assert sync == cluster


def test_manifest_tracks_every_shard(datasets):
    folder = datasets["1000-cluster"]
    manifest = orjson.loads((folder / MANIFEST_NAME).read_bytes())
    assert manifest["complete"] is True
    assert manifest["id_range"] == [0, RECORDS]
    shards = manifest["shards"]
    assert len(shards) == RECORDS // 1000
    assert [s["first_id"] for s in shards] == list(range(0, RECORDS, 1000))
    for shard in shards:
        (entry,) = shard["files"]
        assert (folder / entry["path"]).stat().st_size == entry["bytes"]
        assert shard["stats"]["records"] == 1000
    assert manifest["totals"]["records"] == RECORDS
    assert manifest["stats"]["records"] == RECORDS
    assert not (folder / ".telecrunch").exists()


def test_reading_random_id_ranges_matches_generation(datasets, schema):
    ds = open_dataset(datasets["37000-cluster"])
    rng = random.Random(5)
    for _ in range(12):
        a = rng.randrange(0, RECORDS)
        b = rng.randrange(a, min(RECORDS, a + 50_000) + 1)
        got = ds.read(ids=slice(a, b))
        assert got.differences(generate_columns(schema, SEED, a, b)) == [], (a, b)
    assert len(ds.read(ids=slice(5, 5))) == 0


def test_pandas_and_dask_views_agree(datasets, reference):
    ds = open_dataset(datasets["37000-cluster"])
    frame = ds.to_pandas()
    assert list(frame.index[:3]) == [0, 1, 2]
    np.testing.assert_array_equal(frame["temperature"].to_numpy()[reference.present("temperature")],
                                  reference["temperature"][reference.present("temperature")])
    lazy = ds.to_dask()
    assert lazy.npartitions == 4
    computed = lazy.compute(scheduler="sync")
    assert computed.equals(frame)


def test_inspect_reports_summary_and_statistics(datasets, reference):
    result = run_cli("inspect", datasets["37000-sync"], "--json")
    assert result.returncode == 0, result.stderr
    doc = orjson.loads(result.stdout)
    assert doc["records"] == RECORDS
    assert doc["shards"] == 4
    assert doc["kinds"]["event"] == int((reference.kind == 1).sum())
    temp = reference["temperature"][reference.present("temperature")]
    assert doc["fields"]["temperature"]["min"] == temp.min()
    assert doc["fields"]["temperature"]["max"] == temp.max()
    assert doc["fields"]["temperature"]["mean"] == pytest.approx(temp.mean(), rel=1e-12)
    assert doc["fields"]["temperature"]["std"] == pytest.approx(temp.std(), rel=1e-9)
    text = run_cli("inspect", datasets["37000-sync"])
    assert "bytes/record" in text.stdout.replace("B/record", "bytes/record")
    assert "temperature" in text.stdout


def test_python_api_generates_and_reads(tmp_path, schema):
    manifest = telecrunch.generate(schema, 5_000, tmp_path / "api", seed=3, cluster="sync",
                                   shard_records=2_000)
    assert [s.records for s in manifest.shards] == [2000, 2000, 1000]
    columns = telecrunch.open_dataset(tmp_path / "api").read()
    assert columns.differences(generate_columns(schema, 3, 0, 5_000)) == []


def test_first_id_offsets_the_whole_range(tmp_path, schema):
    telecrunch.generate(schema, 3_000, tmp_path / "off", seed=3, cluster="sync",
                        first_id=10_000, shard_records=1_000)
    ds = open_dataset(tmp_path / "off")
    assert (ds.manifest.first_id, ds.manifest.id_stop) == (10_000, 13_000)
    got = ds.read(slice(10_500, 12_500))
    assert got.differences(generate_columns(schema, 3, 10_500, 12_500)) == []


def test_output_goes_through_fsspec_urls(schema):
    """Any fsspec filesystem: here the in-memory one (workers of a real cluster need a shared
    one, e.g. s3://; sync runs in this process)."""
    import fsspec

    url = "memory://telecrunch-test/ds"
    try:
        telecrunch.generate(schema, 4_000, url, seed=2, cluster="sync", shard_records=1_500)
        fs = fsspec.filesystem("memory")
        names = sorted(p.rsplit("/", 1)[-1] for p in fs.ls("/telecrunch-test/ds", detail=False))
        assert names == ["manifest.json", "part-000000.tcs", "part-000001.tcs",
                         "part-000002.tcs"]
        got = open_dataset(url).read(ids=slice(1_000, 3_500))
        assert got.differences(generate_columns(schema, 2, 1_000, 3_500)) == []
        from telecrunch.verify import verify_dataset

        assert verify_dataset(url) == []
    finally:
        fsspec.filesystem("memory").rm("/telecrunch-test", recursive=True)


def test_threads_in_one_worker_each_get_their_own_kernel(schema):
    """A fused kernel's output buffer and walk state belong to one thread: a worker running
    tasks in several threads (the threads cluster, most Dask deployments) must not share
    one. (Shared, two threads corrupted 37 of 40 blocks.)"""
    from concurrent.futures import ThreadPoolExecutor

    from telecrunch.tasks import fast_blocks

    here = fast_blocks(schema)
    assert here is fast_blocks(schema)  # kept within a thread
    with ThreadPoolExecutor(2) as pool:
        others = list(pool.map(lambda _: fast_blocks(schema), range(2)))
    assert here is not others[0] and here is not others[1]

    def blocks(starts):
        kernel = fast_blocks(schema)
        return [bytes(kernel.block(SEED, start, 20_000)[0]) for start in starts]

    starts = list(range(0, 400_000, 20_000))
    want = [bytes(kernel.block(SEED, start, 20_000)[0]) for kernel in [here] for start in starts]
    with ThreadPoolExecutor(2) as pool:
        halves = list(pool.map(blocks, [starts[0::2], starts[1::2]]))
    assert halves[0] == want[0::2] and halves[1] == want[1::2]


def test_threads_cluster_writes_the_same_shards_as_sync(tmp_path, schema):
    for cluster in ("sync", "threads"):
        telecrunch.generate(schema, 160_000, tmp_path / cluster, seed=SEED, cluster=cluster,
                            workers=2, shard_records=20_000, block_records=5_000)
    assert shard_bytes(tmp_path / "threads") == shard_bytes(tmp_path / "sync")


def _copy(batch):
    return batch.take(np.arange(len(batch)))  # an index array copies (a slice would view)


@pytest.mark.parametrize("reuse", [False, True])
def test_batches_are_the_records_in_order(datasets, reference, reuse):
    ds = open_dataset(datasets["37000-cluster"])  # blocks of 10,000 and 7,000 records
    block_ends = {e.first_id + e.records for shard in ds.shards
                  for e in ds.shard_reader(shard).entries}
    for size, ids in [(25_000, None), (1, slice(36_995, 37_004)), (7_777, slice(999, 101_000))]:
        start, stop = (0, RECORDS) if ids is None else (ids.start, ids.stop)
        got = [_copy(batch) for batch in ds.batches(size, ids, reuse=reuse)]
        for batch in got:  # cut where blocks end, or in pieces of a block longer than a batch
            end = int(batch.ids[-1]) + 1
            assert 0 < len(batch) <= size and (end in block_ends | {stop} or len(batch) == size)
        if size == 25_000:  # whole blocks while they fit: the next block would not have
            for batch, after in zip(got, got[1:], strict=False):
                nxt = min(e for e in block_ends if e > int(after.ids[0]))
                assert len(batch) + nxt - int(after.ids[0]) > size
        assert Columns.concat(got).differences(
            reference.take(slice(start, stop))) == [], (size, ids)


def test_reused_batches_share_one_buffer(datasets):
    ds = open_dataset(datasets["37000-cluster"])
    batches = ds.batches(10_000, reuse=True)
    first = next(batches)
    ids = first.ids.copy()
    later = next(batches)
    assert np.shares_memory(first.ids, later.ids)
    assert np.shares_memory(first["temperature"], later["temperature"])
    assert int(later.ids[0]) == 10_000 and not np.array_equal(first.ids, ids)


def test_reused_batches_read_zero_where_a_kind_lacks_a_field(tmp_path):
    """Every type of column, in the kind most records have and in a rarer one: where a
    record's kind lacks the field, a reused batch holds what a fresh read does (zero, False,
    an empty string), whatever the batch before held there."""
    doc = telecrunch.load_schema(DEMO_SCHEMA.parent / "reference_schema.yaml").to_doc()
    doc["kinds"]["event"]["rate"] = 0.2  # events in every batch, at other places each time
    for kind in ("update", "event"):
        doc["kinds"][kind]["fields"].update({
            f"{kind}_text": {"type": "string", "max_length": 6, "alphabet": "ascii"},
            f"{kind}_flag": {"type": "bool"},
            f"{kind}_f32": {"type": "float", "encoding": "binary32", "min": -1, "max": 1},
            f"{kind}_level": {"type": "enum", "values": ["low", "high"]}})
    schema = telecrunch.load_schema(doc)
    telecrunch.generate(schema, 20_000, tmp_path / "kinds", seed=5, cluster="sync",
                        block_records=1_000)
    ds = open_dataset(tmp_path / "kinds")
    whole = ds.read()
    got = Columns.concat([_copy(b) for b in ds.batches(1_000, reuse=True)])
    assert got.differences(whole) == []
    assert (whole["update_text"][whole.kind == 1] == b"").all()  # a fresh read's zeros


def test_batches_carry_the_anomaly_labels(tmp_path):
    schema = telecrunch.load_schema(DEMO_SCHEMA.parent / "fleet_schema.yaml")
    telecrunch.generate(schema, 30_000, tmp_path / "fleet", seed=3, cluster="sync",
                        shard_records=7_000)
    ds = open_dataset(tmp_path / "fleet")
    whole = ds.read()
    assert whole.labels.any()
    for reuse in (False, True):
        got = Columns.concat([_copy(b) for b in ds.batches(4_096, reuse=reuse)])
        assert got.differences(whole) == [], reuse
        np.testing.assert_array_equal(got.labels, whole.labels)


@pytest.mark.parametrize("records", [0, -5, 2.5, True])
def test_batches_of_a_bad_size_are_refused(datasets, records):
    ds = open_dataset(datasets["37000-cluster"])
    with pytest.raises(DatasetError, match="records"):
        next(ds.batches(records))


def test_a_task_error_on_the_cluster_reaches_the_caller(tmp_path, cluster_address):
    doc = DEMO_SCHEMA.read_text().replace("bits: 32", "bits: 12")  # blocks overflow the time
    (tmp_path / "narrow.yaml").write_text(doc)
    schema = telecrunch.load_schema(tmp_path / "narrow.yaml")
    with pytest.raises(FormatError, match="time.bits"):
        telecrunch.generate(schema, 100_000, tmp_path / "ds", cluster=cluster_address,
                            shard_records=10_000)
    assert not (tmp_path / "ds").exists()  # nothing made: nothing left


def test_a_failed_task_ends_the_run_once_no_worker_runs_another_of_its_tasks(
        tmp_path, cluster_address):
    """One task fails while another still writes and a third waits for a worker (or has
    just started on the failed one's): the run's error reaches the caller only once every
    task of the run has written all it will, so that the caller's clean-up comes after the
    run's last write."""
    import time
    from pathlib import Path

    from distributed import Client

    from telecrunch.cluster import DaskRunner, unfinished_tasks

    def task(delay: float, marker: str | None) -> int:
        time.sleep(delay)
        if marker is None:
            raise ValueError("boom")
        Path(marker).write_text("written")
        return 1

    slow, later = tmp_path / "slow", tmp_path / "later"
    calls = [("stop-test-fail", (0.3, None)), ("stop-test-slow", (2.0, str(slow))),
             ("stop-test-later", (3.0, str(later)))]
    with Client(cluster_address) as client:
        with pytest.raises(ValueError, match="boom"):
            list(DaskRunner(client, "test").run(task, calls))
        assert slow.read_text() == "written"
        written = later.exists()  # the third task ran to its end, or never will
        held = client.run(unfinished_tasks, [key for key, _ in calls])
        assert list(held.values()) == [[], []]
    time.sleep(3.5)  # a third task still running would have written by now
    assert later.exists() == written


def test_unfinished_tasks_are_those_a_worker_runs_or_may_still_start():
    from types import SimpleNamespace

    from telecrunch.cluster import unfinished_tasks

    states = {"a": "executing", "b": "cancelled", "c": "ready", "d": "memory", "e": "error",
              "f": "released"}
    worker = SimpleNamespace(state=SimpleNamespace(tasks={
        key: SimpleNamespace(state=state) for key, state in states.items()}))
    assert unfinished_tasks(["a", "b", "c", "d", "e", "f", "g"], dask_worker=worker) == [
        "a", "b", "c"]


def test_the_callers_client_is_used_and_each_run_makes_its_shards_again(tmp_path, schema,
                                                                        cluster_address):
    """A notebook's client connected to the scheduler serves the runs and stays open; a
    second run of the same job (files deleted in between) makes every shard again, not the
    first run's results the scheduler may still hold under the same job."""
    import shutil

    from distributed import Client, get_task_stream

    from telecrunch.engine import run_job
    from telecrunch.job import make_job

    out = tmp_path / "ds"
    job = make_job(schema, records=40_000, out=str(out), seed=SEED, shard_records=10_000,
                   cluster=cluster_address)
    keys = []
    with Client(cluster_address) as client:
        for _ in range(2):
            shutil.rmtree(out, ignore_errors=True)
            seen = []
            with get_task_stream(client) as stream:
                manifest = run_job(job, on_start=lambda runner, _, seen=seen:
                                   seen.append(runner.client))
            keys.append({task["key"] for task in stream.data})
            assert seen == [client]
            assert manifest.timings["shards_made"] == 4
            assert len(list(out.glob("part-*.tcs"))) == 4
            assert telecrunch.open_dataset(out).read().ids.tolist() == list(range(40_000))
        assert client.status == "running"
    assert len(keys[0]) == len(keys[1]) == 4 and not keys[0] & keys[1]  # none shared


def test_the_embedded_cluster_runs_quiet_workers_and_keeps_the_users_settings(tmp_path, schema,
                                                                             monkeypatch):
    """The cluster a run starts itself has worker processes with TeleCrunch's allocator settings
    and without distributed's 10 ms stack sampler (cluster.QUIET_CLUSTER); a setting the user
    chose stands, and the caller's configuration and environment are as they were after the
    run (distributed leaves its workers' variables in the spawning process)."""
    import os

    # distributed imported first: its defaults must be in dask's config before the set below,
    # or the set creates "distributed" and removes all of it on exit
    import dask
    import distributed  # noqa: F401

    from telecrunch.engine import run_job
    from telecrunch.job import make_job

    def probe():
        import os

        import dask

        return (dask.config.get("distributed.worker.profile.enabled"),
                dask.config.get("distributed.admin.tick.interval"),
                dask.config.get("distributed.admin.system-monitor.interval"),
                os.environ.get("MALLOC_TRIM_THRESHOLD_"), os.environ.get("OMP_NUM_THREADS"))

    # as in a fresh process (another cluster started by this one may have left them set)
    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_", raising=False)
    for name in ("PYTHONHASHSEED", "__DASK_PARENT_PID"):  # distributed sets them to spawn
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OMP_NUM_THREADS", "3")  # the user's own: it wins, as distributed has it
    environ = dict(os.environ)
    seen = []
    job = make_job(schema, records=2_000, out=str(tmp_path / "ds"), seed=SEED, cluster="local",
                   workers=1)
    with dask.config.set({"distributed.admin.tick.interval": "250ms"}):
        run_job(job, on_start=lambda runner, _: seen.extend(runner.client.run(probe).values()))
        assert dask.config.get("distributed.worker.profile.enabled") is True
        assert dask.config.get("distributed.admin.tick.interval") == "250ms"
    assert seen == [(False, "250ms", "5s", str(256 << 20), "3")]
    assert dict(os.environ) == environ


def test_small_shards_go_several_to_a_task_on_the_cluster(tmp_path, schema, cluster_address):
    """120 shards of 1,000 records on 2 worker threads: 8 tasks of 15 shards (plan_tasks),
    each shard still its own file, receipt and progress call, the same bytes as one by one."""
    from distributed import Client, get_task_stream

    from telecrunch.engine import run_job
    from telecrunch.job import make_job

    seen = []
    job = make_job(schema, records=120_000, out=str(tmp_path / "ds"), seed=SEED,
                   shard_records=1_000, cluster=cluster_address)
    with Client(cluster_address) as client, get_task_stream(client) as stream:
        manifest = run_job(job, on_shard=lambda entry, reused: seen.append(entry.index))
    assert len({task["key"] for task in stream.data}) == 8
    assert sorted(seen) == list(range(120)) and manifest.timings["shards_made"] == 120
    telecrunch.generate(schema, 120_000, tmp_path / "sync", seed=SEED, cluster="sync",
                        shard_records=1_000)
    assert shard_bytes(tmp_path / "ds") == shard_bytes(tmp_path / "sync")
    assert len(shard_bytes(tmp_path / "ds")) == 120


def test_a_shard_task_returns_its_entries_as_json_bytes(tmp_path):
    """Dask sizes a task's result by walking it; the entries travel as JSON bytes instead,
    and read back as the entries the shards' receipts hold (kept shards marked so)."""
    from telecrunch.engine import task_payload
    from telecrunch.job import make_job
    from telecrunch.plan import plan_shards
    from telecrunch.tasks import RECEIPTS, make_shards, shard_results

    out = tmp_path / "d"
    job = make_job(telecrunch.load_schema(DEMO_SCHEMA), records=3_000, out=str(out),
                   shard_records=1_000, seed=4)
    payload = task_payload(job)
    shards = plan_shards(0, 3_000, 1_000)
    data = make_shards(payload, shards[:2], [None, None])
    assert isinstance(data, bytes)
    results = shard_results(data)
    assert [(doc["index"], reused) for doc, reused in results] == [(0, False), (1, False)]
    for shard, (doc, _) in zip(shards, results, strict=False):
        receipt = orjson.loads((out / RECEIPTS / f"{shard.name}.json").read_bytes())
        assert doc == receipt["entry"]
    assert shard_results(make_shards(payload, shards[:1], [results[0][0]])) == [
        (results[0][0], True)]
