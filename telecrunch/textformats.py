"""Text encoders by name, for ``decode`` and the text sinks: fn(columns, first) -> bytes."""

from __future__ import annotations

from collections.abc import Callable

from telecrunch.columns import Columns
from telecrunch.errors import JobError

TEXT_FORMATS = ("jsonl", "csv", "influx")


def encoder(name: str) -> Callable[[Columns, bool], bytes]:
    """The encoder of a text format; ``first`` says whether this batch starts the output."""
    if name == "jsonl":
        from telecrunch.formats.jsonl import encode_jsonl

        return lambda columns, first: encode_jsonl(columns)
    if name == "csv":
        from telecrunch.formats.csv import encode_csv

        return lambda columns, first: encode_csv(columns, header=first)
    if name == "influx":
        from telecrunch.formats.lineprotocol import LineProtocolOptions, encode_lines

        options = LineProtocolOptions()
        return lambda columns, first: encode_lines(columns, options)
    raise JobError("format", f"must be one of: {', '.join(TEXT_FORMATS)}", name)
