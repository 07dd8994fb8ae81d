"""TeleCrunch: realistic, reproducible, bit-packed synthetic telemetry at scale."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from telecrunch.errors import SchemaError, TeleCrunchError
from telecrunch.schema import Schema

__version__ = "0.1.0"
__all__ = ["Schema", "SchemaError", "TeleCrunchError", "load_schema", "generate_columns",
           "generate", "open_dataset", "__version__"]


def load_schema(source: str | Path | dict[str, Any]) -> Schema:
    """A validated schema from a YAML/JSON file path or an already-parsed document."""
    from telecrunch.docio import read_document
    from telecrunch.schema_parse import parse_schema

    if isinstance(source, dict):
        return parse_schema(source)
    doc = read_document(source, SchemaError)
    try:
        return parse_schema(doc)
    except SchemaError as exc:
        raise SchemaError(f"{source}: {exc.place}", exc.expected, exc.got,
                          has_got=exc.has_got) from None


def generate_columns(schema: Schema, seed: int, id_start: int, id_stop: int,
                     backend: str = "numpy"):
    """The records with IDs in [id_start, id_stop) as ``Columns`` (see telecrunch.generation)."""
    from telecrunch.generation import generate_columns as _generate

    return _generate(schema, seed, id_start, id_stop, backend)


def generate(schema: Schema | str | Path, records: int, out: str | Path, *, seed: int = 0,
             resume: bool = False, **options: Any):
    """Generate a dataset and return its manifest.

    ``options`` are job keys: first_id, shard_records, block_records, formats, compression,
    cluster (default "local"), workers.
    """
    from telecrunch.engine import run_job
    from telecrunch.job import make_job

    if not isinstance(schema, Schema):
        schema = load_schema(schema)
    job = make_job(schema, records=records, out=str(out), seed=seed, **options)
    return run_job(job, resume=resume)


def open_dataset(path: str | Path):
    """Open a dataset folder: ``.read(ids=slice(a, b))``, ``.to_pandas()``, ``.to_dask()``."""
    from telecrunch.dataset import open_dataset as _open

    return _open(path)
