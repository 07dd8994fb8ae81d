"""JSON lines: one object per record, with only the fields of its kind.

Keys in order: ``id``, ``kind`` (the kind's name), the time field (ns), the source field,
then the kind's fields in schema order, and last, when the schema injects anomalies,
``labels``: the record's anomaly label names in bit order (``[]`` when none). Integers are
written in full (64-bit values stay exact), floats as ``telecrunch.formats.floats`` writes them
(quantized ones rounded to their resolution's decimals), enums as their labels, strings as
text. Keys and labels are encoded by orjson; every number and string value is written for a
whole chunk of records at once.
"""

from __future__ import annotations

import numpy as np
import orjson

from telecrunch.columns import ID, KIND, Columns
from telecrunch.formats import grid
from telecrunch.formats.floats import float_block
from telecrunch.formats.labels import LABELS, check_label_column, label_block
from telecrunch.formats.lines import Line, render
from telecrunch.schema import BoolField, EnumField, FieldBase, FloatField, Kind, StringField


def encode_jsonl(columns: Columns) -> bytes:
    """The records as JSON lines, one ``\\n``-terminated object each, in ID order."""
    check_label_column(columns.schema)
    return render(columns, _kind_line)


def _key(name: str, first: bool = False) -> bytes:
    return (b"{" if first else b",") + orjson.dumps(name) + b":"


def _kind_line(kind: Kind, rows: Columns) -> Line:
    schema = rows.schema
    line = Line(len(rows))
    line.add(_key(ID, first=True))
    line.block(grid.integers(rows[ID]))
    line.add(_key(KIND) + orjson.dumps(kind.name) + _key(schema.time.field))
    line.block(grid.integers(rows.values[schema.time.field]))
    line.add(_key(schema.sources.field))
    line.block(grid.integers(rows.values[schema.sources.field]))
    for field in kind.fields:
        line.add(_key(field.name))
        _value(line, field, rows.values[field.name])
    if schema.anomalies:
        line.add(_key(LABELS))
        line.block(label_block(rows, orjson.dumps))
    line.add(b"}\n")
    return line


def _value(line: Line, field: FieldBase, values: np.ndarray) -> None:
    if isinstance(field, FloatField):
        line.block(float_block(field, values))
    elif isinstance(field, BoolField):
        line.block(grid.lookup(values, (b"false", b"true")))
    elif isinstance(field, EnumField):
        line.block(grid.lookup(values, [orjson.dumps(label) for label in field.values]))
    elif isinstance(field, StringField):
        # Strings hold printable ASCII only: a quote and a backslash are all JSON escapes.
        line.add(b'"')
        line.block(grid.text(values, b'"\\'))
        line.add(b'"')
    else:  # int, timestamp
        line.block(grid.integers(values))
