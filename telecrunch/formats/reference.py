"""Slow, obvious per-record formatters: the oracle the tests hold the fast encoders to, and
the baseline ``benchmarks/bench_text.py`` measures them against.

They share only the layout decisions (``lineprotocol.plan``) and the float rules
(``floats.float_formatter``) with the fast encoders, and format every value in plain Python.
"""

from __future__ import annotations

import numpy as np
import orjson

from telecrunch.columns import Columns
from telecrunch.formats.floats import decimals, float_formatter
from telecrunch.formats.lineprotocol import LineProtocolOptions, escape_key, plan, quote_string
from telecrunch.schema import BoolField, EnumField, FieldBase, FloatField, StringField


def reference_lines(columns: Columns, options: LineProtocolOptions | None = None) -> bytes:
    """What ``encode_lines`` must return, written with f-strings one record at a time."""
    schema = columns.schema
    plans = plan(schema, options or LineProtocolOptions())
    data = {name: columns.values[name].tolist() for name in columns.values}
    ids, kinds = columns.ids.tolist(), columns.kind.tolist()
    times = data[schema.time.field]
    layouts = {}
    for code, kind in plans.items():
        tags = [(f",{t.key.decode()}=", t.labels, data[t.name]) for t in kind.tags]
        fields = [(escape_key(f.name).decode(), _formatter(f), data[f.name]) for f in kind.fields]
        layouts[code] = (kind.measurement.decode(), tags, fields, kind.record_id)
    out = []
    for i in range(len(ids)):
        measurement, tags, fields, record_id = layouts[kinds[i]]
        key = measurement
        for prefix, labels, values in tags:
            if labels is None:
                key += f"{prefix}{_plain(values[i])}"
            else:
                key += labels[values[i]].decode()
        parts = [f"id={ids[i]}i"] if record_id else []
        parts += [f"{name}={fmt(values[i])}" for name, fmt, values in fields]
        out.append(f"{key} {','.join(parts)} {times[i]}\n")
    return "".join(out).encode()


def _plain(value: int | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _formatter(field: FieldBase):
    if isinstance(field, FloatField):
        return float_formatter(field)
    if isinstance(field, BoolField):
        return lambda v: "true" if v else "false"
    if isinstance(field, EnumField):
        labels = [quote_string(label).decode() for label in field.values]
        return labels.__getitem__
    if isinstance(field, StringField):
        return lambda v: quote_string(v.decode()).decode()
    return lambda v: f"{v}i"


def reference_records(columns: Columns) -> list[dict]:
    """Each record as the dict its JSON line must parse to: floats at the precision the text
    formats write (quantized: rounded to their decimals; binary32: its shortest text), and the
    record's label names under ``labels`` when the schema injects anomalies."""
    records = columns.to_records()
    floats = [f for f in columns.schema.fields.values() if isinstance(f, FloatField)]
    for i, record in enumerate(records):
        for field in floats:
            if field.name in record:
                record[field.name] = _json_float(field, record[field.name])
        if columns.schema.anomalies:
            record["labels"] = columns.label_names(i)
    return records


def _json_float(field: FloatField, value: float) -> float:
    if field.encoding == "quantized":
        return round(value, decimals(field))
    if field.encoding == "binary32":
        return float(str(np.float32(value)))
    return value


def reference_jsonl(columns: Columns) -> bytes:
    """JSON lines from ``reference_records`` and orjson, one record at a time."""
    return b"".join(orjson.dumps(r, option=orjson.OPT_APPEND_NEWLINE)
                    for r in reference_records(columns))
