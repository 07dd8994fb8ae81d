"""Text sinks: a shard as one JSON lines, InfluxDB line protocol or CSV file.

Each generated block is encoded (``telecrunch.textformats``) and fed to the job's stream
compression (``telecrunch.streams``) on its way into the shard's file, so a shard is never held
in memory whole. Files are named ``part-NNNNNN`` + the format's suffix + the compression's
(``part-000003.jsonl.gz``); every CSV file starts with its header row.
"""

from __future__ import annotations

from typing import Any

from telecrunch.columns import Columns
from telecrunch.manifest import FileEntry
from telecrunch.sinkbase import ShardTarget, Sink
from telecrunch.storage import AtomicFile
from telecrunch.streams import STREAMS
from telecrunch.textformats import encoder


class TextSink(Sink):
    """One text file per shard, compressed as a stream."""

    suffix = ""

    @classmethod
    def options(cls, job: Any) -> dict[str, Any]:
        from telecrunch.generation import empty_columns

        encoder(cls.format)(empty_columns(job.schema), True)  # refuses what it cannot carry
        return {}

    def __init__(self, target: ShardTarget):
        stream = STREAMS[target.codec.name]
        self.rel, full = target.path(self.suffix + stream.suffix)
        self.encode = encoder(self.format)
        self.compressor = stream.open()
        self.first = True
        self.file = AtomicFile(target.fs, full)

    def write(self, columns: Columns) -> None:
        self.file.write(self.compressor.compress(self.encode(columns, self.first)))
        self.first = False

    def commit(self) -> list[FileEntry]:
        self.file.write(self.compressor.finish())
        self.file.commit()
        return [FileEntry(self.rel, self.format, self.file.size, self.file.checksum)]

    def abort(self) -> None:
        self.file.abort()


class JsonlSink(TextSink):
    format = "jsonl"
    suffix = ".jsonl"


class InfluxSink(TextSink):
    """Line protocol with the default ``LineProtocolOptions`` (no anomaly labels)."""

    format = "influx"
    suffix = ".lp"


class CsvSink(TextSink):
    format = "csv"
    suffix = ".csv"
