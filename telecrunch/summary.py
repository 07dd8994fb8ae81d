"""Human-readable summaries of a dataset (``telecrunch inspect``)."""

from __future__ import annotations

from typing import Any

from telecrunch.manifest import Manifest
from telecrunch.progress import human_bytes
from telecrunch.stats import std


def summary_doc(manifest: Manifest) -> dict[str, Any]:
    """The facts ``inspect --json`` prints."""
    records = manifest.records
    sizes = manifest.bytes_by_format()
    return {
        "schema": manifest.schema.get("name"),
        "records": records,
        "id_range": [manifest.first_id, manifest.id_stop],
        "shards": len(manifest.shards),
        "seed": manifest.job.get("seed"),
        "complete": manifest.complete,
        "bytes": sizes,
        "bytes_per_record": {k: (v / records if records else None) for k, v in sizes.items()},
        "kinds": manifest.stats.get("kinds", {}),
        "labels": manifest.stats.get("labels", {}),
        "labelled_records": manifest.stats.get("labelled_records", 0),
        "fields": {name: _field_summary(s) for name, s in manifest.stats.get("fields", {}).items()},
        "timings": manifest.timings,
    }


def _field_summary(stats: dict[str, Any]) -> dict[str, Any]:
    if "values" in stats or "true" in stats:
        return stats
    if "length" in stats:
        length = stats["length"]
        out = {"count": stats["count"]}
        if length.get("count"):
            out["length"] = {"min": length["min"], "max": length["max"],
                             "mean": length["mean"]}
        return out
    if not stats.get("count"):
        return {"count": 0}
    return {"count": stats["count"], "min": stats["min"], "max": stats["max"],
            "mean": stats["mean"], "std": std(stats)}


def summary_text(manifest: Manifest, where: str) -> str:
    doc = summary_doc(manifest)
    lines = [
        f"dataset   {where}",
        f"schema    {doc['schema']} (seed {doc['seed']})",
        f"records   {doc['records']:,} IDs [{doc['id_range'][0]}, {doc['id_range'][1]}) in "
        f"{doc['shards']} shards",
    ]
    for fmt, size in doc["bytes"].items():
        per = doc["bytes_per_record"][fmt]
        per_text = f", {per:.2f} B/record" if per is not None else ""
        lines.append(f"{fmt:<9} {human_bytes(size)}{per_text}")
    kinds = ", ".join(f"{k} {v:,}" for k, v in doc["kinds"].items())
    lines.append(f"kinds     {kinds}")
    if doc["labels"]:
        labelled = doc["labelled_records"]
        share = 100 * labelled / records if (records := doc["records"]) else 0.0
        lines.append(f"anomalies {labelled:,} labelled records ({share:.3f}%)")
        for name, count in doc["labels"].items():
            lines.append(f"  {name:<26} {count:,}")
    lines.append("fields")
    for name, s in doc["fields"].items():
        lines.append(f"  {name:<18} {_describe(s)}")
    wall = manifest.timings.get("wall_seconds")
    if wall:
        lines.append(f"made in   {wall:.2f} s ({manifest.timings.get('records_per_second'):,} "
                     "records/s)")
    return "\n".join(lines)


def _describe(s: dict[str, Any]) -> str:
    if "values" in s:
        total = max(s["count"], 1)
        return ", ".join(f"{k} {100 * v / total:.1f}%" for k, v in s["values"].items())
    if "true" in s:
        return f"true {100 * s['true'] / max(s['count'], 1):.1f}% of {s['count']:,}"
    if "length" in s:
        length = s["length"]
        return f"{s['count']:,} strings, length {length['min']}..{length['max']} " \
               f"(mean {length['mean']:.1f})"
    if not s.get("count"):
        return "no values"
    return (f"{s['count']:,} values in [{_number(s['min'])}, {_number(s['max'])}], "
            f"mean {s['mean']:.6g}, std {s['std']:.6g}")


def _number(value: float | int) -> str:
    """Integers exactly; floats without binary noise (-1.740000000000002 -> -1.74)."""
    return str(value) if isinstance(value, int) else f"{value:.12g}"


def stats_line(stats: dict[str, Any]) -> str:
    """One line of running statistics: records per kind, labels, numeric field means."""
    parts = [f"records {stats['records']:,}"]
    parts += [f"{k} {v:,}" for k, v in stats.get("kinds", {}).items()]
    if stats.get("labels"):
        parts.append(f"labelled {stats['labelled_records']:,}")
    for name, s in stats.get("fields", {}).items():
        if "mean" in s and s.get("count"):
            parts.append(f"{name} mean {s['mean']:.4g} sd {std(s):.3g}")
    return "stats: " + " | ".join(parts)
