"""Anomaly labels in the text formats: JSON lines and CSV carry the names, line protocol not."""

from __future__ import annotations

import csv
import io

import numpy as np
import orjson
import pytest

import telecrunch
from telecrunch.errors import JobError
from telecrunch.formats import lines
from telecrunch.formats.csv import encode_csv
from telecrunch.formats.jsonl import encode_jsonl
from telecrunch.formats.lineprotocol import encode_lines

from .conftest import ROOT

FLEET = ROOT / "jobs" / "fleet_schema.yaml"


@pytest.fixture(scope="module")
def fleet():
    schema = telecrunch.load_schema(FLEET)
    return telecrunch.generate_columns(schema, 4, 0, 40_000)


def _names(columns, i: int) -> list[str]:
    mask = int(columns.labels[i])
    return [name for bit, name in enumerate(columns.schema.labels) if mask >> bit & 1]


def test_json_lines_end_with_the_label_names(fleet, monkeypatch):
    monkeypatch.setattr(lines, "CHUNK", 5_000)
    got = [orjson.loads(line) for line in encode_jsonl(fleet).splitlines()]
    labelled = np.flatnonzero(fleet.labels)
    assert len(labelled) > 100
    for i in range(len(fleet)):
        assert list(got[i])[-1] == "labels"
        assert got[i]["labels"] == _names(fleet, i)
    assert len({tuple(got[i]["labels"]) for i in labelled}) > 3  # several anomalies' labels


def test_csv_has_a_labels_column_of_names_joined_by_semicolons(fleet):
    rows = list(csv.reader(io.StringIO(encode_csv(fleet).decode(), newline="")))
    assert rows[0][-1] == "labels"
    for i, row in enumerate(rows[1:]):
        assert row[-1] == ";".join(_names(fleet, i))


def test_line_protocol_leaves_labels_out(fleet):
    text = encode_lines(fleet).decode()
    assert "labels" not in text
    assert not any(name in text for name in fleet.schema.labels)


def test_without_anomalies_there_is_no_labels_column():
    schema = telecrunch.load_schema(ROOT / "jobs" / "demo_schema.yaml")
    columns = telecrunch.generate_columns(schema, 1, 0, 100)
    assert b"labels" not in encode_jsonl(columns) + encode_csv(columns)


def test_a_field_named_labels_is_refused_when_the_schema_has_anomalies():
    doc = {"name": "clash", "kinds": {"k": {"fields": {
        "labels": {"type": "int", "min": 0, "max": 9},
        "v": {"type": "float", "min": 0, "max": 1, "resolution": 0.1}}}},
        "anomalies": [{"kind": "spike", "fields": ["v"], "rate": 0.01, "magnitude": 0.5}]}
    columns = telecrunch.generate_columns(telecrunch.load_schema(doc), 1, 0, 10)
    for encode in (encode_jsonl, encode_csv):
        with pytest.raises(JobError) as error:
            encode(columns)
        assert error.value.place == "kinds.k.fields.labels"
