"""CSV: every record reads back with the csv module, absent fields as empty cells."""

from __future__ import annotations

import csv
import io

from telecrunch.formats.csv import column_names, encode_csv
from telecrunch.formats.reference import reference_records
from telecrunch.schema import BoolField, EnumField, FloatField, StringField

from .text_data import tricky_columns


def _parse(cell: str, field) -> object:
    if isinstance(field, EnumField | StringField):
        return cell
    if isinstance(field, BoolField):
        return {"true": True, "false": False}[cell]
    if isinstance(field, FloatField):
        return float(cell)
    return int(cell)


def test_rows_read_back_as_the_records():
    columns = tricky_columns(3000, seed=12)
    schema = columns.schema
    rows = list(csv.reader(io.StringIO(encode_csv(columns, header=True).decode(), newline="")))
    assert rows[0] == column_names(schema)
    assert len(rows) == len(columns) + 1
    for row, record in zip(rows[1:], reference_records(columns), strict=True):
        cells = dict(zip(rows[0], row, strict=True))
        assert int(cells["id"]) == record["id"] and cells["kind"] == record["kind"]
        assert int(cells["ts"]) == record["ts"] and int(cells["device"]) == record["device"]
        for name, field in schema.fields.items():
            if name in record:
                assert _parse(cells[name], field) == record[name], name
            else:
                assert cells[name] == "", name


def test_text_is_always_quoted_so_empty_differs_from_absent():
    columns = tricky_columns(500, seed=1)
    text = encode_csv(columns, header=False).decode()
    assert not text.startswith("id,")
    note = column_names(columns.schema).index("note")
    raw = [line.split(",") for line in text.splitlines() if ',"",' in line]
    assert raw, "no empty string in the sample"
    for line, record in zip(text.splitlines(), reference_records(columns), strict=True):
        if record["kind"] == "reading" and record["note"] == "":
            assert ',""' in line
        if record["kind"] != "reading":
            assert line.split(",")[note] == ""


def test_quotes_in_labels_and_strings_are_doubled():
    columns = tricky_columns(2000, seed=2)
    text = encode_csv(columns, header=False).decode()
    assert '"run ""fast"""' in text and '"q""uote"' in text
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert len(rows) == len(columns)
