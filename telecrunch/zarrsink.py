"""The Zarr sink: the client creates the store's arrays once; each shard task writes its chunks.

A shard task encodes its chunks with zarr into memory (an in-memory store seeded with the
store's metadata) and writes each finished chunk file through ``AtomicFile``, so chunk files
appear whole, under their final names, with their checksums in the shard's manifest entry.
Records are gathered into whole chunks first: every chunk is encoded once.
"""

from __future__ import annotations

from typing import Any

import orjson
import xxhash

from telecrunch.columns import Columns
from telecrunch.formats.labels import check_label_column
from telecrunch.manifest import FileEntry
from telecrunch.schema import Schema
from telecrunch.sinkbase import ShardTarget, Sink
from telecrunch.storage import AtomicFile, join, open_fs, write_atomic
from telecrunch.zarrlayout import (
    STORE,
    array_specs,
    chunk_records,
    column_values,
    metadata_documents,
)

_DOCUMENTS: dict[tuple[str, bytes], dict[str, bytes]] = {}


def documents(schema: Schema, options: dict[str, Any]) -> dict[str, bytes]:
    """The store's ``zarr.json`` documents (kept: every shard task of a job needs them)."""
    key = (schema.fingerprint, orjson.dumps(options, option=orjson.OPT_SORT_KEYS))
    if key not in _DOCUMENTS:
        if len(_DOCUMENTS) >= 8:
            _DOCUMENTS.clear()
        _DOCUMENTS[key] = metadata_documents(schema, options)
    return _DOCUMENTS[key]


class ZarrSink(Sink):
    """Chunks of ``data.zarr`` for one shard; the job's compression does not apply (Blosc lz4
    inside the chunks)."""

    format = "zarr"

    @classmethod
    def options(cls, job: Any) -> dict[str, Any]:
        check_label_column(job.schema)
        spec = job.spec
        return {"first_id": spec.first_id, "records": spec.records, "seed": spec.seed,
                "chunk_records": chunk_records(spec.shard_records, spec.records)}

    @classmethod
    def prepare(cls, job: Any, options: dict[str, Any]) -> list[FileEntry]:
        """Write the store's metadata (left alone when already there, as on a resume)."""
        fs, root = open_fs(job.spec.out)
        files = []
        for key, data in documents(job.schema, options).items():
            rel = f"{STORE}/{key}"
            full = join(root, rel)
            if not (fs.exists(full) and fs.cat_file(full) == data):
                write_atomic(fs, full, data)
            files.append(FileEntry(rel, cls.format, len(data), xxhash.xxh3_64_hexdigest(data)))
        return files

    def __init__(self, target: ShardTarget):
        import zarr
        from zarr.core.buffer import default_buffer_prototype
        from zarr.storage import MemoryStore

        options = target.options[self.format]
        self.target = target
        self.chunk = options["chunk_records"]
        self.start = target.shard.first_id - options["first_id"]  # array index of the shard
        if self.start % self.chunk:
            raise ValueError(f"shard {target.shard.index} does not start on a chunk boundary")
        schema = target.layout.schema
        wrap = default_buffer_prototype().buffer.from_bytes
        self.memory = {k: wrap(v) for k, v in documents(schema, options).items()}
        store = MemoryStore(self.memory)
        self.arrays = [(spec, zarr.open_array(store, path=spec.name, mode="r+")
                        .with_config({"write_empty_chunks": True}))
                       for spec in array_specs(schema)]
        self.pending: list[Columns] = []
        self.pending_records = 0
        self.written = 0
        self.files: list[FileEntry] = []

    def write(self, columns: Columns) -> None:
        self.pending.append(columns)
        self.pending_records += len(columns)
        while self.pending_records >= self.chunk:
            self._write_chunk(self.chunk)

    def commit(self) -> list[FileEntry]:
        if self.pending_records:
            self._write_chunk(self.pending_records)  # the dataset's last, partial chunk
        return self.files

    def abort(self) -> None:
        pass  # chunk files are written whole; a shard made again rewrites the same bytes

    def _write_chunk(self, n: int) -> None:
        batch = Columns.concat(self.pending) if len(self.pending) > 1 else self.pending[0]
        records, rest = batch.take(slice(0, n)), batch.take(slice(n, None))
        self.pending = [rest] if len(rest) else []
        self.pending_records -= n
        lo = self.start + self.written
        index = (lo // self.chunk,)
        for spec, array in self.arrays:
            array[lo:lo + n] = column_values(spec, records)
            key = f"{spec.name}/{array.metadata.encode_chunk_key(index)}"
            self._save(key, self.memory.pop(key).to_bytes())
        self.written += n

    def _save(self, key: str, data: bytes) -> None:
        rel = f"{STORE}/{key}"
        with AtomicFile(self.target.fs, join(self.target.root, rel)) as out:
            out.write(data)
            out.commit()
        self.files.append(FileEntry(rel, self.format, out.size, out.checksum))
