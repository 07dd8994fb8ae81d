"""Statistics computed while generating (no second pass), merged shard by shard.

Numeric summaries keep (count, min, max, mean, std) and merge with Chan's parallel formula, so
a shard's statistics combine block by block and a dataset's shard by shard, in any order.
Everything is plain JSON-able dicts: they travel in ShardEntries and live in the manifest.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from telecrunch.columns import Columns
from telecrunch.schema import BoolField, EnumField, Schema, StringField


def _pow2_at_least(x: float) -> float:
    """A power of two above x / 2 (1.0 for x <= 0): dividing by it is exact and brings x
    below 2, so squares of the scaled values stay finite."""
    if not x > 0:
        return 1.0
    return math.ldexp(1.0, math.frexp(x)[1] - 1)


def numeric_summary(values: np.ndarray) -> dict[str, Any]:
    """count, min, max, mean and population std of a batch of numbers."""
    n = int(len(values))
    if n == 0:
        return {"count": 0}
    lo, hi = values.min(), values.max()
    if values.dtype.kind in "iu":
        # deviations from the minimum are exact in float64 where the values themselves (e.g.
        # nanoseconds since 1970) are not: the spread stays exact to the last digit
        offsets = (values - lo).astype(np.float64)
        mean_offset = float(offsets.mean())
        spread = float(np.sqrt(((offsets - mean_offset) ** 2).mean()))
        mean = float(lo) + mean_offset
    else:  # scaled by a power of two, so squares of values near the float limit stay finite
        scale = _pow2_at_least(max(abs(float(lo)), abs(float(hi))))
        scaled = values.astype(np.float64) / scale
        mean_scaled = float(scaled.mean())
        spread = float(np.sqrt(((scaled - mean_scaled) ** 2).mean())) * scale
        mean = mean_scaled * scale
    return {"count": n, "min": lo.item(), "max": hi.item(), "mean": mean, "std": spread}


def merge_numeric(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """Summary of the union of two disjoint batches (Chan's formula, in scaled form)."""
    if not a.get("count"):
        return dict(b)
    if not b.get("count"):
        return dict(a)
    na, nb = a["count"], b["count"]
    n = na + nb
    scale = _pow2_at_least(max(abs(a["mean"]), abs(b["mean"]), a["std"], b["std"]))
    ma, mb = a["mean"] / scale, b["mean"] / scale
    sa, sb = a["std"] / scale, b["std"] / scale
    delta = mb - ma
    variance = (na * sa * sa + nb * sb * sb) / n + delta * delta * (na / n) * (nb / n)
    return {"count": n, "min": min(a["min"], b["min"]), "max": max(a["max"], b["max"]),
            "mean": (ma + delta * (nb / n)) * scale,
            "std": math.sqrt(max(variance, 0.0)) * scale}


def std(summary: dict[str, Any]) -> float:
    """Population standard deviation of a numeric summary."""
    return summary["std"] if summary.get("count") else float("nan")


def _merge_counts(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:
    out = dict(a)
    for key, value in b.items():
        out[key] = out.get(key, 0) + value
    return out


def field_summary(field, values: np.ndarray) -> dict[str, Any]:
    """The summary of one field's values, in the form its type takes."""
    if isinstance(field, EnumField):
        counts = np.bincount(values, minlength=len(field.values))
        return {"count": int(len(values)), "values": {
            label: int(c) for label, c in zip(field.values, counts, strict=True)}}
    if isinstance(field, BoolField):
        return {"count": int(len(values)), "true": int(values.sum())}
    if isinstance(field, StringField):
        lengths = np.char.str_len(values) if len(values) else np.zeros(0, np.int64)
        return {"count": int(len(values)), "length": numeric_summary(lengths)}
    return numeric_summary(values)


def merge_field(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """The summary of one field over two disjoint batches."""
    if "values" in a:
        return {"count": a["count"] + b["count"],
                "values": _merge_counts(a["values"], b["values"])}
    if "true" in a:
        return {"count": a["count"] + b["count"], "true": a["true"] + b["true"]}
    if "length" in a:
        return {"count": a["count"] + b["count"],
                "length": merge_numeric(a["length"], b["length"])}
    return merge_numeric(a, b)


def block_stats(columns: Columns) -> dict[str, Any]:
    """Statistics of one batch of records."""
    schema = columns.schema
    kinds = np.bincount(columns.kind, minlength=len(schema.kinds))
    fields: dict[str, Any] = {
        schema.time.field: numeric_summary(columns[schema.time.field]),
        schema.sources.field: numeric_summary(columns[schema.sources.field]),
    }
    for name, field in schema.fields.items():
        fields[name] = field_summary(field, columns[name][columns.present(name)])
    out = {
        "records": int(len(columns)),
        "kinds": {k.name: int(kinds[k.code]) for k in schema.kinds},
        "fields": fields,
    }
    if schema.anomalies:
        labels = columns.labels if columns.labels is not None else np.zeros(0, np.uint64)
        out["labels"] = {name: int(((labels >> np.uint64(bit)) & np.uint64(1)).sum())
                         for bit, name in enumerate(schema.labels)}
        out["labelled_records"] = int((labels != 0).sum())
    return out


def merge(a: dict[str, Any] | None, b: dict[str, Any]) -> dict[str, Any]:
    """Statistics of the union of two disjoint batches."""
    if not a:
        return b
    fields = {name: merge_field(sa, b["fields"][name]) for name, sa in a["fields"].items()}
    out = {
        "records": a["records"] + b["records"],
        "kinds": _merge_counts(a["kinds"], b["kinds"]),
        "fields": fields,
    }
    if "labels" in a:
        out["labels"] = _merge_counts(a["labels"], b["labels"])
        out["labelled_records"] = a["labelled_records"] + b["labelled_records"]
    return out


def empty_stats(schema: Schema) -> dict[str, Any]:
    from telecrunch.generation import empty_columns

    return block_stats(empty_columns(schema))
