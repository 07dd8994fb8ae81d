"""Packed size: each field takes exactly its declared width, and a shard adds only the overhead
docs/FORMAT.md states: a 64-byte shard header, per block a 48-byte header, a 24-byte index
entry and under one byte of padding, and a 32-byte footer."""

from __future__ import annotations

import numpy as np
import pytest

from telecrunch import generate_columns, load_schema
from telecrunch.codecs import CODECS
from telecrunch.layout import compile_layout
from telecrunch.produce import shard_bytes
from telecrunch.shardfile import BLOCK_HEADER, FOOTER, HEADER, INDEX_ENTRY

SHARD_HEADER_BYTES, BLOCK_HEADER_BYTES, INDEX_ENTRY_BYTES, FOOTER_BYTES = 64, 48, 24, 32

FIXED = {
    "telecrunch": 1,
    "name": "fixed",
    "sources": {"count": 50},  # 6 bits
    "time": {"interval": "1s", "jitter": "20ms", "resolution": "1us", "bits": 32},
    "kinds": {
        "update": {
            "fields": {
                "temp": {"type": "float", "min": -40, "max": 125, "resolution": 0.01},
                "hum": {"type": "float", "min": 0, "max": 100, "resolution": 0.1,
                        "signal": {"kind": "random_walk", "step": 0.5}},
                "volt": {"type": "float", "min": 0, "max": 5, "resolution": 0.001},
                "status": {"type": "enum", "values": ["a", "b", "c", "d", "e"]},
                "online": {"type": "bool"},
                "packets": {"type": "int", "min": 0, "max": 1048575},
                "rssi": {"type": "int", "min": -120, "max": 0},
                "raw": {"type": "float", "encoding": "binary32", "min": -1, "max": 1},
                "boot": {"type": "timestamp", "min": "2025-01-01T00:00:00Z",
                         "max": "2026-01-01T00:00:00Z", "resolution": "1ms"},
            },
        },
    },
}
# widths worked out by hand from the declarations
FIXED_WIDTHS = {"kind": 0, "ts": 32, "source_id": 6, "temp": 15, "hum": 10, "volt": 13,
                "status": 3, "online": 1, "packets": 20, "rssi": 7, "raw": 32, "boot": 35}

TWO_KINDS = {
    "telecrunch": 1,
    "name": "two_kinds",
    "sources": {"count": 1000},  # 10 bits
    "time": {"interval": "10ms", "resolution": "1ms", "bits": 24},
    "kinds": {
        "reading": {"fields": {"value": {"type": "int", "min": -5000, "max": 5000},  # 14
                               "ok": {"type": "bool"}}},  # 1
        "alarm": {"rate": 0.25,
                  "fields": {"level": {"type": "enum", "values": ["lo", "mid", "hi"]},  # 2
                             "detail": {"type": "float", "encoding": "binary64",
                                        "min": 0, "max": 1}}},  # 64
    },
}
TWO_KINDS_BITS = {0: 1 + 24 + 10 + 14 + 1, 1: 1 + 24 + 10 + 2 + 64}


def overhead(blocks: int) -> int:
    return SHARD_HEADER_BYTES + blocks * (BLOCK_HEADER_BYTES + INDEX_ENTRY_BYTES) + FOOTER_BYTES


def test_struct_sizes_match_the_documented_overhead():
    assert (HEADER.size, BLOCK_HEADER.size, INDEX_ENTRY.size, FOOTER.size) == (
        SHARD_HEADER_BYTES, BLOCK_HEADER_BYTES, INDEX_ENTRY_BYTES, FOOTER_BYTES)


def test_each_field_takes_its_declared_width():
    layout = compile_layout(load_schema(FIXED))
    assert {s.column: s.width for s in layout.kinds[0].slots} == FIXED_WIDTHS
    assert layout.kinds[0].fixed_bits == layout.kinds[0].max_bits == sum(FIXED_WIDTHS.values())


@pytest.mark.parametrize(("records", "block"), [(1, 65536), (1000, 64), (100_000, 65536),
                                                (9_999, 1000), (777, 777)])
def test_uncompressed_shard_size_is_widths_plus_exact_overhead(records, block):
    schema = load_schema(FIXED)
    bits = sum(FIXED_WIDTHS.values())
    data = shard_bytes(schema, 1, 5000, records, CODECS["none"], block)
    sizes = [min(block, records - start) for start in range(0, records, block)]
    payload = sum((n * bits + 7) // 8 for n in sizes)  # each block pads to a whole byte
    assert len(data) == payload + overhead(len(sizes))
    assert 0 <= payload - records * bits / 8 < len(sizes)


def test_packed_size_within_2_percent_of_declared_widths():
    schema = load_schema(FIXED)
    records = 200_000
    ideal = sum(FIXED_WIDTHS.values()) * records / 8
    blocks = -(-records // 65536)
    for name in ("none", "lz4"):
        size = len(shard_bytes(schema, 3, 0, records, CODECS[name]))
        assert size <= (ideal + overhead(blocks)) * 1.02, name
        if name == "none":
            assert abs(size / ideal - 1) < 0.02


def test_two_kinds_take_their_own_widths():
    schema = load_schema(TWO_KINDS)
    layout = compile_layout(schema)
    assert {k.code: k.fixed_bits for k in layout.kinds} == TWO_KINDS_BITS
    records, block = 5000, 700
    data = shard_bytes(schema, 9, 0, records, CODECS["none"], block)
    payload = 0
    for start in range(0, records, block):
        kinds = generate_columns(schema, 9, start, min(start + block, records)).kind
        assert set(np.unique(kinds)) == {0, 1}
        bits = sum(TWO_KINDS_BITS[int(k)] for k in kinds)
        payload += (bits + 7) // 8
    assert len(data) == payload + overhead(-(-records // block))
