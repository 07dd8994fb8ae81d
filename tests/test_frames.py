"""Columns as pandas frames, cell by cell against the records as plain Python values."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import telecrunch
from telecrunch.columns import ID, KIND
from telecrunch.frames import to_pandas
from telecrunch.generation import generate_columns

from .conftest import ROOT
from .test_roundtrip import ALL_TYPES

SCHEMAS = {"all_types": ALL_TYPES, "reference": ROOT / "jobs" / "reference_schema.yaml",
           "one_kind": {"telecrunch": 1, "name": "one", "sources": {"count": 3},
                        "kinds": {"update": {"fields": {
                            "x": {"type": "float", "min": 0, "max": 1, "resolution": 0.5},
                            "n": {"type": "int", "min": 0, "max": 9},
                            "b": {"type": "bool"},
                            "e": {"type": "enum", "values": ["p", "q"]}}}}}}


def _same(cell, value) -> bool:
    if isinstance(value, float):
        return math.isnan(value) and math.isnan(cell) if value != value else cell == value
    return cell == value


@pytest.mark.parametrize("copy", [True, False])
@pytest.mark.parametrize("name", list(SCHEMAS))
def test_every_cell_is_the_records_value_or_missing(name, copy):
    schema = telecrunch.load_schema(SCHEMAS[name])
    columns = generate_columns(schema, 4, 1_000, 1_400)
    frame = to_pandas(columns, copy=copy)
    assert list(frame.columns) == [KIND, schema.time.field, schema.sources.field,
                                   *schema.fields]
    assert frame.index.name == ID and list(frame.index) == list(range(1_000, 1_400))
    for i, record in enumerate(columns.to_records()):
        row = frame.iloc[i]
        for column in frame.columns:
            cell = row[column]
            if column not in record:
                assert pd.isna(cell), (i, column, cell)
            elif column == schema.time.field or column in schema.fields and \
                    schema.fields[column].type == "timestamp":
                assert cell == pd.Timestamp(record[column], unit="ns", tz="UTC"), (i, column)
            else:
                value = record[column]
                value = value.decode() if isinstance(value, bytes) else value
                assert _same(cell, value), (i, column, cell, value)


def test_a_copy_shares_nothing_and_a_view_shares_what_needs_no_conversion():
    schema = telecrunch.load_schema(SCHEMAS["one_kind"])
    columns = generate_columns(schema, 4, 0, 500)
    copied = to_pandas(columns)
    shared = to_pandas(columns, copy=False)
    assert copied.equals(shared)
    for name in ("x", "n", schema.sources.field):
        assert not np.shares_memory(copied[name].to_numpy(), columns[name])
        assert np.shares_memory(shared[name].to_numpy(), columns[name])
    # an enum column already holds pandas' category codes (int8 here): no conversion either
    assert columns["e"].dtype == np.int8
    assert not np.shares_memory(copied["e"].array.codes, columns["e"])
    assert np.shares_memory(shared["e"].array.codes, columns["e"])
    columns["x"][:] = -1.0  # the caller's arrays change: a copy does not follow
    assert (copied["x"] >= 0).all()


def test_a_frame_of_one_kinds_records_keeps_the_nullable_types():
    """Partitions of a dataset must share dtypes: a field of a schema with several kinds is
    nullable even where every record carries it."""
    schema = telecrunch.load_schema(ALL_TYPES)
    columns = generate_columns(schema, 4, 0, 400)
    updates = columns.take(columns.kind == 0)
    whole, only = to_pandas(columns), to_pandas(updates, copy=False)
    assert len(only) == len(updates) < len(whole)
    assert only.dtypes.to_dict() == whole.dtypes.to_dict()
    assert str(only["small"].dtype) == "Int64" and str(only["flag"].dtype) == "boolean"
    assert not only["small"].isna().any() and only["level"].isna().all()
