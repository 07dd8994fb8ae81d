"""CSV (RFC 4180, ``\\n`` line ends): one row per record, a column for every field of every kind.

Columns: ``id``, ``kind`` (the kind's name), the time field (ns), the source field, then every
field in schema order, and last, when the schema injects anomalies, ``labels``: the record's
anomaly label names joined by ``;`` in bit order (``""`` when none). A cell is empty where the
record's kind lacks the field. Strings, enum labels and label lists are always double-quoted,
with ``"`` doubled, so an empty string (``""``) differs from an absent one; numbers and
``true``/``false`` are bare; floats are written as ``telecrunch.formats.floats`` writes them.
"""

from __future__ import annotations

import numpy as np

from telecrunch.columns import ID, KIND, Columns
from telecrunch.formats import grid
from telecrunch.formats.floats import float_block
from telecrunch.formats.labels import LABELS, check_label_column, label_block
from telecrunch.formats.lines import Line, render
from telecrunch.schema import BoolField, EnumField, FieldBase, FloatField, Schema, StringField


def encode_csv(columns: Columns, header: bool = True) -> bytes:
    """The records as CSV rows in ID order, after a header row of column names if ``header``."""
    check_label_column(columns.schema)
    body = render(columns, lambda _, rows: _row(rows), per_kind=False)
    if not header:
        return body
    return (",".join(column_names(columns.schema)) + "\n").encode() + body


def column_names(schema: Schema) -> list[str]:
    """The CSV columns, in order."""
    labels = [LABELS] if schema.anomalies else []
    return [ID, KIND, schema.time.field, schema.sources.field, *schema.fields, *labels]


def quote(text: str) -> bytes:
    return b'"' + text.replace('"', '""').encode() + b'"'


def _row(rows: Columns) -> Line:
    schema = rows.schema
    line = Line(len(rows))
    line.block(grid.integers(rows[ID]))
    line.add(b",")
    line.block(grid.lookup(rows.kind, [k.name.encode() for k in schema.kinds]))
    for name in (schema.time.field, schema.sources.field):
        line.add(b",")
        line.block(grid.integers(rows.values[name]))
    for field in schema.fields.values():
        line.add(b",")
        cell = _cell(field, rows.values[field.name])
        present = rows.present(field.name)
        line.block(cell if present.all() else grid.keep_rows(cell, present))
    if schema.anomalies:
        line.add(b",")
        line.block(label_block(rows, lambda names: quote(";".join(names))))
    line.add(b"\n")
    return line


def _cell(field: FieldBase, values: np.ndarray) -> np.ndarray:
    if isinstance(field, FloatField):
        return float_block(field, values)
    if isinstance(field, BoolField):
        return grid.lookup(values, (b"false", b"true"))
    if isinstance(field, EnumField):
        return grid.lookup(values, [quote(label) for label in field.values])
    if isinstance(field, StringField):
        mark = grid.constant(b'"', len(values))
        return np.concatenate([mark, grid.text(values, b'"', escape=b'"'), mark], axis=1)
    return grid.integers(values)  # int, timestamp
