"""InfluxDB line protocol (as InfluxDB 1.x reads it): one point per record.

    <measurement>[,<tag>=<value>...] <field>=<value>[,<field>=<value>...] <time in ns>

- measurement: ``measurement_prefix`` + the kind's entry in ``measurements``, else its name;
- tags: the ``tags`` columns (default: the source field and every enum field), sorted by key
  as InfluxDB recommends. A record whose enum label is empty has no tag for it (InfluxDB has
  no empty tag values);
- fields, in schema order: integers and timestamps ``123i`` (never ``u``: InfluxDB 1.x refuses
  it), floats as ``telecrunch.formats.floats`` writes them, ``true``/``false``, strings and
  enum labels double-quoted;
- a point needs a field, so a kind left without one gets the record ID as ``id=<id>i``;
  ``record_id=True`` writes it on every line (``id`` is a reserved name, so it never clashes).
- anomaly labels are left out: as tags they would multiply InfluxDB's series, as fields they
  would be a second schema. The labels sidecar, JSON lines, CSV and Zarr carry them.

Escaping follows InfluxDB's parser: a backslash before ``,`` and space in measurements, before
``,``, ``=`` and space in tag keys, tag values and field keys, and before ``"`` and ``\\``
inside string values; other backslashes stand for themselves. What that cannot carry is
refused up front with a ``JobError``: control characters, a tag value or measurement ending
in a backslash, a measurement starting with ``#`` (a comment line), the key ``time``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pydantic import BaseModel, ConfigDict

from telecrunch.columns import ID, Columns
from telecrunch.errors import JobError
from telecrunch.formats import grid
from telecrunch.formats.floats import float_block
from telecrunch.formats.lines import Line, render
from telecrunch.schema import (
    BoolField,
    EnumField,
    FieldBase,
    FloatField,
    IntField,
    Kind,
    Schema,
    StringField,
)

PLACE = "influx"


class LineProtocolOptions(BaseModel):
    """How records become InfluxDB points."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    measurement_prefix: str = ""
    """Put before every measurement name."""
    measurements: dict[str, str] = {}
    """Measurement name by record kind; a kind not listed is named after itself."""
    tags: tuple[str, ...] | None = None
    """Columns written as tags (the source field, enum, int or bool fields); None: the source
    field and every enum field."""
    record_id: bool = False
    """Write the record ID as the integer field ``id`` on every line."""


def encode_lines(columns: Columns, options: LineProtocolOptions | None = None) -> bytes:
    """The records as line protocol, one ``\\n``-terminated line each, in ID order."""
    plans = plan(columns.schema, options or LineProtocolOptions())
    return render(columns, lambda kind, rows: _kind_line(plans[kind.code], rows))


# ---- escaping ----

def escape_measurement(name: str) -> bytes:
    return name.replace(",", r"\,").replace(" ", r"\ ").encode()


def escape_key(text: str) -> bytes:
    """A tag key, tag value or field key."""
    return text.replace(",", r"\,").replace("=", r"\=").replace(" ", r"\ ").encode()


def quote_string(text: str) -> bytes:
    return b'"' + text.replace("\\", "\\\\").replace('"', '\\"').encode() + b'"'


def _check_text(text: str, place: str, what: str, quoted: bool = False) -> None:
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in text):
        raise JobError(place, f"{what} cannot hold control characters in line protocol", text)
    if text.endswith("\\") and not quoted:
        raise JobError(place, f"{what} cannot end with a backslash in line protocol", text)


# ---- the plan of a kind's lines ----

@dataclass(frozen=True)
class Tag:
    """A tag of a kind's lines."""

    key: bytes
    name: str
    labels: tuple[bytes, ...] | None  # ",key=label" per enum code ("" when empty); None: a number


@dataclass(frozen=True)
class KindPlan:
    """The layout of one kind's lines: escaped measurement, sorted tags, fields."""

    measurement: bytes
    tags: tuple[Tag, ...]
    fields: tuple[FieldBase, ...]
    record_id: bool


def plan(schema: Schema, options: LineProtocolOptions) -> dict[int, KindPlan]:
    """Each kind's line layout, by kind code; raise JobError if InfluxDB could not read it."""
    unknown = sorted(set(options.measurements) - {k.name for k in schema.kinds})
    if unknown:
        raise JobError(f"{PLACE}.measurements", "names a record kind the schema lacks",
                       unknown[0])
    tag_names = _tag_names(schema, options)
    plans = {}
    for kind in schema.kinds:
        name = options.measurement_prefix + options.measurements.get(kind.name, kind.name)
        _check_measurement(name, kind)
        own = {schema.sources.field, *(f.name for f in kind.fields)}
        tags = tuple(_tag(schema, n) for n in sorted(tag_names) if n in own)
        fields = tuple(f for f in kind.fields if f.name not in tag_names)
        for field in fields:
            if isinstance(field, EnumField):
                for i, label in enumerate(field.values):
                    _check_text(label, f"kinds.{kind.name}.fields.{field.name}.values.{i}",
                                "a string value", quoted=True)
        plans[kind.code] = KindPlan(escape_measurement(name), tags, fields,
                                    options.record_id or not fields)
    return plans


def _check_measurement(name: str, kind: Kind) -> None:
    place = f"{PLACE}.measurements.{kind.name}"
    if not name:
        raise JobError(place, "a measurement name cannot be empty", name)
    if name.startswith("#"):
        raise JobError(place, "a measurement cannot start with # (InfluxDB reads a comment)",
                       name)
    _check_text(name, place, "a measurement")


def _tag_names(schema: Schema, options: LineProtocolOptions) -> set[str]:
    if options.tags is None:
        names = [schema.sources.field,
                 *(f.name for f in schema.fields.values() if isinstance(f, EnumField))]
    else:
        names = list(options.tags)
    for name in names:
        field = schema.fields.get(name)
        if name != schema.sources.field and not isinstance(field, EnumField | IntField |
                                                              BoolField):
            raise JobError(f"{PLACE}.tags", "tags must be the source field or enum, int or "
                           "bool fields", name)
    if "time" in names:
        raise JobError(f"{PLACE}.tags", "InfluxDB refuses a tag named time", "time")
    if "time" in schema.fields:
        kind = schema.kind_of_field["time"].name
        raise JobError(f"kinds.{kind}.fields.time", "InfluxDB refuses a field named time; "
                       "rename the field for line protocol output", "time")
    return set(names)


def _tag(schema: Schema, name: str) -> Tag:
    key = escape_key(name)
    field = schema.fields.get(name)
    if not isinstance(field, EnumField):
        return Tag(key, name, None)
    kind = schema.kind_of_field[name].name
    labels = []
    for i, label in enumerate(field.values):
        _check_text(label, f"kinds.{kind}.fields.{name}.values.{i}", "a tag value")
        labels.append(b"," + key + b"=" + escape_key(label) if label else b"")
    return Tag(key, name, tuple(labels))


# ---- building the lines ----

def _kind_line(kind: KindPlan, rows: Columns) -> Line:
    line = Line(len(rows))
    line.add(kind.measurement)
    for tag in kind.tags:
        values = rows.values[tag.name]
        if tag.labels is not None:
            line.block(grid.lookup(values, tag.labels))
        else:
            line.add(b"," + tag.key + b"=")
            line.block(_bools(values) if values.dtype == bool else grid.integers(values))
    line.add(b" ")
    if kind.record_id:
        line.add(b"id=")
        line.block(grid.integers(rows[ID]))
        line.add(b"i")
    for i, field in enumerate(kind.fields):
        line.add((b"," if i or kind.record_id else b"") + escape_key(field.name) + b"=")
        _field_value(line, field, rows.values[field.name])
    line.add(b" ")
    line.block(grid.integers(rows.values[rows.schema.time.field]))
    line.add(b"\n")
    return line


def _field_value(line: Line, field: FieldBase, values: np.ndarray) -> None:
    if isinstance(field, FloatField):
        line.block(float_block(field, values))
    elif isinstance(field, BoolField):
        line.block(_bools(values))
    elif isinstance(field, EnumField):
        line.block(grid.lookup(values, [quote_string(v) for v in field.values]))
    elif isinstance(field, StringField):
        line.add(b'"')
        line.block(grid.text(values, b'"\\'))
        line.add(b'"')
    else:  # int, timestamp
        line.block(grid.integers(values))
        line.add(b"i")


def _bools(values: np.ndarray) -> np.ndarray:
    return grid.lookup(values, (b"false", b"true"))
