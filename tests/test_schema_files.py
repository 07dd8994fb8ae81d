"""Schema files: JSON read as JSON, and defaults derived from the schema."""

from __future__ import annotations

import json

import pytest

import telecrunch
from telecrunch.errors import SchemaError
from telecrunch.generation import generate_columns
from telecrunch.layout import compile_layout
from telecrunch.pack import encode
from telecrunch.shardfile import DEFAULT_BLOCK_RECORDS

from .conftest import ROOT


def test_json_schema_numbers_with_exponents_stay_numbers(tmp_path):
    doc = {"name": "j", "kinds": {"update": {"fields": {
        "x": {"type": "float", "encoding": "binary64", "min": -1e150, "max": 1e150}}}}}
    path = tmp_path / "s.json"
    path.write_text(json.dumps(doc).replace("1e+150", "1e+150"))
    assert "e+150" in path.read_text()
    assert telecrunch.load_schema(path).fields["x"].max == 1e150


def test_json_schema_with_a_repeated_key_is_refused(tmp_path):
    path = tmp_path / "s.json"
    path.write_text('{"name": "a", "name": "b", "kinds": {}}')
    with pytest.raises(SchemaError, match="duplicate key 'name'"):
        telecrunch.load_schema(path)


def test_invalid_json_names_the_line(tmp_path):
    path = tmp_path / "s.json"
    path.write_text('{"name": "a",\n "kinds": }')
    with pytest.raises(SchemaError, match=r"s\.json:2: invalid JSON"):
        telecrunch.load_schema(path)


@pytest.mark.parametrize("sources, interval, resolution, extra", [
    (1, "1s", "1ns", {}),
    (50, "1s", "1us", {}),
    (10000, "10s", "1ns", {}),
    (3, "250ms", "1ms", {"anomalies": [{"kind": "late", "rate": 0.001, "delay": "1h"}]}),
])
def test_default_time_bits_hold_a_default_block(sources, interval, resolution, extra):
    doc = {"name": "t", "sources": {"count": sources},
           "time": {"interval": interval, "jitter": "0s", "resolution": resolution},
           "kinds": {"update": {"fields": {"v": {"type": "int", "min": 0, "max": 9}}}}, **extra}
    schema = telecrunch.load_schema(doc)
    layout = compile_layout(schema)
    from telecrunch.generation import time_floor

    first = 12345
    columns = generate_columns(schema, 1, first, first + DEFAULT_BLOCK_RECORDS)
    codes = encode(layout, columns, time_floor(schema, first))  # raises if the span overflows
    assert int(codes.fixed[0].max()) < 1 << schema.time.bits
    # and no wider than twice what was needed
    assert int(codes.fixed[0].max()) >= 1 << (schema.time.bits - 2)


@pytest.mark.parametrize("alarm, event, majority", [
    (None, None, 0),  # one kind
    (None, 0.01, 0),  # the reference: updates are 99%
    (0.6, 0.01, 2),  # a kind declared after the first can hold most records
    (0.3, 0.3, None),  # 40, 30 and 30%: no kind holds half
])
def test_the_majority_kind_holds_at_least_half_the_records(alarm, event, majority):
    doc = telecrunch.load_schema(ROOT / "jobs" / "reference_schema.yaml").to_doc()
    if event is None:
        del doc["kinds"]["event"]
    else:
        doc["kinds"]["event"]["rate"] = event
    if alarm is not None:
        doc["kinds"]["alarm"] = {"rate": alarm, "fields": {"level": {"type": "int", "min": 0,
                                                                     "max": 9}}}
    schema = telecrunch.load_schema(doc)
    assert schema.majority_kind == majority
    if majority is not None:
        kinds = generate_columns(schema, 1, 0, 20_000).kind
        assert (kinds == majority).mean() > 0.5
