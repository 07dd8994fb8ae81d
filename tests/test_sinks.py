"""The suite every sink passes: datasets written through the real engine, read back with
independent readers (tests/sinkreaders.py) and compared value for value with a fresh
generation; then what is particular to the text files and the Zarr store."""

from __future__ import annotations

import copy
import os
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import orjson
import pytest
import yaml

import telecrunch
from telecrunch.cli import main
from telecrunch.errors import JobError
from telecrunch.formats.csv import column_names
from telecrunch.generation import generate_columns
from telecrunch.verify import verify_dataset
from telecrunch.zarrlayout import CHUNK_CAP, chunk_records

from .conftest import ROOT, TELECRUNCH, run_cli
from .influx import influxdb  # noqa: F401  (the fixture)
from .sinkreaders import (
    READERS,
    binary_columns,
    expected_records,
    manifest_of,
    plain_bytes,
    shard_files,
    tool_test,
    zarr_columns,
)
from .text_data import TRICKY

FORMATS = ("binary", "jsonl", "influx", "csv", "zarr")
TEXT = {"jsonl": ".jsonl", "influx": ".lp", "csv": ".csv"}
STREAM_SUFFIX = {"none": "", "lz4": ".lz4", "gzip": ".gz", "zstd": ".zst"}
FLEET = ROOT / "jobs" / "fleet_schema.yaml"

#: Every field type, three kinds (one without fields), text that needs escaping, and anomalies
#: that label records (some with two labels). ``mode`` loses TRICKY's label ending in a
#: backslash, which line protocol cannot carry as a tag.
SINK_DOC = copy.deepcopy(TRICKY)
SINK_DOC["name"] = "sinks"
SINK_DOC["kinds"]["reading"]["fields"]["mode"]["values"] = [
    "idle", 'run "fast"', "c:\\dir", "two words"]
SINK_DOC["kinds"]["alert"]["fields"]["x64"].update(min=-1e150, max=1e150)
SINK_DOC["anomalies"] = [
    {"kind": "spike", "fields": ["temp"], "rate": 0.02, "magnitude": [5, 10]},
    {"kind": "stuck", "fields": ["count", "level"], "rate": 0.01, "duration": [3, 8]},
    {"kind": "late", "rate": 0.03, "delay": "5s"},
]
SEED = 5


@pytest.fixture(scope="module")
def schema():
    return telecrunch.load_schema(SINK_DOC)


def make(schema, out: Path, records: int, formats, *, first_id: int = 0, shard: int = 1000,
         block: int = 300, compression: str = "none", cluster: str = "sync", seed: int = SEED,
         resume: bool = False):
    telecrunch.generate(schema, records, out, seed=seed, first_id=first_id, shard_records=shard,
                        block_records=block, formats=tuple(formats), compression=compression,
                        cluster=cluster, resume=resume)
    return out


def check_round_trip(schema, folder: Path, fmt: str, first_id: int, records: int) -> None:
    want = expected_records(generate_columns(schema, SEED, first_id, first_id + records), fmt)
    got = READERS[fmt](folder)
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert g == w, (fmt, g, w)
    assert verify_dataset(folder) == []


# ---- the shared suite: every format ----

@pytest.mark.parametrize("fmt", FORMATS)
def test_round_trip_gives_the_generated_records(schema, tmp_path, fmt):
    folder = make(schema, tmp_path / fmt, 2_500, [fmt])  # 3 shards, the last partial
    check_round_trip(schema, folder, fmt, 0, 2_500)
    assert len(manifest_of(folder).shards) == 3


@pytest.mark.parametrize("fmt", FORMATS)
def test_id_sub_range_gives_those_records(schema, tmp_path, fmt):
    folder = make(schema, tmp_path / fmt, 1_500, [fmt], first_id=7_000, shard=600, block=250)
    check_round_trip(schema, folder, fmt, 7_000, 1_500)


@pytest.mark.parametrize("fmt", FORMATS)
def test_empty_dataset_reads_back_empty(schema, tmp_path, fmt):
    folder = make(schema, tmp_path / fmt, 0, [fmt], first_id=40)
    assert READERS[fmt](folder) == []
    assert manifest_of(folder).shards == ()
    assert verify_dataset(folder) == []


@pytest.mark.parametrize("fmt", FORMATS)
def test_one_record_shards(schema, tmp_path, fmt):
    folder = make(schema, tmp_path / fmt, 5, [fmt], first_id=3, shard=1, block=1)
    assert len(manifest_of(folder).shards) == 5
    check_round_trip(schema, folder, fmt, 3, 5)


@pytest.mark.parametrize("compression", ["none", "lz4", "gzip", "zstd"])
@pytest.mark.parametrize("fmt", FORMATS)
def test_every_compression(schema, tmp_path, fmt, compression):
    folder = make(schema, tmp_path / fmt, 1_200, [fmt], shard=500, compression=compression)
    check_round_trip(schema, folder, fmt, 0, 1_200)
    if fmt not in TEXT:
        return  # binary compresses blocks, Zarr chunks (Blosc lz4): never the whole file
    for first, path in shard_files(folder, fmt):
        index = first // 500
        assert path.name == f"part-{index:06d}{TEXT[fmt]}{STREAM_SUFFIX[compression]}"
        if compression != "none":
            checked = tool_test(path)
            assert checked.returncode == 0, checked.stderr


def test_the_suite_covers_every_field_type_kinds_without_fields_and_labels(schema):
    types = {type(f).__name__ for f in schema.fields.values()}
    assert types == {"IntField", "BoolField", "EnumField", "TimestampField", "FloatField",
                     "StringField"}
    assert any(not k.fields for k in schema.kinds)
    columns = generate_columns(schema, SEED, 0, 2_500)
    counts = np.bincount([bin(int(m)).count("1") for m in columns.labels])
    assert counts[1] > 20 and counts[2] > 0  # records with one label and with two


# ---- all formats from one job ----

@pytest.fixture(scope="module", params=["sinks", "fleet"])
def everything(request, tmp_path_factory):
    """One job writing every format: the tricky schema, and the realistic fleet."""
    schema = telecrunch.load_schema(SINK_DOC if request.param == "sinks" else FLEET)
    folder = tmp_path_factory.mktemp("all") / request.param
    return schema, make(schema, folder, 3_000, FORMATS, shard=1_000, block=400,
                        compression="zstd")


def test_every_format_of_one_job_holds_the_same_records(everything):
    schema, folder = everything
    records = {fmt: READERS[fmt](folder) for fmt in FORMATS}
    assert len(records["binary"]) == 3_000
    assert any(r["labels"] for r in records["binary"])
    for fmt in FORMATS:
        want = [{k: v for k, v in r.items() if k != "labels" or fmt != "influx"}
                for r in records["binary"]]
        assert records[fmt] == want, fmt
    assert verify_dataset(folder) == []


def test_binary_and_zarr_hold_the_exact_values(everything):
    schema, folder = everything
    want = generate_columns(schema, SEED, 0, 3_000)
    for columns in (binary_columns(folder), zarr_columns(folder)):
        assert columns.differences(want) == []
        assert np.array_equal(columns.labels, want.labels)


def test_every_csv_file_starts_with_the_header(everything):
    schema, folder = everything
    header = ",".join(column_names(schema)) + "\n"
    assert header.endswith(",labels\n")
    for _, path in shard_files(folder, "csv"):
        assert plain_bytes(path).decode().startswith(header)


# ---- the Zarr store ----

def test_zarr_store_is_self_describing_and_chunked_along_shards(everything):
    import zarr

    schema, folder = everything
    group = zarr.open_group(folder / "data.zarr", mode="r")
    names = ["id", "kind", schema.time.field, schema.sources.field, *schema.fields, "labels"]
    assert sorted(group.array_keys()) == sorted(names)
    meta = group.attrs["telecrunch"]
    assert meta["labels"] == list(schema.labels)
    assert meta["kinds"] == [k.name for k in schema.kinds]
    for name in names:
        array = group[name]
        assert array.shape == (3_000,)
        assert array.chunks == (1_000,)
        assert array.metadata.dimension_names == ("record",)
        (blosc,) = array.compressors
        assert blosc.cname.value == "lz4"
    for name, field in schema.fields.items():
        attrs = group[name].attrs
        assert attrs["kind"] == schema.kind_of_field[name].name
        if field.type == "enum":
            assert attrs["values"] == list(field.values)
        if field.type == "timestamp":
            assert attrs["units"] == "nanoseconds since 1970-01-01"
        if field.type == "float" and field.encoding == "quantized":
            assert attrs["resolution"] == field.resolution
    assert group[schema.time.field].attrs["units"] == "nanoseconds since 1970-01-01"
    manifest = manifest_of(folder)
    listed = {f.path for f in manifest.files}
    assert listed == {"data.zarr/zarr.json", *(f"data.zarr/{n}/zarr.json" for n in names)}
    for shard in manifest.shards:
        chunks = {f.path for f in shard.files if f.format == "zarr"}
        assert chunks == {f"data.zarr/{n}/c/{shard.index}" for n in names}


def test_zarr_chunks_divide_the_shard_size():
    assert chunk_records(1_000_000, 10**9) == 250_000
    assert chunk_records(1 << 20, 10**9) == CHUNK_CAP
    assert chunk_records(37_000, 10**9) == 37_000
    assert chunk_records(1_000_000, 5_000) == 5_000  # one shard: one chunk, no padding
    assert chunk_records(7, 0) == 1
    with pytest.raises(JobError) as error:
        chunk_records(1_000_003, 10**9)  # a prime
    assert error.value.place == "shard_records"


def test_a_shard_size_zarr_cannot_tile_is_refused_before_anything_is_written(tmp_path):
    out = tmp_path / "ds"
    result = run_cli("generate", FLEET, "--records", 2_000_006, "--out", out,
                     "--shard-records", 1_000_003, "--formats", "zarr", "--cluster", "sync",
                     "--quiet")
    assert result.returncode == 2
    assert result.stderr.startswith("error: shard_records: Zarr chunks must tile")
    assert len(result.stderr.strip().splitlines()) == 1
    assert not out.exists()


def test_formats_refuse_what_they_cannot_carry_before_anything_is_written(tmp_path):
    influx = telecrunch.load_schema(TRICKY)  # an enum tag label ends in a backslash
    with pytest.raises(JobError) as error:
        make(influx, tmp_path / "a", 10, ["influx"])
    assert error.value.place == "kinds.reading.fields.mode.values.2"
    labelled = copy.deepcopy(SINK_DOC)
    labelled["kinds"]["alert"]["fields"]["labels"] = {"type": "bool"}
    for fmt in ("jsonl", "csv", "zarr"):
        with pytest.raises(JobError) as error:
            make(telecrunch.load_schema(labelled), tmp_path / fmt, 10, [fmt])
        assert error.value.place == "kinds.alert.fields.labels"
    assert not any(tmp_path.iterdir())


# ---- verify and resume ----

def _flip(path: Path, at: int) -> None:
    data = bytearray(path.read_bytes())
    data[at] ^= 0x40
    path.write_bytes(bytes(data))


def test_verify_finds_a_damaged_zarr_chunk_and_a_damaged_jsonl_gz(schema, tmp_path):
    folder = make(schema, tmp_path / "ds", 2_000, ["zarr", "jsonl"], compression="gzip")
    assert verify_dataset(folder) == []
    chunk = folder / "data.zarr" / "temp" / "c" / "1"
    text = folder / "part-000000.jsonl.gz"
    _flip(chunk, chunk.stat().st_size // 2)
    _flip(text, text.stat().st_size // 2)
    (folder / "data.zarr" / "note" / "zarr.json").unlink()
    (folder / "data.zarr" / "temp" / "c" / "9").write_bytes(b"stray")
    problems = {p.place: p.message for p in verify_dataset(folder)}
    assert problems.keys() == {"data.zarr/temp/c/1", "part-000000.jsonl.gz",
                               "data.zarr/note/zarr.json", "data.zarr/temp/c/9"}
    assert problems["data.zarr/temp/c/1"].startswith("checksum mismatch")
    assert problems["part-000000.jsonl.gz"].startswith("checksum mismatch")
    assert problems["data.zarr/note/zarr.json"] == "missing"
    assert problems["data.zarr/temp/c/9"].startswith("unexpected file")
    result = run_cli("verify", folder)
    assert result.returncode == 3 and "data.zarr/temp/c/1: checksum mismatch" in result.stdout


def _state(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(folder)): (p.stat().st_ino, p.stat().st_mtime_ns)
            for p in folder.rglob("*") if p.is_file() and p.name != "manifest.json"}


def _contents(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*")
            if p.is_file() and p.name != "manifest.json"}


def test_resume_repairs_damaged_files_and_keeps_the_rest(schema, tmp_path):
    folder = make(schema, tmp_path / "ds", 3_000, FORMATS, compression="lz4")
    whole = _contents(folder)
    (folder / "data.zarr" / "note" / "c" / "1").unlink()
    _flip(folder / "part-000002.lp.lz4", 40)
    (folder / "data.zarr" / "zarr.json").unlink()
    before = _state(folder)
    make(schema, folder, 3_000, FORMATS, compression="lz4", resume=True)
    assert manifest_of(folder).timings["shards_kept"] == 1
    assert _contents(folder) == whole
    after = _state(folder)
    kept = [p for p in before if "part-000000" in p or p.endswith("/c/0")
            or p.endswith("/zarr.json")]
    assert kept and all(after[p] == before[p] for p in kept)
    assert verify_dataset(folder) == []


def test_killed_multi_format_job_resumes_to_the_same_files(schema, tmp_path):
    doc = tmp_path / "schema.yaml"
    doc.write_text(yaml.safe_dump(SINK_DOC, sort_keys=False))
    out = tmp_path / "killed"
    args = [str(a) for a in ("generate", doc, "--records", 20_000, "--out", out, "--seed",
                             SEED, "--shard-records", 1_000, "--block-records", 500,
                             "--formats", ",".join(FORMATS), "--compression", "gzip",
                             "--cluster", "sync", "--quiet")]
    proc = subprocess.Popen([*TELECRUNCH, *args], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    done = out / ".telecrunch" / "done"
    deadline = time.monotonic() + 120
    while not (done.exists() and len(list(done.glob("part-*.json"))) >= 3):
        assert proc.poll() is None, proc.stderr.read().decode()
        assert time.monotonic() < deadline, "no shard finished in time"
        time.sleep(0.005)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    finished = sorted(p.stem for p in done.glob("part-*.json"))
    assert 3 <= len(finished) < 20
    before = _state(out)
    result = run_cli(*args, "--resume")
    assert result.returncode == 0, result.stderr
    whole = make(schema, tmp_path / "whole", 20_000, FORMATS, shard=1_000, block=500,
                 compression="gzip")
    assert _contents(out) == _contents(whole)
    after = _state(out)
    for name in finished:
        index = int(name.split("-")[1])
        mine = [p for p in before if p.startswith(name) or p.endswith(f"/c/{index}")]
        assert mine and all(after[p] == before[p] for p in mine), name
    assert verify_dataset(out) == []


# ---- the real consumers and the real cluster ----

def test_influxdb_accepts_engine_written_shards(schema, tmp_path, influxdb):  # noqa: F811
    import urllib.request

    folder = make(schema, tmp_path / "ds", 4_000, ["influx"], shard=1_500, compression="gzip")
    influxdb.create_database("sinks")
    for _, path in shard_files(folder, "influx"):
        request = urllib.request.Request(f"{influxdb.url}/write?db=sinks&precision=ns",
                                         data=path.read_bytes(), method="POST",
                                         headers={"Content-Encoding": "gzip"})
        with urllib.request.urlopen(request, timeout=60) as response:
            assert response.status == 204
    counted = influxdb.query('SELECT COUNT(*) FROM /.*/', "sinks")[0]["series"]
    columns = generate_columns(schema, SEED, 0, 4_000)
    for kind in schema.kinds:
        (series,) = [s for s in counted if s["name"] == kind.name]
        want = int((columns.kind == kind.code).sum())
        assert max(n for n in series["values"][0][1:] if n is not None) == want, kind.name


def test_decode_writes_what_the_text_sinks_wrote(everything, tmp_path):
    schema, folder = everything
    for fmt in ("jsonl", "influx", "csv"):
        out = tmp_path / f"all.{fmt}"
        main(["decode", str(folder), "--to", fmt, "--out", str(out)])
        parts = [plain_bytes(path) for _, path in shard_files(folder, fmt)]
        if fmt == "csv":
            header = parts[0].split(b"\n", 1)[0] + b"\n"
            parts = [parts[0]] + [p.removeprefix(header) for p in parts[1:]]
        assert out.read_bytes() == b"".join(parts), fmt
    sub = run_cli("decode", folder, "--to", "jsonl", "--ids", "1200:1450")
    assert sub.returncode == 0, sub.stderr
    lines = [orjson.loads(line) for line in sub.stdout.splitlines()]
    assert lines == READERS["jsonl"](folder)[1200:1450]
    assert all("labels" in line for line in lines)


def test_a_multi_format_job_on_the_local_cluster_matches_the_sync_run(
        schema, tmp_path, cluster_address):
    sync = make(schema, tmp_path / "sync", 6_000, FORMATS, shard=1_500, compression="lz4")
    dist = make(schema, tmp_path / "dist", 6_000, FORMATS, shard=1_500, compression="lz4",
                cluster=cluster_address)
    assert _contents(dist) == _contents(sync)
    a, b = manifest_of(sync), manifest_of(dist)
    assert a.files == b.files
    assert [s.files for s in a.shards] == [s.files for s in b.shards]
    assert verify_dataset(dist) == []


def test_resume_of_a_dataset_with_binary64_values_near_the_float_limit(tmp_path):
    wide = copy.deepcopy(SINK_DOC)
    wide["kinds"]["alert"]["fields"]["x64"].update(min=-1e300, max=1e300)
    folder = make(telecrunch.load_schema(wide), tmp_path / "ds", 2_000, ["binary"])
    (folder / "part-000001.tcs").unlink()
    make(telecrunch.load_schema(wide), folder, 2_000, ["binary"], resume=True)
    assert verify_dataset(folder) == []
