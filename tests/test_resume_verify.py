"""Resume after a kill, refusal to overwrite, and verify's diagnoses."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time

import pytest

from telecrunch.dataset import open_dataset

from .conftest import DEMO_SCHEMA, ROOT, TELECRUNCH, run_cli

RECORDS = 400_000
SHARD = 10_000
SEED = 23


def generate_args(out, cluster):
    return ["generate", DEMO_SCHEMA, "--records", RECORDS, "--out", out, "--seed", SEED,
            "--shard-records", SHARD, "--block-records", 5_000, "--cluster", cluster, "--quiet"]


def receipts(out):
    folder = out / ".telecrunch" / "done"
    return sorted(p.name for p in folder.glob("part-*.json")) if folder.exists() else []


def busy_tasks(dask_worker=None):
    from telecrunch.cluster import FINISHED

    return [key for key, task in dask_worker.state.tasks.items() if task.state not in FINISHED]


def wait_until_the_workers_are_done(address, timeout=120):
    """The tasks of a killed client go on on the workers until they end (or are dropped
    before they start): wait until no worker holds one, twice in a row."""
    from distributed import Client

    deadline = time.monotonic() + timeout
    with Client(address) as client:
        quiet = 0
        while quiet < 2:
            assert time.monotonic() < deadline, "the workers are still busy"
            quiet = 0 if any(client.run(busy_tasks).values()) else quiet + 1
            time.sleep(0.1)


def shard_state(out):
    return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in out.glob("part-*.tcs")}


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, cluster_address):
    out = tmp_path_factory.mktemp("whole") / "ds"
    result = run_cli(*generate_args(out, cluster_address))
    assert result.returncode == 0, result.stderr
    return out


def test_killed_job_resumes_without_redoing_shards_and_ends_identical(
        tmp_path, cluster_address, uninterrupted):
    out = tmp_path / "ds"
    args = [*TELECRUNCH, *map(str, generate_args(out, cluster_address))]
    proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 240
    while len(receipts(out)) < 4:
        assert proc.poll() is None, proc.stderr.read().decode()
        assert time.monotonic() < deadline, "no shard finished in time"
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (out / "manifest.json").exists()
    done_before = receipts(out)
    assert 4 <= len(done_before) < RECORDS // SHARD
    wait_until_the_workers_are_done(cluster_address)
    before = shard_state(out)
    kept = {name.replace(".json", ".tcs") for name in done_before}

    refused = run_cli(*[a for a in generate_args(out, cluster_address)])
    assert refused.returncode == 2
    assert "--resume" in refused.stderr

    result = run_cli(*generate_args(out, cluster_address), "--resume")
    assert result.returncode == 0, result.stderr
    after = shard_state(out)
    for name in kept:
        assert after[name] == before[name], f"{name} was rewritten"
    whole = {p.name: p.read_bytes() for p in uninterrupted.glob("part-*.tcs")}
    resumed = {p.name: p.read_bytes() for p in out.glob("part-*.tcs")}
    assert resumed == whole
    assert open_dataset(out).manifest.timings["shards_kept"] >= len(kept)
    assert not any(p.name.startswith(".") for p in out.iterdir())
    assert run_cli("verify", out).returncode == 0


def test_refuses_a_folder_holding_another_jobs_dataset(uninterrupted, tmp_path):
    out = tmp_path / "copy"
    shutil.copytree(uninterrupted, out)
    other_seed = ["generate", DEMO_SCHEMA, "--records", RECORDS, "--out", out, "--seed", 99,
                  "--shard-records", SHARD, "--cluster", "sync", "--resume"]
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    result = run_cli(*other_seed)
    assert result.returncode == 2
    assert "different job" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_refuses_a_non_empty_folder_that_is_no_dataset(tmp_path):
    out = tmp_path / "busy"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    result = run_cli("generate", DEMO_SCHEMA, "--records", 100, "--out", out, "--cluster", "sync")
    assert result.returncode == 2
    assert "not empty" in result.stderr
    assert (out / "notes.txt").read_text() == "keep me"


def test_resume_of_a_complete_dataset_repairs_only_damaged_shards(uninterrupted, tmp_path):
    out = tmp_path / "repair"
    shutil.copytree(uninterrupted, out)
    victim = out / "part-000007.tcs"
    victim.write_bytes(victim.read_bytes()[:-100])
    before = shard_state(out)
    args = [a for a in generate_args(out, "sync")]
    result = run_cli(*args, "--resume")
    assert result.returncode == 0, result.stderr
    after = shard_state(out)
    changed = {name for name in before if before[name] != after[name]}
    assert changed == {"part-000007.tcs"}
    assert victim.read_bytes() == (uninterrupted / "part-000007.tcs").read_bytes()


@pytest.fixture
def damaged(uninterrupted, tmp_path):
    out = tmp_path / "damaged"
    shutil.copytree(uninterrupted, out)
    return out


def test_verify_accepts_a_whole_dataset(uninterrupted):
    result = run_cli("verify", uninterrupted, "--deep")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "OK" in result.stdout


def test_verify_finds_a_flipped_bit(damaged):
    path = damaged / "part-000003.tcs"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x10
    path.write_bytes(bytes(data))
    result = run_cli("verify", damaged)
    assert result.returncode == 3
    (line,) = result.stdout.strip().splitlines()
    assert "part-000003.tcs: checksum mismatch" in line


def test_verify_finds_a_truncated_shard(damaged):
    path = damaged / "part-000005.tcs"
    path.write_bytes(path.read_bytes()[:1234])
    result = run_cli("verify", damaged)
    assert result.returncode == 3
    (line,) = result.stdout.strip().splitlines()
    assert "part-000005.tcs: truncated: 1234 bytes" in line


def test_verify_finds_a_missing_shard(damaged):
    (damaged / "part-000009.tcs").unlink()
    result = run_cli("verify", damaged)
    assert result.returncode == 3
    (line,) = result.stdout.strip().splitlines()
    assert line.endswith("part-000009.tcs: missing")


def test_verify_finds_an_extra_file(damaged):
    (damaged / "stray.bin").write_bytes(b"x")
    result = run_cli("verify", damaged)
    assert result.returncode == 3
    (line,) = result.stdout.strip().splitlines()
    assert "stray.bin: unexpected file" in line


def test_verify_reports_each_problem_on_its_own_line(damaged):
    (damaged / "part-000001.tcs").unlink()
    (damaged / "stray.bin").write_bytes(b"x")
    path = damaged / "part-000002.tcs"
    path.write_bytes(path.read_bytes()[:-1])
    result = run_cli("verify", damaged)
    assert result.returncode == 3
    assert len(result.stdout.strip().splitlines()) == 3


def _record_file(folder, index: int, path) -> None:
    """Make the manifest's entry of shard ``index`` agree with the file as it is now."""
    import orjson

    from telecrunch.storage import file_checksum, open_fs

    manifest_path = folder / "manifest.json"
    doc = orjson.loads(manifest_path.read_bytes())
    fs, _ = open_fs(str(folder))
    size, digest = file_checksum(fs, str(path))
    doc["shards"][index]["files"][0].update(bytes=size, xxh3=digest)
    manifest_path.write_bytes(orjson.dumps(doc))


def test_deep_verify_catches_a_consistent_but_wrong_manifest(damaged):
    """A shard rewritten with another seed, manifest checksums updated to match."""
    from telecrunch import load_schema
    from telecrunch.codecs import CODECS
    from telecrunch.produce import shard_bytes

    schema = load_schema(DEMO_SCHEMA)
    path = damaged / "part-000004.tcs"
    path.write_bytes(shard_bytes(schema, 1234, 4 * SHARD, SHARD, CODECS["none"], 5_000))
    _record_file(damaged, 4, path)
    assert run_cli("verify", damaged).returncode == 0
    deep = run_cli("verify", damaged, "--deep")
    assert deep.returncode == 3
    assert "differ from a fresh generation" in deep.stdout


@pytest.mark.parametrize("fused", ["1", "0"])
def test_deep_verify_compares_bytes_by_either_generator(damaged, monkeypatch, fused):
    """Deep verify makes each block again (by the fused kernel, or the reference path where
    it is off) and compares bytes: a padding bit set past the last record, checksums made to
    match, decodes to the same records and is still found."""
    from telecrunch.shardfile import BLOCK_HEADER, ShardReader, checksum
    from telecrunch.verify import verify_dataset

    monkeypatch.setenv("TELECRUNCH_FUSED", fused)
    assert verify_dataset(damaged, deep=True) == []
    path = damaged / "part-000006.tcs"
    data = bytearray(path.read_bytes())
    ds = open_dataset(damaged)
    reader = ShardReader(bytes(data), ds.layout)
    head = reader.block_header(1)
    assert head.payload_bits % 8  # the last byte has spare bits
    at = reader.entries[1].offset + BLOCK_HEADER.size
    data[at + head.stored_size - 1] |= 0x80
    stored = bytes(data[at:at + head.stored_size])
    data[at - 8:at] = checksum(head.head_bytes(), stored).to_bytes(8, "little")
    path.write_bytes(bytes(data))
    _record_file(damaged, 6, path)
    assert ShardReader(bytes(data), ds.layout).block(1).differences(reader.block(1)) == []
    assert verify_dataset(damaged) == []  # every checksum agrees
    (problem,) = verify_dataset(damaged, deep=True)
    assert str(problem) == ("part-000006.tcs: block 1: bytes differ from a fresh generation "
                            "(the records decode alike)")


def test_a_run_that_fails_on_bad_input_leaves_no_trace(tmp_path):
    schema = tmp_path / "narrow.yaml"
    schema.write_text(DEMO_SCHEMA.read_text().replace("bits: 32", "bits: 12"))
    out = tmp_path / "ds"
    result = run_cli("generate", schema, "-n", 100_000, "-o", out, "--cluster", "sync")
    assert result.returncode == 2
    assert "time.bits" in result.stderr
    assert not out.exists()  # so the fixed schema can run into the same folder
    fixed = run_cli("generate", DEMO_SCHEMA, "-n", 1000, "-o", out, "--cluster", "sync", "-q")
    assert fixed.returncode == 0, fixed.stderr


def test_deep_verify_of_random_walks_after_another_seed_in_the_same_thread(tmp_path):
    """The fused kernel keeps each source's walk state between blocks; deep verify, made
    again in a thread that generated another seed and range just before, must agree."""
    from telecrunch import generate, load_schema
    from telecrunch.verify import verify_dataset

    schema = load_schema(ROOT / "jobs" / "reference_realistic_schema.yaml")
    generate(schema, 200_000, tmp_path / "a", seed=3, cluster="sync", shard_records=70_000)
    generate(schema, 150_000, tmp_path / "b", seed=4, cluster="sync", shard_records=60_000,
             first_id=10_000_000)
    assert verify_dataset(tmp_path / "a", deep=True) == []
    assert verify_dataset(tmp_path / "b", deep=True) == []
