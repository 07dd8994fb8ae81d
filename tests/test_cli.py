"""The command line: jobs, flags and their one-line errors (exit status 2, no traceback)."""

from __future__ import annotations

import orjson
import pytest

from .conftest import DEMO_SCHEMA, ROOT, run_cli


def assert_one_line_error(result, *fragments: str) -> str:
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize("args, fragments", [
    (["--records", "abc"], ["--records", "abc"]),
    (["--records", "10", "--compression", "brotli"], ["--compression", "brotli"]),
    (["--records", "10", "--formats", "binary,parquet"], ["--formats", "parquet"]),
    (["--records", "10", "--bogus"], ["--bogus"]),
    (["--records", "-5"], ["records", "-5"]),
    (["--records", "10", "--shard-records", "0"], ["shard_records", "0"]),
    (["--records", "10", "--cluster", "nowhere"], ["cluster", "nowhere"]),
    (["--records", "10", "--cluster", "missing.yaml"], ["cluster", "missing.yaml"]),
])
def test_bad_generate_flags_get_one_line_and_status_2(tmp_path, args, fragments):
    result = run_cli("generate", DEMO_SCHEMA, "--out", tmp_path / "o", *args)
    assert_one_line_error(result, *fragments)
    assert not (tmp_path / "o").exists()


def test_missing_records_flag_is_a_usage_error(tmp_path):
    assert_one_line_error(run_cli("generate", DEMO_SCHEMA, "--out", tmp_path / "o"),
                          "--records")


def test_unknown_command_is_a_usage_error():
    assert_one_line_error(run_cli("explode"), "explode")


def write_job(tmp_path, **keys) -> str:
    doc = {"schema": str(DEMO_SCHEMA), "records": 5000, "out": str(tmp_path / "out"),
           "shard_records": 2000, "cluster": "sync", **keys}
    path = tmp_path / "job.yaml"
    path.write_text(orjson.dumps(doc).decode())
    return str(path)


@pytest.mark.parametrize("keys, fragments", [
    ({"colour": "blue"}, ["colour", "unknown key"]),
    ({"records": "many"}, ["records", "many"]),
    ({"formats": ["binary", "xml"]}, ["formats.1", "xml"]),
    ({"compression": "rar"}, ["compression", "rar"]),
    ({"seed": -1}, ["seed"]),
    ({"block_records": 0}, ["block_records"]),
    ({"schema": "nope.yaml"}, ["nope.yaml", "not found"]),
])
def test_bad_job_files_name_the_key(tmp_path, keys, fragments):
    assert_one_line_error(run_cli("run", write_job(tmp_path, **keys)), *fragments)


def test_job_file_with_an_invalid_schema_names_the_schema_path(tmp_path):
    schema = tmp_path / "s.yaml"
    schema.write_text("name: s\nkinds:\n  update:\n    fields:\n      t: {type: int, min: 5, "
                      "max: 1}\n")
    assert_one_line_error(run_cli("run", write_job(tmp_path, schema=str(schema))),
                          "kinds.update.fields.t.max", "got 1")


def test_rerunning_a_job_resumes_and_keeps_finished_shards(tmp_path):
    job = write_job(tmp_path)
    first = run_cli("run", job, "--quiet")
    assert first.returncode == 0, first.stderr
    shards = sorted((tmp_path / "out").glob("part-*.tcs"))
    assert len(shards) == 3
    stamps = [p.stat().st_mtime_ns for p in shards]
    again = run_cli("run", job)
    assert again.returncode == 0, again.stderr
    assert [p.stat().st_mtime_ns for p in shards] == stamps
    assert "3 kept" in again.stderr
    manifest = orjson.loads((tmp_path / "out" / "manifest.json").read_bytes())
    assert manifest["timings"]["shards_kept"] == 3


def test_demo_job_file_runs(tmp_path):
    result = run_cli("run", ROOT / "jobs" / "demo.yaml", "--out", tmp_path / "demo", "--records",
                     20_000, "--cluster", "sync")
    assert result.returncode == 0, result.stderr
    assert f"dataset   {tmp_path / 'demo'}" in result.stdout
    assert "records   20,000" in result.stdout


def test_cluster_spec_needing_a_missing_package_says_what_to_install(tmp_path):
    spec = tmp_path / "k.yaml"
    spec.write_text("kind: kubernetes\noptions: {}\n")
    result = run_cli("generate", DEMO_SCHEMA, "-n", 10, "-o", tmp_path / "o", "--cluster", spec)
    assert_one_line_error(result, "dask-kubernetes")
    assert not (tmp_path / "o").exists()


def test_cluster_spec_with_unknown_kind_is_refused(tmp_path):
    spec = tmp_path / "c.yaml"
    spec.write_text("kind: mainframe\n")
    result = run_cli("generate", DEMO_SCHEMA, "-n", 10, "-o", tmp_path / "o", "--cluster", spec)
    assert_one_line_error(result, "kind", "mainframe")


def test_cluster_spec_file_runs_a_local_cluster(tmp_path):
    result = run_cli("generate", DEMO_SCHEMA, "-n", 3000, "-o", tmp_path / "o", "--cluster",
                     ROOT / "cluster" / "threads.yaml", "--quiet")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "o" / "manifest.json").exists()


def test_inspect_of_a_folder_without_dataset_is_an_error(tmp_path):
    assert_one_line_error(run_cli("inspect", tmp_path), "not a TeleCrunch dataset")


def test_verify_of_a_folder_without_manifest_reports_damage(tmp_path):
    result = run_cli("verify", tmp_path)
    assert result.returncode == 3
    assert "manifest.json: missing" in result.stdout


@pytest.mark.parametrize("job", ["fleet.yaml", "reference.yaml"])
def test_shipped_job_files_run(tmp_path, job):
    result = run_cli("run", ROOT / "jobs" / job, "--out", tmp_path / "ds", "--records", 3000,
                     "--cluster", "sync", "--quiet")
    assert result.returncode == 0, result.stderr
    assert run_cli("verify", tmp_path / "ds").returncode == 0


def test_decoding_from_a_missing_shard_names_it_in_one_line(tmp_path):
    out = tmp_path / "ds"
    made = run_cli("generate", DEMO_SCHEMA, "--records", 3_000, "--out", out,
                   "--shard-records", 1_000, "--cluster", "sync", "--quiet")
    assert made.returncode == 0, made.stderr
    (out / "part-000001.tcs").unlink()
    assert run_cli("decode", out, "--to", "jsonl", "--ids", "0:5").returncode == 0  # shard 0
    line = assert_one_line_error(run_cli("decode", out, "--to", "jsonl", "--ids", "1500:1505"),
                                 "part-000001.tcs", "missing")
    assert line.startswith(f"error: {out}/part-000001.tcs: missing")
    (out / "part-000001.tcs").mkdir()  # something else in its place
    assert_one_line_error(run_cli("decode", out, "--to", "jsonl", "--ids", "1500:1505"),
                          "part-000001.tcs: cannot be read")
