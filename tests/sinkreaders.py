"""Independent readers of every output format, for the shared sink suite (tests/test_sinks.py).

Each reader finds its files through the manifest, decompresses them with the Debian command
line tools (``gzip``, ``lz4``, ``zstd``), parses them with a library TeleCrunch does not use
to write them (orjson, the csv module, line-protocol-parser, zarr), and returns the records in
ID order as ``telecrunch.formats.reference.reference_records`` writes them: floats at the
precision the text formats carry, enums as labels, and ``labels`` (names) when the schema
injects anomalies. Binary and Zarr readers also give exact ``Columns``.
"""

from __future__ import annotations

import csv
import io
import subprocess
from pathlib import Path

import numpy as np
import orjson
from line_protocol_parser import parse_line

import telecrunch
from telecrunch.columns import Columns, column_dtype
from telecrunch.formats.reference import reference_records
from telecrunch.manifest import Manifest
from telecrunch.schema import BoolField, EnumField, FloatField, Schema, StringField

#: Stream suffix -> the Debian tool that reads it.
TOOLS = {".gz": "gzip", ".lz4": "lz4", ".zst": "zstd"}


def manifest_of(folder: Path) -> Manifest:
    return Manifest.from_json((folder / "manifest.json").read_bytes())


def schema_of(folder: Path) -> Schema:
    return telecrunch.load_schema(manifest_of(folder).schema)


def shard_files(folder: Path, fmt: str) -> list[tuple[int, Path]]:
    """(first ID, path) of each shard's file of ``fmt``, in ID order."""
    out = []
    for shard in manifest_of(folder).shards:
        (entry,) = [f for f in shard.files if f.format == fmt]
        out.append((shard.first_id, folder / entry.path))
    return out


def plain_bytes(path: Path) -> bytes:
    """The file's content, decompressed by the command line tool its suffix names."""
    tool = TOOLS.get(path.suffix)
    if tool is None:
        return path.read_bytes()
    done = subprocess.run([tool, "-dc", str(path)], capture_output=True, check=True)
    return done.stdout


def tool_test(path: Path) -> subprocess.CompletedProcess:
    """``gzip -t`` / ``lz4 -t`` / ``zstd -t`` of a compressed file."""
    return subprocess.run([TOOLS[path.suffix], "-t", str(path)], capture_output=True, text=True)


# ---- text formats ----

def jsonl_records(folder: Path) -> list[dict]:
    return [orjson.loads(line) for _, path in shard_files(folder, "jsonl")
            for line in plain_bytes(path).splitlines()]


def _csv_value(field, cell: str):
    if isinstance(field, EnumField | StringField):
        return cell
    if isinstance(field, BoolField):
        return {"true": True, "false": False}[cell]
    if isinstance(field, FloatField):
        return float(cell)
    return int(cell)


def csv_records(folder: Path) -> list[dict]:
    schema = schema_of(folder)
    kinds = {k.name: k for k in schema.kinds}
    records = []
    for _, path in shard_files(folder, "csv"):
        rows = list(csv.reader(io.StringIO(plain_bytes(path).decode(), newline="")))
        header = rows[0]
        assert header[:4] == ["id", "kind", schema.time.field, schema.sources.field], path
        for row in rows[1:]:
            cells = dict(zip(header, row, strict=True))
            kind = kinds[cells["kind"]]
            record = {"id": int(cells["id"]), "kind": kind.name,
                      schema.time.field: int(cells[schema.time.field]),
                      schema.sources.field: int(cells[schema.sources.field])}
            own = {f.name for f in kind.fields}
            for name, field in schema.fields.items():
                if name in own:
                    record[name] = _csv_value(field, cells[name])
                else:
                    assert cells[name] == "", (path, name, row)
            if schema.anomalies:
                record["labels"] = cells["labels"].split(";") if cells["labels"] else []
            records.append(record)
    return records


def influx_records(folder: Path) -> list[dict]:
    """Points back to records (no labels: line protocol leaves them out). Lines are in ID
    order, so a record's ID is its shard's first ID plus its line number; kinds without
    fields carry it as the field ``id``, which must agree."""
    schema = schema_of(folder)
    kinds = {k.name: k for k in schema.kinds}
    source = schema.sources.field
    records = []
    for first, path in shard_files(folder, "influx"):
        for n, line in enumerate(plain_bytes(path).decode().split("\n")[:-1]):
            point = parse_line(line)
            kind = kinds[point["measurement"]]
            record = {"id": first + n, "kind": kind.name, schema.time.field: point["time"],
                      source: int(point["tags"][source])}
            for field in kind.fields:
                if isinstance(field, EnumField):
                    record[field.name] = point["tags"].get(field.name, "")
                else:
                    record[field.name] = point["fields"][field.name]
            if not kind.fields:
                assert point["fields"] == {"id": first + n}, line
            records.append(record)
    return records


# ---- binary and Zarr ----

def binary_columns(folder: Path) -> Columns:
    return telecrunch.open_dataset(folder).read()


def zarr_columns(folder: Path) -> Columns:
    """The store read with zarr.open, checked for the documented fill values where a record's
    kind lacks a field, and turned into Columns (which hold zeros there)."""
    import zarr

    schema = schema_of(folder)
    group = zarr.open_group(folder / "data.zarr", mode="r")
    kind = group["kind"][:]
    values = {name: group[name][:] for name in (schema.time.field, schema.sources.field)}
    for name, field in schema.fields.items():
        data = group[name][:]
        absent = kind != schema.kind_of_field[name].code
        if isinstance(field, FloatField):
            assert np.isnan(data[absent]).all(), name
        elif isinstance(field, EnumField):
            assert (data[absent] == -1).all(), name
        elif isinstance(field, StringField):
            assert (data[absent] == "").all(), name
        else:
            assert not data[absent].any(), name
        if isinstance(field, StringField):
            data = np.array([s.encode("ascii") for s in data.tolist()], column_dtype(field))
        else:
            data = np.where(absent, 0, data).astype(column_dtype(field))
        values[name] = data
    labels = group["labels"][:] if schema.anomalies else np.zeros(len(kind), np.uint64)
    return Columns(schema, group["id"][:], kind, values, labels)


READERS = {
    "binary": lambda folder: reference_records(binary_columns(folder)),
    "zarr": lambda folder: reference_records(zarr_columns(folder)),
    "jsonl": jsonl_records,
    "csv": csv_records,
    "influx": influx_records,
}
#: Formats that carry the anomaly labels.
WITH_LABELS = {"binary", "zarr", "jsonl", "csv"}


def expected_records(columns: Columns, fmt: str) -> list[dict]:
    """What the reader of ``fmt`` must return for these generated records."""
    records = reference_records(columns)
    if fmt not in WITH_LABELS:
        for record in records:
            record.pop("labels", None)
    return records
