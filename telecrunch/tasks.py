"""The one task of the graph: make (or keep) one shard, on the worker that runs it.

Generation, packing and writing all happen here; only the small ShardEntry goes back.
The payload is a few kilobytes (the schema document, the seed, where to write), so the
scheduler never sees bulk data.
"""

from __future__ import annotations

import os
import threading
import time
from functools import lru_cache
from typing import Any

import orjson

from telecrunch.codecs import get_codec
from telecrunch.errors import TeleCrunchError
from telecrunch.generation import generate_columns
from telecrunch.layout import compile_layout
from telecrunch.manifest import ShardEntry
from telecrunch.plan import ShardPlan
from telecrunch.schema import Schema
from telecrunch.sinks import SINKS, LabelsSink, ShardTarget
from telecrunch.stats import block_stats, merge
from telecrunch.storage import file_checksum, join, open_fs, write_atomic

STATE_DIR = ".telecrunch"
RECEIPTS = f"{STATE_DIR}/done"


def receipt_path(root: str, shard: ShardPlan) -> str:
    return join(root, RECEIPTS, f"{shard.name}.json")


@lru_cache(maxsize=8)
def _schema(canonical: str) -> Schema:
    from telecrunch.schema_parse import parse_schema

    return parse_schema(orjson.loads(canonical))


def schema_of(payload: dict[str, Any]) -> Schema:
    return _schema(payload["schema"])


_THREAD = threading.local()  # each thread's fused kernels: they keep buffers and state


def fast_blocks(schema: Schema, canonical: str | None = None):
    """The fused kernel for a schema in this thread, or None where it does not apply
    (``TELECRUNCH_FUSED=0`` turns it off, to compare with the reference path).
    ``canonical``: the schema's canonical JSON where the caller has it (a task's payload),
    which saves making it again for every shard (0.2 ms).

    One per thread: a kernel's output buffer and walk state are overwritten by its next
    block, so workers running tasks in several threads must not share one."""
    from telecrunch.fused import FusedBlocks, plan_supported

    if os.environ.get("TELECRUNCH_FUSED", "1") == "0":
        return None
    if canonical is None:
        canonical = orjson.dumps(schema.to_doc()).decode()
    kernels = getattr(_THREAD, "kernels", None)
    if kernels is None:
        kernels = _THREAD.kernels = {}
    if canonical not in kernels:
        if len(kernels) >= 8:  # the oldest goes: a worker rarely sees many schemas
            kernels.pop(next(iter(kernels)))
        schema = _schema(canonical)
        kernels[canonical] = FusedBlocks(schema) if plan_supported(schema) else None
    return kernels[canonical]


def intact(fs: Any, root: str, entry: ShardEntry) -> bool:
    """True when every file of the entry exists with its recorded size and checksum."""
    for f in entry.files:
        path = join(root, f.path)
        if not fs.exists(path) or fs.size(path) != f.bytes:
            return False
        if file_checksum(fs, path)[1] != f.xxh3:
            return False
    return True


def make_shard(payload: dict[str, Any], shard: ShardPlan,
               known: dict | None = None) -> tuple[dict, bool]:
    """Write one shard in every format, or keep it if ``known`` files are intact.

    Returns (ShardEntry as dict, reused). A receipt is written after the files are in place,
    so a resumed run knows this shard is done.
    """
    fs, root = open_fs(payload["out"])
    if known is not None:
        entry = ShardEntry.from_dict(known)
        if intact(fs, root, entry):
            return known, True
    started = time.perf_counter()
    schema = schema_of(payload)
    layout = compile_layout(schema)
    target = ShardTarget(fs, root, layout, shard, get_codec(payload["compression"]),
                         payload.get("options", {}))
    sinks = []
    stats = None
    try:
        for fmt in payload["formats"]:
            sinks.append(SINKS[fmt](target))
        if schema.anomalies:
            sinks.append(LabelsSink(target))
        block = payload["block_records"]
        binary_only = [s.format for s in sinks] == ["binary"]
        fast = fast_blocks(schema, payload["schema"]) if binary_only else None
        if fast is not None:
            fast.begin(shard.first_id)
        for start in range(shard.first_id, shard.id_stop, block):
            stop = min(start + block, shard.id_stop)
            if fast is not None:  # the fused kernel: no columns at all
                data, nbits = fast.pack(payload["seed"], start, stop - start)
                sinks[0].write_packed(stop - start, data, nbits)
                continue
            columns = generate_columns(schema, payload["seed"], start, stop)
            stats = merge(stats, block_stats(columns))
            for sink in sinks:
                sink.write(columns)
        if fast is not None and shard.records:
            stats = fast.summary()  # the kernel merged the blocks' statistics as it went
        files = []
        for sink in sinks:
            files.extend(sink.commit())
    except BaseException:
        for sink in sinks:
            try:
                sink.abort()
            except Exception:  # noqa: BLE001 - the original error matters more
                pass
        raise
    if stats is None:
        from telecrunch.stats import empty_stats

        stats = empty_stats(schema)
    entry = ShardEntry(shard.index, shard.first_id, shard.records, tuple(files), stats,
                       round(time.perf_counter() - started, 6))
    doc = entry.to_dict()
    write_atomic(fs, receipt_path(root, shard),
                 orjson.dumps({"job": payload["identity"], "entry": doc}))
    return doc, False


def make_shards(payload: dict[str, Any], shards: list[ShardPlan],
                known: list[dict | None]) -> bytes:
    """``make_shard`` for each of a run of shards (one task: see plan.plan_tasks), in order,
    as the JSON of a list of [entry, reused] (``shard_results`` reads it). A task's result as
    bytes: Dask sizes a result by walking it, 0.4 ms for a shard entry's nested statistics
    against 5 µs to encode it, and takes bytes at their length."""
    return orjson.dumps([make_shard(payload, shard, entry)
                         for shard, entry in zip(shards, known, strict=True)])


def shard_results(data: bytes) -> list[tuple[dict, bool]]:
    """The (entry, reused) pairs of a ``make_shards`` result."""
    return [(doc, reused) for doc, reused in orjson.loads(data)]


def check_payload(payload: dict[str, Any]) -> None:
    """Fail early, on the client, for formats no sink handles."""
    for fmt in payload["formats"]:
        if fmt not in SINKS:
            raise TeleCrunchError("formats", f"format {fmt} is not available (have: "
                                  f"{', '.join(SINKS)})", fmt)
