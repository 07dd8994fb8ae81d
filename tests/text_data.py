"""Schemas and records that stress the text formats: every field type, three record kinds
(one without fields), and strings and labels full of characters that need escaping."""

from __future__ import annotations

import telecrunch
from telecrunch.columns import Columns

#: Characters every text format must escape or quote, plus plain ones.
NASTY = 'ab ,="\\x'
SITES = ["north east", "a,b", "x=y", "back\\slash", 'q"uote', "es\\,c", "", "ünï"]
MODES = ["idle", 'run "fast"', "c:\\dir\\", "two words"]

TRICKY = {
    "telecrunch": 1,
    "name": "tricky",
    "sources": {"count": 7, "field": "device"},
    "time": {"field": "ts", "start": "2026-01-01T00:00:00Z", "interval": "1s",
             "jitter": "10ms", "resolution": "1us"},
    "kinds": {
        "reading": {"fields": {
            "temp": {"type": "float", "min": -40, "max": 125, "resolution": 0.01},
            "ratio": {"type": "float", "min": 0, "max": 1, "resolution": 0.001},
            "tiny": {"type": "float", "min": -0.5, "max": 0.5, "resolution": 0.0001},
            "big": {"type": "int", "min": -(2**63), "max": 2**63 - 1},
            "count": {"type": "int", "min": 0, "max": 1000},
            "ok": {"type": "bool"},
            "site": {"type": "enum", "values": SITES},
            "mode": {"type": "enum", "values": MODES},
            "note": {"type": "string", "max_length": 12, "alphabet": NASTY},
        }},
        "alert": {"rate": 0.3, "fields": {
            "level": {"type": "int", "min": -7, "max": 7},
            "x32": {"type": "float", "encoding": "binary32", "min": -1e6, "max": 1e6},
            "x64": {"type": "float", "encoding": "binary64", "min": -1e300, "max": 1e300},
            "since": {"type": "timestamp", "min": "2025-01-01T00:00:00Z",
                      "max": "2026-01-01T00:00:00Z", "resolution": "1ms"},
            "text": {"type": "string", "max_length": 20, "alphabet": "ascii"},
        }},
        "beat": {"rate": 0.1, "fields": {}},
    },
}

#: Tags InfluxDB can carry for TRICKY: ``mode`` has a label ending in a backslash.
TRICKY_TAGS = ("device", "site")


def tricky_columns(n: int, seed: int = 11, start: int = 0) -> Columns:
    return telecrunch.generate_columns(telecrunch.load_schema(TRICKY), seed, start, start + n)
