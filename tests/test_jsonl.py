"""JSON lines: each line is one record as orjson reads it, with exact 64-bit integers and
floats at their resolution."""

from __future__ import annotations

import re

import numpy as np
import orjson

import telecrunch
from telecrunch.formats import lines
from telecrunch.formats.floats import decimals
from telecrunch.formats.jsonl import encode_jsonl
from telecrunch.formats.reference import reference_records
from telecrunch.schema import FloatField

from .text_data import tricky_columns


def test_each_line_reads_back_as_its_record(monkeypatch):
    monkeypatch.setattr(lines, "CHUNK", 700)
    columns = tricky_columns(3000, seed=8)
    text = encode_jsonl(columns)
    got = [orjson.loads(line) for line in text.split(b"\n")[:-1]]
    want = reference_records(columns)
    assert got == want
    for record, expected in zip(got, want, strict=True):
        assert list(record) == list(expected)  # id, kind, time, source, then the fields
        assert all(type(record[k]) is type(v) for k, v in expected.items())


def test_64_bit_integers_are_exact():
    doc = {"name": "wide", "sources": {"count": 2**32},
           "kinds": {"k": {"fields": {"v": {"type": "int", "min": -(2**63), "max": 2**63 - 1}}}}}
    start = 2**62 + 12345
    columns = telecrunch.generate_columns(telecrunch.load_schema(doc), 1, start, start + 500)
    got = [orjson.loads(line) for line in encode_jsonl(columns).splitlines()]
    assert [r["id"] for r in got] == list(range(start, start + 500))
    assert [r["v"] for r in got] == columns.values["v"].tolist()
    assert max(abs(r["v"]) for r in got) > 2**60  # far past float64's exact integers


def test_quantized_floats_are_written_at_their_resolution():
    columns = tricky_columns(2000, seed=3)
    fields = {n: f for n, f in columns.schema.fields.items()
              if isinstance(f, FloatField) and f.encoding == "quantized"}
    seen = 0
    for line in encode_jsonl(columns).decode().splitlines():
        for name, field in fields.items():
            match = re.search(f'"{name}":(-?[0-9]+)\\.([0-9]+)[,}}]', line)
            if match:
                seen += 1
                assert len(match.group(2)) == decimals(field)
    assert seen > 1000


def test_empty_batch_is_empty():
    assert encode_jsonl(tricky_columns(5).take(slice(0, 0))) == b""


def test_binary32_values_read_back_exactly_at_single_precision():
    columns = tricky_columns(2000, seed=6)
    alerts = np.flatnonzero(columns.kind == 1)
    got = [orjson.loads(line) for line in encode_jsonl(columns.take(alerts)).splitlines()]
    assert np.array_equal(np.array([r["x32"] for r in got], np.float32),
                          columns.values["x32"][alerts])
    assert [r["x64"] for r in got] == columns.values["x64"][alerts].tolist()
