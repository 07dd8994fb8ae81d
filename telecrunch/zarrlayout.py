"""The Zarr v3 store of a dataset: which arrays, their types, fill values, chunks and attributes.

One group, ``data.zarr``, with one 1-D array per column along the dimension ``record``
(array index = record ID - the dataset's first ID): ``id``, ``kind``, the time field, the
source field, every field in schema order, and ``labels`` when the schema injects anomalies.
Chunks follow shards (``chunk_records`` divides the shard size), so each shard task writes only
its own chunks. docs/FORMAT.md ("Zarr store") is the reference; this module builds it.

The metadata documents (``zarr.json``) are built in memory by zarr itself, so what a shard task
encodes chunks with is exactly what the client wrote.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from telecrunch.columns import ID, KIND, Columns, column_dtype
from telecrunch.errors import JobError
from telecrunch.formats.labels import LABELS
from telecrunch.schema import (
    BoolField,
    EnumField,
    FieldBase,
    FloatField,
    IntField,
    Schema,
    StringField,
    TimestampField,
)
from telecrunch.units import format_instant

STORE = "data.zarr"
DIMENSION = "record"
#: Chunks hold at most this many records (2 MiB of a 64-bit column) ...
CHUNK_CAP = 1 << 18
#: ... and, for shards larger than that, at least this many (else the shard size is refused).
CHUNK_MIN = 1 << 14
#: Blosc with lz4 and byte shuffle, for every array.
BLOSC = {"cname": "lz4", "clevel": 5, "shuffle": "shuffle"}
TIME_UNITS = "nanoseconds since 1970-01-01"  # CF convention: xarray decodes it to datetimes
ENUM_ABSENT = -1


@dataclass(frozen=True)
class ArraySpec:
    """One array of the store."""

    name: str
    dtype: Any  # a numpy dtype, or ``str`` for zarr's variable-length UTF-8 strings
    fill: Any  # zarr fill_value, also written where a record's kind lacks the field
    attributes: dict[str, Any]
    field: FieldBase | None = None  # None for id, kind, time, source and labels


def _field_spec(schema: Schema, field: FieldBase) -> ArraySpec:
    kind = schema.kind_of_field[field.name]
    attrs: dict[str, Any] = {"type": field.type, "kind": kind.name, "kind_code": kind.code}
    if field.description:
        attrs["description"] = field.description
    dtype: Any = column_dtype(field)
    fill: Any = 0
    if isinstance(field, FloatField):
        fill = float("nan")
        attrs.update(min=field.min, max=field.max, encoding=field.encoding)
        if field.encoding == "quantized":
            attrs["resolution"] = field.resolution
    elif isinstance(field, IntField):
        attrs.update(min=field.min, max=field.max)
    elif isinstance(field, TimestampField):
        attrs.update(units=TIME_UNITS, calendar="proleptic_gregorian",
                     min=format_instant(field.min), max=format_instant(field.max),
                     resolution_ns=field.resolution)
    elif isinstance(field, EnumField):
        dtype, fill = column_dtype(field), ENUM_ABSENT
        attrs["values"] = list(field.values)
    elif isinstance(field, StringField):
        dtype, fill = str, ""
        attrs["max_length"] = field.length_limit
    elif isinstance(field, BoolField):
        fill = False
    return ArraySpec(field.name, dtype, fill, attrs, field)


def array_specs(schema: Schema) -> list[ArraySpec]:
    """The store's arrays, in order."""
    time = schema.time
    specs = [
        ArraySpec(ID, np.dtype(np.uint64), 0, {"description": "record ID"}),
        ArraySpec(KIND, np.dtype(np.uint8), 0, {
            "description": "record kind: index into kinds",
            "kinds": [k.name for k in schema.kinds]}),
        ArraySpec(time.field, np.dtype(np.int64), 0, {
            "description": "record timestamp", "units": TIME_UNITS,
            "calendar": "proleptic_gregorian", "resolution_ns": time.resolution}),
        ArraySpec(schema.sources.field, np.dtype(np.int64), 0, {
            "description": "source (device) ID", "count": schema.sources.count}),
    ]
    specs += [_field_spec(schema, f) for f in schema.fields.values()]
    if schema.anomalies:
        specs.append(ArraySpec(LABELS, np.dtype(np.uint64), 0, {
            "description": "anomaly label mask: bit i set when anomaly labels[i] touched the "
                           "record", "labels": list(schema.labels)}))
    return specs


def column_values(spec: ArraySpec, columns: Columns) -> np.ndarray:
    """The array's values for ``columns``: the fill value where a record's kind lacks the
    field."""
    if spec.name == LABELS and spec.field is None:
        return columns.labels if columns.labels is not None else np.zeros(len(columns),
                                                                             np.uint64)
    values = columns[spec.name]
    if spec.field is None:
        return values.astype(spec.dtype, copy=False)
    if spec.dtype is str:
        out = values.astype(np.dtypes.StringDType())
    else:
        out = values.astype(spec.dtype)
    present = columns.present(spec.name)
    if not present.all():
        out[~present] = spec.fill
    return out


def chunk_records(shard_records: int, records: int) -> int:
    """Records per chunk: the shard size, or its largest divisor up to ``CHUNK_CAP``; never
    more than the dataset holds. Raise JobError for a shard size with no divisor in
    [CHUNK_MIN, CHUNK_CAP]."""
    chunk = shard_records
    if shard_records > CHUNK_CAP:
        chunk = next((d for d in range(CHUNK_CAP, CHUNK_MIN - 1, -1)
                      if shard_records % d == 0), 0)
        if not chunk:
            raise JobError("shard_records", f"Zarr chunks must tile every shard: a shard size "
                           f"over {CHUNK_CAP} needs a divisor in [{CHUNK_MIN}, {CHUNK_CAP}] "
                           "(e.g. 1000000, or a multiple of 65536)", shard_records)
    return max(1, min(chunk, records))


def group_attributes(schema: Schema, options: dict[str, Any]) -> dict[str, Any]:
    return {
        "telecrunch": {
            "schema": schema.name,
            "schema_fingerprint": schema.fingerprint,
            "seed": options["seed"],
            "first_id": options["first_id"],
            "records": options["records"],
            "chunk_records": options["chunk_records"],
            "kinds": [k.name for k in schema.kinds],
            "time_field": schema.time.field,
            "source_field": schema.sources.field,
            "labels": list(schema.labels),
        },
        "description": schema.description,
    }


def metadata_documents(schema: Schema, options: dict[str, Any]) -> dict[str, bytes]:
    """Every ``zarr.json`` of the store, by key relative to the store's folder."""
    import zarr
    from zarr.codecs import BloscCodec
    from zarr.storage import MemoryStore

    documents: dict[str, Any] = {}
    group = zarr.create_group(MemoryStore(documents),
                              attributes=group_attributes(schema, options))
    for spec in array_specs(schema):
        group.create_array(spec.name, shape=(options["records"],),
                           chunks=(options["chunk_records"],), dtype=spec.dtype,
                           fill_value=spec.fill, compressors=[BloscCodec(**BLOSC)],
                           dimension_names=[DIMENSION], attributes=spec.attributes)
    return {key: buffer.to_bytes() for key, buffer in sorted(documents.items())}
