"""Manifest statistics equal statistics recomputed from the decoded data, shard by shard and
merged; merging is associative and order-independent.

Counts, minima, maxima, histograms and label counts must be exact; means and standard
deviations agree to 1e-9 relative (they are merged with Chan's formula, recomputed here in
one numpy pass). A merged standard deviation is also allowed a few units in the last place of
the mean: means are float64, so a merge knows the difference of two means only to ulp(mean)
(256 ns for timestamps near 2026 in ns), which is 1e-9 of a timestamp spread of minutes.
"""

from __future__ import annotations

import functools
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import telecrunch
from telecrunch import stats
from telecrunch.generation import generate_columns
from telecrunch.schema import BoolField, EnumField, StringField

FLEET = Path(__file__).resolve().parent.parent / "jobs" / "fleet_schema.yaml"
RECORDS, SHARD, BLOCK = 60_000, 17_000, 6_000  # uneven: blocks and a short last shard
REL = 1e-9


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("stats") / "fleet"
    manifest = telecrunch.generate(FLEET, RECORDS, out, seed=5, first_id=1_000_003,
                                   cluster="sync", shard_records=SHARD, block_records=BLOCK,
                                   formats=("binary",))
    opened = telecrunch.open_dataset(out)
    return manifest, opened


def close(a: float, b: float, scale: float) -> bool:
    return abs(a - b) <= REL * max(abs(a), abs(b), scale)


def close_std(a: float, b: float, mean: float, spread: float) -> bool:
    """Standard deviations equal to 1e-9 relative, or within 16 ulps of the mean."""
    return abs(a - b) <= max(REL * max(a, b, spread * 1e-3), 16 * float(np.spacing(abs(mean))))


def numeric_expected(values: np.ndarray) -> dict:
    if len(values) == 0:
        return {"count": 0}
    as_float = values.astype(np.float64)
    return {"count": len(values), "min": values.min().item(), "max": values.max().item(),
            "mean": float(as_float.mean()), "std": float(as_float.std())}


def check_numeric(got: dict, values: np.ndarray, place: str) -> None:
    expected = numeric_expected(values)
    assert got["count"] == expected["count"], place
    if not expected["count"]:
        return
    assert got["min"] == expected["min"] and got["max"] == expected["max"], place
    assert type(got["min"]) is type(expected["min"]), place  # ints stay ints
    spread = expected["max"] - expected["min"]
    scale = max(abs(expected["min"]), abs(expected["max"]))
    assert close(got["mean"], expected["mean"], scale), (place, got["mean"], expected["mean"])
    assert close_std(stats.std(got), expected["std"], expected["mean"], spread), \
        (place, stats.std(got), expected["std"])


def check_against_columns(got: dict, columns, schema) -> None:
    """Every statistic in ``got`` recomputed from decoded ``columns``."""
    assert got["records"] == len(columns)
    kinds = np.bincount(columns.kind, minlength=len(schema.kinds))
    assert got["kinds"] == {k.name: int(kinds[k.code]) for k in schema.kinds}
    fields = got["fields"]
    assert set(fields) == {schema.time.field, schema.sources.field, *schema.fields}
    check_numeric(fields[schema.time.field], columns[schema.time.field], "time")
    check_numeric(fields[schema.sources.field], columns[schema.sources.field], "sources")
    for name, field in schema.fields.items():
        values = columns[name][columns.present(name)]
        entry = fields[name]
        assert entry["count"] == len(values), name
        if isinstance(field, EnumField):
            assert entry["values"] == {v: int((values == i).sum())
                                       for i, v in enumerate(field.values)}, name
        elif isinstance(field, BoolField):
            assert entry["true"] == int(values.sum()), name
        elif isinstance(field, StringField):
            lengths = np.array([len(v) for v in values.tolist()], dtype=np.int64)
            check_numeric(entry["length"], lengths, f"{name}.length")
        else:
            check_numeric(entry, values, name)
    labels = columns.labels
    assert got["labels"] == {name: int(sum(int(m) >> bit & 1 for m in labels[labels != 0]))
                             for bit, name in enumerate(schema.labels)}
    assert got["labelled_records"] == int(np.count_nonzero(labels))


def test_manifest_statistics_equal_statistics_of_the_decoded_data(dataset):
    manifest, opened = dataset
    columns = opened.read()
    assert len(columns) == RECORDS
    check_against_columns(manifest.stats, columns, opened.schema)
    # the fleet exercises every kind of statistic, and labels
    assert manifest.stats["kinds"]["event"] > 0
    assert manifest.stats["labelled_records"] > 100
    assert sum(1 for v in manifest.stats["labels"].values() if v) >= 5


def test_each_shard_statistics_equal_its_decoded_records(dataset):
    manifest, opened = dataset
    assert [s.records for s in manifest.shards] == [SHARD, SHARD, SHARD, RECORDS - 3 * SHARD]
    for shard in manifest.shards:
        columns = opened.read(slice(shard.first_id, shard.id_stop))
        check_against_columns(shard.stats, columns, opened.schema)


def test_decoded_data_is_the_generated_data(dataset):
    """So the statistics above describe what the generator made, not a decoding artefact."""
    manifest, opened = dataset
    first = manifest.first_id
    generated = generate_columns(opened.schema, 5, first, first + 5_000)
    assert opened.read(slice(first, first + 5_000)).differences(generated) == []


# ---- merging ----

@functools.cache
def sample_columns():
    schema = telecrunch.load_schema(FLEET)
    return schema, generate_columns(schema, 3, 0, 4_000)


def assert_same_stats(a: dict, b: dict, place: str = "") -> None:
    assert set(a) == set(b), place
    if "std" in a or "std" in b:  # a numeric summary
        assert a["count"] == b["count"], place
        if a["count"]:
            assert a["min"] == b["min"] and a["max"] == b["max"], place
            scale = max(abs(a["min"]), abs(a["max"]))
            assert close(a["mean"], b["mean"], scale), place
            assert close_std(stats.std(a), stats.std(b), a["mean"], a["max"] - a["min"]), place
        return
    for key in a:
        if isinstance(a[key], dict):
            assert_same_stats(a[key], b[key], f"{place}.{key}")
        else:
            assert a[key] == b[key], f"{place}.{key}"


def tree_merge(parts: list[dict], shape: list[int]) -> dict:
    """Merge pairs in an order given by ``shape`` (indexes of the pair to merge next)."""
    parts = list(parts)
    for choice in shape:
        if len(parts) == 1:
            break
        i = choice % (len(parts) - 1)
        parts[i:i + 2] = [stats.merge(parts[i], parts[i + 1])]
    while len(parts) > 1:
        parts[:2] = [stats.merge(parts[0], parts[1])]
    return parts[0]


@settings(max_examples=40, deadline=None)
@given(cuts=st.lists(st.integers(0, 4_000), max_size=12), order=st.randoms(use_true_random=False),
       shape=st.lists(st.integers(0, 100), max_size=12))
def test_merge_is_associative_and_order_independent(cuts, order, shape):
    schema, columns = sample_columns()
    edges = [0, *sorted(cuts), len(columns)]
    parts = [stats.block_stats(columns.take(slice(a, b)))
             for a, b in zip(edges, edges[1:], strict=False)]  # some may be empty
    whole = stats.block_stats(columns)
    shuffled = list(parts)
    order.shuffle(shuffled)
    folded = None
    for part in shuffled:
        folded = stats.merge(folded, part)
    assert_same_stats(folded, whole)
    assert_same_stats(tree_merge(parts, shape), whole)
    assert_same_stats(stats.merge(stats.empty_stats(schema), whole), whole)


@settings(max_examples=60, deadline=None)
@given(values=st.lists(st.floats(-1e12, 1e12), min_size=0, max_size=60),
       cut=st.integers(0, 60))
def test_merged_numeric_summaries_equal_one_pass(values, cut):
    array = np.array(values, dtype=np.float64)
    a, b = array[:cut], array[cut:]
    merged = stats.merge_numeric(stats.numeric_summary(a), stats.numeric_summary(b))
    expected = stats.numeric_summary(array)
    assert merged["count"] == expected["count"]
    if len(array):
        assert merged["min"] == expected["min"] and merged["max"] == expected["max"]
        scale = float(np.abs(array).max())
        assert abs(merged["mean"] - expected["mean"]) <= 1e-12 * max(scale, 1.0)
        assert math.isclose(stats.std(merged), float(array.std()), rel_tol=1e-9,
                            abs_tol=16 * float(np.spacing(max(scale, 1.0))))
