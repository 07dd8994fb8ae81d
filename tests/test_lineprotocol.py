"""Line protocol: exact golden lines, equality with the per-record reference, every line read
back by an independent parser, and a real InfluxDB 1.x server accepting and returning it all."""

from __future__ import annotations

import numpy as np
import pytest
from line_protocol_parser import parse_line

import telecrunch
from telecrunch.columns import Columns
from telecrunch.errors import JobError
from telecrunch.formats import lines
from telecrunch.formats.floats import decimals
from telecrunch.formats.lineprotocol import LineProtocolOptions, encode_lines
from telecrunch.formats.reference import reference_lines, reference_records
from telecrunch.schema import EnumField, FloatField

from .influx import MAX_BODY, influxdb  # noqa: F401  (the fixture)
from .text_data import TRICKY, TRICKY_TAGS, tricky_columns

OPTIONS = LineProtocolOptions(tags=TRICKY_TAGS, measurement_prefix="tc ",
                              measurements={"alert": "alert,v1"})

GOLDEN_SCHEMA = {
    "name": "golden",
    "sources": {"count": 2, "field": "dev"},
    "time": {"start": "2026-01-01T00:00:00Z", "interval": "1s"},
    "kinds": {
        "m": {"fields": {
            "t": {"type": "float", "min": -10, "max": 10, "resolution": 0.25},
            "zone": {"type": "enum", "values": ["a b", "c,d", "e=f"]},
            "s": {"type": "string", "max_length": 4, "alphabet": 'q "\\'},
            "n": {"type": "int", "min": -5, "max": 5},
            "on": {"type": "bool"},
        }},
        "e": {"rate": 0.5, "fields": {}},
    },
}


def _schema(doc):
    return telecrunch.load_schema(doc)


def test_golden_lines_of_a_fixed_schema_and_seed():
    columns = telecrunch.generate_columns(_schema(GOLDEN_SCHEMA), 5, 0, 6)
    assert encode_lines(columns).decode().splitlines() == [
        r'm,dev=0,zone=c\,d t=6.00,s="q\\  ",n=5i,on=false 1767225600000000000',
        r'e,dev=1 id=1i 1767225600500000000',
        r'm,dev=0,zone=a\ b t=-5.00,s="q\"q\\",n=-2i,on=true 1767225601000000000',
        r'e,dev=1 id=3i 1767225601500000000',
        r'm,dev=0,zone=c\,d t=-6.25,s="\\",n=-4i,on=false 1767225602000000000',
        r'm,dev=1,zone=a\ b t=-4.25,s="\\\\ ",n=2i,on=true 1767225602500000000',
    ]


def _hand_made(options_schema: dict, values: dict, kind: list[int]) -> Columns:
    schema = _schema(options_schema)
    n = len(kind)
    full = {"ts": np.arange(n, dtype=np.int64) * 10**9 + 1, "dev": np.arange(n) % 2}
    for field in schema.fields.values():
        full[field.name] = np.asarray(values[field.name], dtype=values[field.name].dtype)
    return Columns(schema, np.arange(n, dtype=np.uint64), np.asarray(kind, np.uint8), full)


def test_escaping_of_every_part_is_pinned():
    columns = _hand_made(GOLDEN_SCHEMA, {
        "t": np.array([-0.25, 10.0]),
        "zone": np.array([2, 0]),
        "s": np.array([b'q\\"', b' " \\'], dtype="S4"),
        "n": np.array([-5, 5]),
        "on": np.array([True, False]),
    }, kind=[0, 0])
    options = LineProtocolOptions(measurement_prefix="my m,", tags=("dev", "zone", "on"))
    assert encode_lines(columns, options).decode().splitlines() == [
        r'my\ m\,m,dev=0,on=true,zone=e\=f t=-0.25,s="q\\\"",n=-5i 1',
        r'my\ m\,m,dev=1,on=false,zone=a\ b t=10.00,s=" \" \\",n=5i 1000000001',
    ]


def test_enum_labels_are_quoted_strings_when_not_tags():
    columns = tricky_columns(300)
    text = encode_lines(columns, LineProtocolOptions(tags=("device",))).decode()
    assert 'mode="run \\"fast\\""' in text and 'mode="c:\\\\dir\\\\"' in text
    readings = [line for line in text.splitlines() if line.startswith("reading,")]
    assert readings and all("site" not in line.split(" temp=")[0] for line in readings)
    assert all(',site="' in line for line in readings)


@pytest.mark.parametrize("options", [OPTIONS, LineProtocolOptions(tags=TRICKY_TAGS, record_id=True),
                                     LineProtocolOptions(tags=("device", "count", "ok"))])
def test_fast_encoder_matches_the_per_record_reference(options, monkeypatch):
    monkeypatch.setattr(lines, "CHUNK", 997)  # many chunks, some with a single kind
    columns = tricky_columns(5000, seed=5, start=123)
    assert encode_lines(columns, options) == reference_lines(columns, options)


def test_empty_and_single_record_batches():
    columns = tricky_columns(1)
    assert encode_lines(columns.take(slice(0, 0)), OPTIONS) == b""
    assert encode_lines(columns, OPTIONS) == reference_lines(columns, OPTIONS)


def _expected_points(columns: Columns, options: LineProtocolOptions) -> list[dict]:
    """What each line must parse to, from the generated records."""
    schema = columns.schema
    tags = set(options.tags)
    points = []
    for record in reference_records(columns):
        kind = record["kind"]
        point_tags = {"device": str(record["device"])}
        fields = {}
        for field in schema.kind(kind).fields:
            value = record[field.name]
            if field.name in tags:
                if value != "":
                    point_tags[field.name] = value
            else:
                fields[field.name] = value
        if not fields or options.record_id:
            fields["id"] = record["id"]
        name = options.measurement_prefix + options.measurements.get(kind, kind)
        points.append({"measurement": name, "tags": point_tags, "fields": fields,
                       "time": record["ts"]})
    return points


def test_every_line_parses_back_to_its_record():
    columns = tricky_columns(4000, seed=2)
    text = encode_lines(columns, OPTIONS).decode()
    parsed = [parse_line(line) for line in text.split("\n")[:-1]]
    assert text.endswith("\n") and len(parsed) == len(columns)
    expected = _expected_points(columns, OPTIONS)
    for got, want in zip(parsed, expected, strict=True):
        assert got == want
        for key, value in want["fields"].items():
            assert type(got["fields"][key]) is type(value), key


def test_integers_carry_i_and_quantized_floats_their_decimals():
    columns = tricky_columns(500, seed=4)
    schema = columns.schema
    for line in encode_lines(columns, OPTIONS).decode().splitlines():
        if not line.startswith("tc reading"):
            continue
        fields = dict(part.split("=", 1) for part in line.split(" ")[2].split(",")[:6])
        assert fields["count"].endswith("i") and fields["big"].endswith("i")
        for name in ("temp", "ratio", "tiny"):
            places = decimals(schema.fields[name])
            assert len(fields[name].split(".")[1]) == places, (name, fields[name])


@pytest.mark.parametrize("options, place", [
    (LineProtocolOptions(), "kinds.reading.fields.mode.values.2"),  # tag value ends in "\"
    (LineProtocolOptions(tags=("temp",)), "influx.tags"),
    (LineProtocolOptions(tags=("nope",)), "influx.tags"),
    (LineProtocolOptions(tags=TRICKY_TAGS, measurements={"nope": "x"}), "influx.measurements"),
    (LineProtocolOptions(tags=TRICKY_TAGS, measurement_prefix="#"),
     "influx.measurements.reading"),
    (LineProtocolOptions(tags=TRICKY_TAGS, measurements={"beat": "b\\"}),
     "influx.measurements.beat"),
    (LineProtocolOptions(tags=TRICKY_TAGS, measurements={"beat": "a\nb"}),
     "influx.measurements.beat"),
])
def test_what_influxdb_cannot_read_is_refused_with_its_place(options, place):
    with pytest.raises(JobError) as error:
        encode_lines(tricky_columns(10), options)
    assert error.value.place == place


def test_a_field_named_time_is_refused():
    doc = {"name": "t", "kinds": {"k": {"fields": {"time": {"type": "bool"}}}}}
    with pytest.raises(JobError) as error:
        encode_lines(telecrunch.generate_columns(_schema(doc), 1, 0, 3))
    assert error.value.place == "kinds.k.fields.time"


# ---- the real consumer ----

def _batches(text: bytes, limit: int) -> list[bytes]:
    """Whole lines, at most ``limit`` bytes a batch."""
    out, start = [], 0
    while start < len(text):
        end = text.rfind(b"\n", start, start + limit) + 1
        assert end > start, "a single line over the limit"
        out.append(text[start:end])
        start = end
    return out


def _same(field, got, want) -> bool:
    """InfluxDB's JSON writes a whole float without a point (86 for 86.0)."""
    if isinstance(field, FloatField):
        if field.encoding == "binary32":
            return np.float32(got) == np.float32(want)
        return isinstance(got, int | float) and float(got) == want
    return got == want and type(got) is type(want)


def test_influxdb_accepts_every_line_and_returns_the_records(influxdb):  # noqa: F811
    options = OPTIONS.model_copy(update={"record_id": True})
    columns = tricky_columns(30_000, seed=9)
    text = encode_lines(columns, options)
    batches = _batches(text, 1_000_000)
    assert len(batches) > 1 and all(len(b) < MAX_BODY for b in batches)
    influxdb.create_database("tc")
    for batch in batches:
        status, body = influxdb.write("tc", batch)
        assert status == 204, body[:500]

    schema = columns.schema
    records = {r["id"]: r for r in reference_records(columns)}
    for kind in schema.kinds:
        name = options.measurement_prefix + options.measurements.get(kind.name, kind.name)
        want = [r for r in records.values() if r["kind"] == kind.name]
        series = influxdb.query(f'SELECT * FROM "{name}"', "tc")[0]["series"]
        assert [s["name"] for s in series] == [name]
        rows = [dict(zip(series[0]["columns"], row, strict=True)) for row in series[0]["values"]]
        assert len(rows) == len(want), kind.name
        for row in rows:
            record = records[row["id"]]
            assert row["time"] == record["ts"]
            assert row["device"] == str(record["device"])
            for field in kind.fields:
                value = record[field.name]
                if field.name in options.tags:
                    assert row[field.name] == (value if value != "" else None), field.name
                else:
                    assert _same(field, row[field.name], value), (field.name, row, record)
    counted = influxdb.query('SELECT COUNT("id") FROM /.*/', "tc")[0]["series"]
    counts = {s["name"]: s["values"][0][1] for s in counted}
    assert sum(counts.values()) == len(columns)


def test_tricky_schema_covers_every_field_type():
    schema = _schema(TRICKY)
    types = {type(f).__name__ for f in schema.fields.values()}
    assert types == {"IntField", "BoolField", "EnumField", "TimestampField", "FloatField",
                     "StringField"}
    assert any(isinstance(f, EnumField) for f in schema.fields.values())
    assert {f.encoding for f in schema.fields.values() if isinstance(f, FloatField)} == {
        "quantized", "binary32", "binary64"}
