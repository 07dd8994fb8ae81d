"""Every value is a pure function of (schema, seed, record ID): chunking never changes it,
adding a field never changes the others, and the seed does."""

from __future__ import annotations

import copy
import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from telecrunch import generate_columns, load_schema
from telecrunch.columns import Columns
from telecrunch.walk import BLOCK, SPAN
from tests.test_roundtrip import SETTINGS, schema_docs

SOURCES = 37

DOC = {
    "telecrunch": 1,
    "name": "fleet",
    "sources": {"count": SOURCES},
    "time": {"interval": "100ms", "jitter": "7ms", "resolution": "1us", "bits": 40},
    "kinds": {
        "update": {
            "fields": {
                "temp": {"type": "float", "min": -40, "max": 125, "resolution": 0.001,
                         "signal": {"kind": "random_walk", "step": 0.3, "start": 20.0}},
                "level": {"type": "int", "min": 0, "max": 1000,
                          "signal": {"kind": "random_walk", "step": 4.0}},
                "pressure": {"type": "float", "encoding": "binary64", "min": 900, "max": 1100,
                             "signal": {"kind": "random_walk", "step": 0.5, "reversion": 0.05,
                                        "mean": 1013.0}},
                "load": {"type": "float", "min": 0, "max": 100, "resolution": 0.01,
                         "signal": {"kind": "sine", "period": "90s", "amplitude": 40.0,
                                    "offset": 50.0, "phase": -0.1, "noise": 3.0}},
                "rssi": {"type": "int", "min": -120, "max": 0,
                         "signal": {"kind": "normal", "mean": -60.0, "std": 9.0}},
                "packets": {"type": "int", "min": 0, "max": 65535,
                            "signal": {"kind": "sequence", "start": 65000, "step": 7}},
                "state": {"type": "enum", "values": ["ok", "warn", "fault"],
                          "weights": [8, 1, 1]},
                "online": {"type": "bool", "signal": {"kind": "bernoulli", "p": 0.9}},
                "f32": {"type": "float", "encoding": "binary32", "min": -1, "max": 1},
            },
        },
        "event": {
            "rate": 0.2,
            "fields": {
                "message": {"type": "string", "max_length": 16, "alphabet": "alnum"},
                "firmware": {"type": "string", "values": ["1.0", "1.1", "2.0"]},
                "at": {"type": "timestamp", "min": "2025-06-01T00:00:00Z",
                       "max": "2026-06-01T00:00:00Z", "resolution": "1s"},
                "code": {"type": "int", "min": -(2**63), "max": 2**63 - 1},
            },
        },
    },
}


@pytest.fixture(scope="module")
def fleet():
    return load_schema(DOC)


def chunked(schema, seed: int, start: int, stop: int, edges: list[int]) -> Columns:
    cuts = [start, *sorted(e for e in set(edges) if start < e < stop), stop]
    parts = [generate_columns(schema, seed, a, b) for a, b in zip(cuts, cuts[1:], strict=False)]
    return Columns.concat(parts, schema)


def uneven_edges(start: int, stop: int, seed: int) -> list[int]:
    """Chunk edges of very different sizes, many of them inside walk blocks."""
    pick = random.Random(seed)
    edges, at = [], start
    sizes = [1, 2, 15, 16, 17, BLOCK * SOURCES - 1, BLOCK * SOURCES + 1, 3, 250, 999]
    while at < stop:
        at += pick.choice(sizes) if pick.random() < 0.6 else pick.randrange(1, 2000)
        edges.append(at)
    return edges


@pytest.mark.parametrize("start", [0, 5, 10**9 + 3])
def test_one_chunk_equals_many_uneven_chunks(fleet, start):
    stop = start + 12_000
    whole = generate_columns(fleet, 42, start, stop)
    parts = chunked(fleet, 42, start, stop, uneven_edges(start, stop, start))
    assert whole.differences(parts) == []
    # the walks really move, so equality is not trivially about constants
    update = whole.kind == 0
    assert np.unique(whole["temp"][update]).size > 1000
    assert np.unique(whole["pressure"][update]).size > 1000


def test_single_records_equal_their_place_in_a_batch(fleet):
    start = 3 * BLOCK * SOURCES - 40  # straddles a walk block boundary for every source
    whole = generate_columns(fleet, 5, start, start + 80)
    for i in range(80):
        one = generate_columns(fleet, 5, start + i, start + i + 1)
        assert one.differences(whole.take(slice(i, i + 1))) == [], start + i


def test_chunking_is_irrelevant_at_the_end_of_the_walk_span():
    doc = copy.deepcopy(DOC)
    doc["sources"]["count"] = 2
    doc["time"]["interval"] = "1ms"
    doc["time"]["jitter"] = 0
    schema = load_schema(doc)
    stop = 2 * (SPAN - 1)  # near the last record a source can have: the last walk anchor
    start = stop - 2 * BLOCK * 3 - 5
    whole = generate_columns(schema, 1, start, stop)
    assert whole.differences(chunked(schema, 1, start, stop, list(range(start, stop, 13)))) == []


def test_adding_fields_keeps_existing_values(fleet):
    doc = copy.deepcopy(DOC)
    update = doc["kinds"]["update"]["fields"]
    grown = {"first": {"type": "int", "min": 0, "max": 9}}
    for name, spec in update.items():
        grown[name] = spec
        if name == "level":  # and one in the middle, with memory
            grown["humidity"] = {"type": "float", "min": 0, "max": 100, "resolution": 0.1,
                                 "signal": {"kind": "random_walk", "step": 1.0}}
    doc["kinds"]["update"]["fields"] = grown
    doc["kinds"]["event"]["fields"]["extra"] = {"type": "string", "max_length": 4}
    bigger = load_schema(doc)
    old = generate_columns(fleet, 8, 100, 3100)
    new = generate_columns(bigger, 8, 100, 3100)
    assert set(new.names) - set(old.names) == {"first", "humidity", "extra"}
    for name in old.names:
        assert np.array_equal(old[name], new[name]), name


def test_different_seeds_give_different_values(fleet):
    a = generate_columns(fleet, 1, 0, 4000)
    b = generate_columns(fleet, 2, 0, 4000)
    assert a.differences(generate_columns(fleet, 1, 0, 4000)) == []
    assert np.mean(a.kind != b.kind) > 0.2
    both = {0: (a.kind == 0) & (b.kind == 0), 1: (a.kind == 1) & (b.kind == 1)}
    mostly_different = ["temp", "level", "pressure", "load", "f32", "message", "at", "code"]
    for name in mostly_different:
        mask = both[fleet.kind_of_field[name].code]
        assert np.mean(a[name][mask] != b[name][mask]) > 0.9, name
    for name in ["rssi", "state", "online", "firmware"]:
        mask = both[fleet.kind_of_field[name].code]
        assert not np.array_equal(a[name][mask], b[name][mask]), name
    assert np.array_equal(a["packets"][both[0]], b["packets"][both[0]])  # a counter: no draws
    assert np.mean(a["ts"] != b["ts"]) > 0.9  # jitter is drawn


def test_sequence_counts_per_source_and_wraps_exactly():
    schema = load_schema({
        "telecrunch": 1, "name": "seq", "sources": {"count": 3},
        "kinds": {"k": {"fields": {
            "small": {"type": "int", "min": -120, "max": 0,
                      "signal": {"kind": "sequence", "start": -3, "step": 5}},
            "wide": {"type": "int", "min": 0, "max": 2**53 + 1,
                     "signal": {"kind": "sequence", "start": 2.0**53 - 2, "step": 1}},
            "full": {"type": "int", "min": -(2**63), "max": 2**63 - 1,
                     "signal": {"kind": "sequence", "step": -2}},
            "grid": {"type": "float", "min": 0, "max": 0.3, "resolution": 0.1,
                     "signal": {"kind": "sequence", "step": 0.1}},
        }}},
    })
    columns = generate_columns(schema, 0, 0, 30)
    seq = [i // 3 for i in range(30)]
    assert columns["small"].tolist() == [-120 + (117 + 5 * n) % 121 for n in seq]
    assert columns["wide"].tolist() == [(2**53 - 2 + n) % (2**53 + 2) for n in seq]
    assert columns["full"].tolist() == [(-(2**63) + (-2 * n) % 2**64) for n in seq]
    assert np.round(columns["grid"] / 0.1).astype(int).tolist() == [n % 4 for n in seq]


BIG_STOP = 6_000


@pytest.fixture(scope="module")
def big(fleet):
    return generate_columns(fleet, 77, 0, BIG_STOP)


@settings(SETTINGS, max_examples=100)
@given(a=st.integers(0, BIG_STOP), length=st.integers(0, 900))
def test_subrange_equals_slice_of_a_larger_generation(fleet, big, a, length):
    b = min(a + length, BIG_STOP)
    assert generate_columns(fleet, 77, a, b).differences(big.take(slice(a, b))) == []


@settings(SETTINGS, max_examples=150)
@given(doc=schema_docs(), seed=st.integers(0, 2**64 - 1), start=st.integers(0, 10**10),
       data=st.data())
def test_random_schemas_do_not_depend_on_chunking(doc, seed, start, data):
    schema = load_schema(doc)
    count = data.draw(st.integers(1, 400), "count")
    edges = data.draw(st.lists(st.integers(start, start + count), max_size=8), "edges")
    whole = generate_columns(schema, seed, start, start + count)
    assert whole.differences(chunked(schema, seed, start, start + count, edges)) == []
    lo = data.draw(st.integers(start, start + count), "lo")
    hi = data.draw(st.integers(lo, start + count), "hi")
    part = generate_columns(schema, seed, lo, hi)
    assert part.differences(whole.take(slice(lo - start, hi - start))) == []
