"""Output formats as sinks: each takes a shard's records block by block and writes its files.

Every sink writes through ``AtomicFile`` (temporary name, rename when whole) and reports the
files it committed as ``FileEntry``s for the manifest. To add a format, write a sink class
(``telecrunch.sinkbase.Sink``) and register it in ``SINKS``; every sink must pass the shared
suite in tests/test_sinks.py.
"""

from __future__ import annotations

from typing import Any

from telecrunch.columns import Columns
from telecrunch.generation import time_floor
from telecrunch.manifest import FileEntry
from telecrunch.shardfile import ShardWriter
from telecrunch.sinkbase import ShardTarget, Sink
from telecrunch.storage import AtomicFile
from telecrunch.textsinks import CsvSink, InfluxSink, JsonlSink
from telecrunch.zarrsink import ZarrSink

__all__ = ["SINKS", "BinarySink", "LabelsSink", "ShardTarget", "Sink", "format_options",
           "prepare_formats"]

BINARY_SUFFIX = ".tcs"
LABELS_SUFFIX = ".labels"


class BinarySink(Sink):
    """Bit-packed shard files (docs/FORMAT.md), one block per generated batch."""

    format = "binary"

    def __init__(self, target: ShardTarget):
        shard = target.shard
        self.rel, full = target.path(BINARY_SUFFIX)
        self.writer = ShardWriter(target.layout, target.codec, shard.first_id, shard.records,
                                  time_floor(target.layout.schema, shard.first_id))
        self.file = AtomicFile(target.fs, full)
        self.file.write(self.writer.start())

    def write(self, columns: Columns) -> None:
        self.file.write(self.writer.block(columns))

    def write_packed(self, records: int, payload: bytes, nbits: int) -> None:
        """A block the fused kernel already packed (telecrunch.fused)."""
        for part in self.writer.packed_block_parts(records, payload, nbits):
            self.file.write(part)

    def commit(self) -> list[FileEntry]:
        self.file.write(self.writer.trailer())
        self.file.commit()
        return [FileEntry(self.rel, self.format, self.file.size, self.file.checksum)]

    def abort(self) -> None:
        self.file.abort()


class LabelsSink(Sink):
    """The labels sidecar, written whenever the schema injects anomalies."""

    format = "labels"

    def __init__(self, target: ShardTarget):
        self.target = target
        self.rel, self.full = target.path(LABELS_SUFFIX)
        self.ids: list = []
        self.masks: list = []

    def write(self, columns: Columns) -> None:
        keep = columns.labels != 0
        self.ids.append(columns.ids[keep])
        self.masks.append(columns.labels[keep])

    def commit(self) -> list[FileEntry]:
        import numpy as np

        from telecrunch.labelfile import encode_labels

        shard = self.target.shard
        data = encode_labels(shard.first_id, shard.records, len(self.target.layout.schema.labels),
                             np.concatenate(self.ids or [np.zeros(0, np.uint64)]),
                             np.concatenate(self.masks or [np.zeros(0, np.uint64)]))
        with AtomicFile(self.target.fs, self.full) as out:
            out.write(data)
            out.commit()
        return [FileEntry(self.rel, self.format, out.size, out.checksum)]

    def abort(self) -> None:
        pass  # nothing is on disk before commit


SINKS: dict[str, type[Sink]] = {
    sink.format: sink for sink in (BinarySink, JsonlSink, InfluxSink, CsvSink, ZarrSink)
}


def format_options(job: Any) -> dict[str, dict[str, Any]]:
    """Each format's shard-task options; raises ``JobError`` for a format that cannot carry the
    job. Runs on the client before anything is written."""
    return {fmt: SINKS[fmt].options(job) for fmt in job.spec.formats if fmt in SINKS}


def prepare_formats(job: Any, options: dict[str, dict[str, Any]]) -> list[FileEntry]:
    """Write every format's dataset-level files; they go to the manifest's ``files``."""
    files: list[FileEntry] = []
    for fmt in job.spec.formats:
        files.extend(SINKS[fmt].prepare(job, options.get(fmt, {})))
    return files
