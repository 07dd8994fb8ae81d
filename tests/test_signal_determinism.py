"""Every signal, every anomaly kind, triggers and every interleaving give the same records and
labels whatever the chunking: one ``generate_columns`` call equals many calls over uneven
chunks (cut inside random-walk blocks, regimes, anomaly windows and dropout catch-ups) and
equals records generated one at a time."""

from __future__ import annotations

import random

import numpy as np
import pytest

from telecrunch import generate_columns, load_schema
from telecrunch.anomalies import KINDS as ANOMALY_KINDS
from telecrunch.columns import Columns
from telecrunch.signals import SIGNALS
from telecrunch.walk import BLOCK

SOURCES = 7
RECORDS = 24_000

FIELDS = {
    "c": {"type": "int", "min": 0, "max": 9, "signal": {"kind": "constant", "value": 4}},
    "u": {"type": "float", "min": -5, "max": 5, "resolution": 0.01,
          "signal": {"kind": "uniform", "min": -2.0, "max": 4.0}},
    "nrm": {"type": "int", "min": -120, "max": 0, "per_source": {"offset": 3.0},
            "signal": {"kind": "normal", "mean": -60.0, "std": 9.0}},
    "b": {"type": "bool", "signal": {"kind": "bernoulli", "p": 0.3}},
    "cat": {"type": "enum", "values": ["ok", "warn", "fault"],
            "signal": {"kind": "categorical", "weights": [6, 3, 1]}},
    "sq": {"type": "int", "min": 0, "max": 999, "signal": {"kind": "sequence", "start": 990,
                                                             "step": 3}},
    "rw": {"type": "float", "min": -1000, "max": 1000, "resolution": 0.001,
           "per_source": {"offset": 1.0, "scale": 0.01},
           "signal": {"kind": "random_walk", "step": 0.7, "reversion": 0.02, "mean": 5.0,
                      "min": -200.0, "max": 200.0}},
    "walk": {"type": "float", "encoding": "binary64", "min": -1e6, "max": 1e6,
             "signal": {"kind": "random_walk", "step": 1.0, "start": 0.0}},
    "sn": {"type": "float", "min": -100, "max": 100, "resolution": 0.001,
           "signal": {"kind": "sine", "period": "45s", "amplitude": 20.0, "offset": 1.0,
                      "phase": 0.2, "noise": 0.5}},
    "ln": {"type": "float", "min": 0, "max": 1000, "resolution": 0.001,
           "signal": {"kind": "lognormal", "mu": 1.0, "sigma": 0.5}},
    "cn": {"type": "int", "min": 0, "max": 50_000, "signal": {"kind": "counter", "rate": 4.5}},
    "ss": {"type": "float", "min": -100, "max": 100, "resolution": 0.01,
           "signal": {"kind": "seasonal", "offset": 20.0, "trend": 30.0, "daily": 5.0,
                      "weekly": 1.0, "noise": 0.2, "source_phase": 0.1}},
    "rg": {"type": "float", "min": 900, "max": 1100, "resolution": 0.1,
           "signal": {"kind": "regime", "levels": [990, 1000, 1013, 1030], "mean_duration": 40,
                      "noise": 0.3}},
    "dv": {"type": "float", "min": -5000, "max": 5000, "resolution": 0.01,
           "signal": {"kind": "derived",
                      "expr": "rw * 2 + sn if cat != 2 else max(ln, t % 60) - seq % 7"}},
    "tpl": {"type": "string", "max_length": 40,
            "signal": {"kind": "template", "text": "{source}/{seq}: {cat} {rw} {b}"}},
    "tx": {"type": "string", "min_length": 1, "max_length": 12, "alphabet": "alnum",
           "signal": {"kind": "text"}},
    "ch": {"type": "string", "values": ["4.2.1", "4.3.0", "5.0.0-beta"], "weights": [7, 2, 1],
           "signal": {"kind": "choice"}},
}
EVENT = {"rate": 0.03, "rate_spread": 0.5, "trigger": {"field": "walk", "above": 20.0},
         "fields": {"code": {"type": "enum", "values": ["hot", "reboot"]},
                    "sev": {"type": "int", "min": 0, "max": 7}}}
ANOMALIES = [
    {"kind": "spike", "fields": ["walk", "rw"], "rate": 0.004, "magnitude": [30, 60]},
    {"kind": "dip", "fields": ["rw"], "rate": 0.002, "duration": [1, 30], "magnitude": 10},
    {"kind": "level_shift", "fields": ["rw", "nrm"], "rate": 0.002, "duration": [20, 200],
     "magnitude": [5, 15], "direction": "random"},
    {"kind": "drift", "fields": ["walk"], "rate": 0.001, "duration": [50, 300],
     "magnitude": 25, "direction": "random"},
    {"kind": "variance", "fields": ["rg", "walk"], "rate": 0.002, "duration": [20, 150],
     "magnitude": 4},
    {"kind": "stuck", "fields": ["walk", "ss", "dv"], "rate": 0.002, "duration": [20, 150]},
    {"kind": "out_of_range", "fields": ["ln"], "rate": 0.003, "duration": [1, 20],
     "direction": "random"},
    {"kind": "saturation", "fields": ["rw"], "rate": 0.002, "duration": [20, 100],
     "share": 0.6},
    {"kind": "frequency", "fields": ["sn"], "rate": 0.002, "duration": [30, 150],
     "magnitude": [2, 5]},
    {"kind": "late", "rate": 0.003, "duration": [1, 4], "delay": "20s", "sources": [0, 2, 5]},
    {"kind": "dropout", "rate": 0.0005, "duration": [5, 60]},
]


def make_schema(interleave: str):
    return load_schema({
        "name": "every_signal",
        "sources": {"count": SOURCES, "interleave": interleave, "block": 5},
        "time": {"interval": "1s", "jitter": "80ms", "resolution": "1ms", "bits": 40},
        "kinds": {"update": {"fields": FIELDS}, "event": EVENT},
        "anomalies": ANOMALIES,
    })


def uneven_edges(start: int, stop: int, seed: int) -> list[int]:
    """Chunk edges of very different sizes, many inside walk blocks and anomaly windows."""
    pick = random.Random(seed)
    sizes = [1, 2, 3, 15, 16, 17, BLOCK * SOURCES - 1, BLOCK * SOURCES + 1, 250, 999]
    edges, at = [], start
    while at < stop:
        at += pick.choice(sizes) if pick.random() < 0.6 else pick.randrange(1, 1000)
        edges.append(at)
    return [e for e in edges if e < stop]


def chunked(schema, seed: int, start: int, stop: int, edges: list[int]) -> Columns:
    cuts = [start, *edges, stop]
    return Columns.concat([generate_columns(schema, seed, a, b)
                           for a, b in zip(cuts, cuts[1:], strict=False)], schema)


def test_the_schema_covers_every_signal_and_anomaly_kind():
    schema = make_schema("round_robin")
    signals = {f.signal.kind for f in schema.fields.values()}
    assert signals == set(SIGNALS)
    assert {a.kind for a in schema.anomalies} == set(ANOMALY_KINDS)


@pytest.mark.parametrize("interleave,first,seed", [
    ("round_robin", 0, 1),
    ("blocked", 0, 2),
    ("shuffled", 0, 3),
    ("round_robin", 7 * 10**9 + 5, 4),  # a billion records into every source
    ("shuffled", 123_456_789, 5),
])
def test_uneven_chunks_give_identical_records_and_labels(interleave, first, seed):
    schema = make_schema(interleave)
    stop = first + RECORDS
    whole = generate_columns(schema, seed, first, stop)
    edges = uneven_edges(first, stop, seed)
    assert len(edges) > 40
    parts = chunked(schema, seed, first, stop, edges)
    assert whole.differences(parts) == []
    # the anomalies, the trigger and the rate events are all there to be chunked
    for bit, spec in enumerate(schema.anomalies):
        assert ((whole.labels >> np.uint64(bit)) & np.uint64(1)).any(), spec.label
    assert (whole.kind == 1).sum() > 0.02 * RECORDS
    # and edges fall inside windows: a record and the one before it of its source (in ID
    # order) share a label, either side of an edge
    if interleave == "round_robin":
        cut = np.array(edges) - first
        cut = cut[cut >= SOURCES]
        inside = whole.labels[cut] & whole.labels[cut - SOURCES]
        assert np.count_nonzero(inside) >= 3


@pytest.mark.parametrize("interleave", ["round_robin", "blocked", "shuffled"])
def test_records_generated_one_at_a_time_equal_the_whole(interleave):
    schema = make_schema(interleave)
    whole = generate_columns(schema, 9, 0, RECORDS)
    pick = random.Random(interleave)
    labelled = np.flatnonzero(whole.labels)
    ids = sorted({*pick.sample(range(RECORDS), 20), *pick.sample(list(labelled), 20),
                  *np.flatnonzero(whole.kind == 1)[:10].tolist()})
    alone = Columns.concat([generate_columns(schema, 9, i, i + 1) for i in ids], schema)
    assert whole.take(np.array(ids)).differences(alone) == []


def test_chunk_results_do_not_depend_on_what_was_generated_before():
    schema = make_schema("round_robin")
    later = generate_columns(schema, 11, 5000, 6000)
    generate_columns(schema, 11, 0, 20_000)  # any caching must not leak into the next call
    generate_columns(schema, 12, 5000, 6000)
    assert generate_columns(schema, 11, 5000, 6000).differences(later) == []
