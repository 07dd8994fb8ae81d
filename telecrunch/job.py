"""A job: what to generate (schema, ID range, seed) and how to write it (folder, shards, formats).

Job files (``jobs/*.yaml``) hold the same keys as ``JobSpec``; ``telecrunch generate`` builds
one from its flags. The part of a job that decides the bytes of a dataset is its identity:
two runs with the same identity write the same files, so one can resume the other.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import orjson
import xxhash
from pydantic import Field, ValidationError

from telecrunch.codecs import CODECS
from telecrunch.docio import read_document
from telecrunch.errors import JobError, SchemaError
from telecrunch.schema import Schema, Spec
from telecrunch.shardfile import DEFAULT_BLOCK_RECORDS

FORMATS = ("binary", "jsonl", "influx", "csv", "zarr")
DEFAULT_SHARD_RECORDS = 1_000_000
MAX_BLOCK_RECORDS = 1 << 22  # block record counts are u32 in the format; keep blocks small


class JobSpec(Spec):
    """A generation job, as written in a job file."""

    name: str = ""
    schema_: str | dict = Field(alias="schema")  # path (relative to the job file) or inline
    records: int = Field(ge=0)
    first_id: int = Field(0, ge=0)
    seed: int = Field(0, ge=0, lt=2**64)
    out: str  # folder or fsspec URL; relative paths are relative to the current directory
    shard_records: int = Field(DEFAULT_SHARD_RECORDS, ge=1)
    block_records: int = Field(DEFAULT_BLOCK_RECORDS, ge=1, le=MAX_BLOCK_RECORDS)
    formats: tuple[Literal["binary", "jsonl", "influx", "csv", "zarr"], ...] = Field(
        ("binary",), strict=False)
    compression: Literal["none", "lz4", "gzip", "zstd"] = "none"
    cluster: str = "local"  # local | threads | sync | ADDRESS | FILE.yaml
    workers: int | None = Field(None, ge=1)


class Job:
    """A validated job with its schema loaded."""

    def __init__(self, spec: JobSpec, schema: Schema, base: Path | None = None):
        self.spec = spec
        self.schema = schema
        self.base = base
        if not spec.formats:
            raise JobError("formats", f"must name at least one of: {', '.join(FORMATS)}", [])
        if len(set(spec.formats)) != len(spec.formats):
            raise JobError("formats", "must not repeat a format", list(spec.formats))
        if spec.compression not in CODECS:  # pragma: no cover - guarded by the Literal
            raise JobError("compression", f"must be one of {', '.join(CODECS)}", spec.compression)
        from telecrunch.generation import check_range

        check_range(schema, spec.first_id, spec.first_id + spec.records)

    @property
    def id_stop(self) -> int:
        return self.spec.first_id + self.spec.records

    def identity(self) -> dict[str, Any]:
        """Everything that decides the dataset's bytes (not where or on what it runs)."""
        s = self.spec
        return {
            "schema_fingerprint": self.schema.fingerprint,
            "seed": s.seed,
            "first_id": s.first_id,
            "records": s.records,
            "shard_records": s.shard_records,
            "block_records": s.block_records,
            "formats": list(s.formats),
            "compression": s.compression,
        }

    def identity_token(self) -> str:
        return xxhash.xxh3_64_hexdigest(orjson.dumps(self.identity(), option=orjson.OPT_SORT_KEYS))


def _spec(doc: Any, place: str) -> JobSpec:
    from telecrunch.schema_parse import _validate

    try:
        return _validate(JobSpec, doc, "")
    except SchemaError as exc:
        raise JobError(f"{place}: {exc.place}" if place else exc.place, exc.expected, exc.got,
                       has_got=exc.has_got) from None
    except ValidationError as exc:  # pragma: no cover - _validate converts these
        raise JobError(place, str(exc)) from None


def load_job(path: str | Path, **overrides: Any) -> Job:
    """Read a job file; ``overrides`` (non-None values) replace its keys."""
    from telecrunch import load_schema

    path = Path(path)
    doc = read_document(path, JobError)
    if not isinstance(doc, dict):
        raise JobError(str(path), "must be a mapping of job keys", doc)
    doc.update({k: v for k, v in overrides.items() if v is not None})
    spec = _spec(doc, str(path))
    schema_ref = spec.schema_
    if isinstance(schema_ref, dict):
        schema = load_schema(schema_ref)
    else:
        schema_path = Path(schema_ref)
        if not schema_path.is_absolute():
            schema_path = path.parent / schema_path
        schema = load_schema(schema_path)
    return Job(spec, schema, path.parent)


def make_job(schema: Schema, **keys: Any) -> Job:
    """A job from keyword arguments (the CLI's ``generate`` and the Python API)."""
    doc = {"schema": schema.to_doc(), **{k: v for k, v in keys.items() if v is not None}}
    return Job(_spec(doc, ""), schema)
