"""Reading a dataset back: manifest -> shards -> columns, pandas or dask."""

from __future__ import annotations

import mmap
from bisect import bisect_right
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from telecrunch.columns import Columns
from telecrunch.errors import DatasetError
from telecrunch.layout import compile_layout
from telecrunch.manifest import MANIFEST_NAME, Manifest, ShardEntry
from telecrunch.readparts import default_threads, read_parts
from telecrunch.schema import Schema
from telecrunch.shardfile import ShardReader
from telecrunch.storage import join, local_path, open_fs


class Dataset:
    """A dataset folder, opened through its manifest. Shards are memory-mapped on demand."""

    def __init__(self, url: str | Path):
        self.url = str(url)
        self.fs, self.root = open_fs(self.url)
        path = join(self.root, MANIFEST_NAME)
        if not self.fs.exists(path):
            if self.fs.exists(join(self.root, ".telecrunch")):
                raise DatasetError(self.url, "is an unfinished run (no manifest yet); finish it "
                                   "with --resume", has_got=False)
            raise DatasetError(self.url, f"is not a TeleCrunch dataset ({MANIFEST_NAME} not "
                               "found)", has_got=False)
        with self.fs.open(path, "rb") as f:
            self.manifest = Manifest.from_json(f.read(), f"{self.url}/{MANIFEST_NAME}")
        if not self.manifest.complete:
            raise DatasetError(self.url, "manifest says the dataset is incomplete",
                               has_got=False)
        from telecrunch.schema_parse import parse_schema

        self.schema: Schema = parse_schema(self.manifest.schema)
        self.layout = compile_layout(self.schema)
        self._starts = [s.first_id for s in self.manifest.shards]
        self._local = local_path(self.url)
        self._fast = None

    def __len__(self) -> int:
        return self.manifest.records

    def __repr__(self) -> str:
        m = self.manifest
        return (f"<Dataset {self.url!r}: {m.records} records [{m.first_id}, {m.id_stop}) in "
                f"{len(m.shards)} shards, schema {self.schema.name!r}>")

    @property
    def shards(self) -> tuple[ShardEntry, ...]:
        return self.manifest.shards

    def binary_file(self, shard: ShardEntry) -> str:
        for f in shard.files:
            if f.format == "binary":
                return f.path
        raise DatasetError(self.url, "has no binary shards to read (formats: "
                           f"{', '.join(sorted(self.manifest.bytes_by_format()))})", has_got=False)

    def shard_reader(self, shard: ShardEntry) -> ShardReader:
        rel = self.binary_file(shard)
        try:
            if self._local is not None:
                with open(Path(self._local) / rel, "rb") as f:
                    size = Path(f.name).stat().st_size
                    data = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) if size else b""
            else:
                with self.fs.open(join(self.root, rel), "rb") as f:
                    data = f.read()
        except (OSError, ValueError) as exc:  # a folder, no permission; mmap's own errors
            raise self._unreadable(rel, exc) from None
        return ShardReader(data, self.layout, rel, self._decoder())

    def _unreadable(self, rel: str, exc: Exception) -> DatasetError:
        """The one-line error for a file of the dataset that could not be opened."""
        if isinstance(exc, FileNotFoundError):
            return DatasetError(join(self.url, rel), "missing, though the manifest lists it "
                                "(`telecrunch verify` checks the whole dataset)", has_got=False)
        return DatasetError(join(self.url, rel), f"cannot be read ({exc})", has_got=False)

    def _decoder(self):
        """The compiled decoder of this schema (built once per dataset, on first read)."""
        if self._fast is None:
            from telecrunch.fastread import FastReader

            self._fast = FastReader(self.layout)
        return self._fast

    def read(self, ids: slice | None = None, *, threads: int | None = None) -> Columns:
        """Records with IDs in ``ids`` (a slice of absolute record IDs; default: all).

        ``threads`` decode runs of whole blocks at once, each into its part of the result
        (default: one per core this process may use; 1: in the calling thread alone)."""
        if threads is None:
            threads = default_threads()
        elif isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
            raise DatasetError("threads", "must be a whole number >= 1", threads)
        start, stop = self._bounds(ids)
        block = self.manifest.job.get("block_records")
        if self._local is None or not isinstance(block, int) or block < 1:
            block = None  # a remote shard is fetched whole: cut only where shards end
        parts = read_parts(start, stop, [(s.first_id, s.id_stop) for s in self.shards],
                           block, threads)
        if len(parts) <= 1:
            return self._read(start, stop, _LastReader(self))
        out = self._empty(start, stop)
        self._decoder()  # made once, here: the threads share it
        with ThreadPoolExecutor(len(parts), thread_name_prefix="telecrunch-read") as pool:
            done = [pool.submit(self._fill, out.take(slice(lo - start, hi - start)), lo, hi,
                                _LastReader(self)) for lo, hi in parts]
            for future in done:  # the first part's error, as a serial read would raise it
                future.result()
        return out

    def _empty(self, start: int, stop: int) -> Columns:
        """Columns for records [start, stop), to be filled in place (no copies)."""
        from telecrunch.generation import empty_columns

        out = empty_columns(self.schema, stop - start)
        out.ids = np.arange(start, stop, dtype=np.uint64)  # itself: no copy, fewer new pages
        if not self.schema.anomalies:
            out.labels = None
        return out

    def _read(self, start: int, stop: int, readers: _LastReader) -> Columns:
        out = self._empty(start, stop)
        self._fill(out, start, stop, readers)
        return out

    def batches(self, records: int = 1 << 16, ids: slice | None = None, *,
                reuse: bool = False) -> Iterator[Columns]:
        """The records of ``ids`` (default: all) in ID order, at most ``records`` at a time,
        each batch as ``read`` would return it.

        Batches end where the dataset's blocks end (so each block is decoded straight into
        its batch); a block longer than ``records`` is cut into pieces of ``records``. With
        ``reuse``, every batch is decoded into the same arrays: memory stays at one batch
        however large the dataset, and decoding touches no new pages (a whole ``read``
        spends much of its time having the system hand over fresh memory). A batch is then
        valid only until the next one is made: copy what you keep."""
        if isinstance(records, bool) or not isinstance(records, int) or records < 1:
            raise DatasetError("records", "must be a whole number of records >= 1", records)
        start, stop = self._bounds(ids)
        readers = _LastReader(self)  # batch after batch in one shard: opened once
        if reuse:
            make = self._reusing(min(records, stop - start), readers)
        else:
            def make(lo: int, hi: int) -> Columns:
                return self._read(lo, hi, readers)
        lo = hi = start  # the batch being gathered: [lo, hi)
        for end in self._block_ends(start, stop, readers):
            if end - lo > records and hi > lo:  # the block does not fit: send what is
                yield make(lo, hi)
                lo = hi
            while end - lo > records:  # a block longer than a batch, in pieces
                yield make(lo, lo + records)
                lo += records
            hi = end
        if hi > lo:
            yield make(lo, hi)

    def _block_ends(self, start: int, stop: int, readers: _LastReader) -> Iterator[int]:
        """Where the blocks holding [start, stop) end (the last at ``stop``)."""
        for shard, lo, hi in self._overlaps(start, stop):
            reader = readers.get(shard)
            for i in reader.blocks_for(lo, hi):
                entry = reader.entries[i]
                yield min(entry.first_id + entry.records, stop)

    def _reusing(self, size: int, readers: _LastReader):
        """A function making the batch [lo, hi) (at most ``size`` records) in one set of
        columns, each time."""
        from telecrunch.generation import empty_columns

        buffer = empty_columns(self.schema, size)
        if not self.schema.anomalies:
            buffer.labels = None
        offsets = np.arange(size, dtype=np.uint64)
        # The fast decoder leaves a column alone where a record's kind lacks it, and there a
        # batch must hold zeros, as a fresh read does. The columns of the kind most records
        # have are zeroed after decoding, at the few records of other kinds; the others are
        # zeroed whole before (bytes: numpy fills a byte view faster than 8-byte scalars).
        dense = self.schema.majority_kind
        owner = self.schema.kind_of_field if len(self.schema.kinds) > 1 else {}
        after = [(buffer.values[name], buffer.values[name].dtype.type())  # b"" for strings
                 for name in owner if owner[name].code == dense]
        before = [buffer.values[name].view(np.uint8) for name in owner
                  if owner[name].code != dense]

        def make(lo: int, hi: int) -> Columns:
            n = hi - lo
            out = buffer.take(slice(0, n))  # views of the buffer
            np.add(offsets[:n], np.uint64(lo), out=out.ids)
            for column in before:
                column[: n * (column.size // size)] = 0
            self._fill(out, lo, hi, readers)
            if after:
                others = np.flatnonzero(out.kind != dense)
                for column, zero in after:
                    column[others] = zero
            return out

        return make

    def _fill(self, out: Columns, start: int, stop: int, readers: _LastReader) -> None:
        """Decode records [start, stop) into ``out`` (its arrays from position 0)."""
        for shard, lo, hi in self._overlaps(start, stop):
            readers.get(shard).read_into(out, lo - start, lo, hi)
            if self.schema.anomalies:
                out.labels[lo - start:hi - start] = self.shard_labels(shard, lo, hi)

    def _overlaps(self, start: int, stop: int) -> Iterator[tuple[ShardEntry, int, int]]:
        """Each shard holding IDs of [start, stop), with the part of it that does."""
        first = max(bisect_right(self._starts, start) - 1, 0)
        for shard in self.manifest.shards[first:]:
            if shard.first_id >= stop:
                return
            if shard.id_stop > start:
                yield shard, max(start, shard.first_id), min(stop, shard.id_stop)

    def shard_labels(self, shard: ShardEntry, id_start: int, id_stop: int) -> np.ndarray:
        """Label masks of IDs [id_start, id_stop) of a shard, from its labels sidecar."""
        from telecrunch.labelfile import decode_labels, masks_for

        rel = next((f.path for f in shard.files if f.format == "labels"), None)
        if rel is None:
            raise DatasetError(self.url, f"shard {shard.index} has no labels file", has_got=False)
        try:
            with self.fs.open(join(self.root, rel), "rb") as f:
                data = f.read()
        except OSError as exc:
            raise self._unreadable(rel, exc) from None
        _first, _records, entries = decode_labels(data, rel)
        return masks_for(entries, id_start, id_stop)

    def _bounds(self, ids: slice | None) -> tuple[int, int]:
        lo, hi = self.manifest.first_id, self.manifest.id_stop
        if ids is None:
            return lo, hi
        if not isinstance(ids, slice) or ids.step not in (None, 1):
            raise DatasetError("ids", "must be a slice of record IDs with step 1", ids)
        start = lo if ids.start is None else int(ids.start)
        stop = hi if ids.stop is None else int(ids.stop)
        return max(start, lo), max(min(stop, hi), max(start, lo))

    def to_pandas(self, ids: slice | None = None):
        """A pandas DataFrame: enums as categoricals, strings as text, absent fields as NA."""
        from telecrunch.frames import to_pandas

        return to_pandas(self.read(ids), copy=False)  # a fresh read: its arrays are ours

    def to_dask(self):
        """A dask DataFrame with one partition per shard, read lazily on the workers."""
        import dask.dataframe as dd

        from telecrunch.frames import to_pandas

        meta = to_pandas(Columns.concat([], self.schema))
        return dd.from_map(_read_shard_frame, [(self.url, s.index) for s in self.shards],
                           meta=meta, divisions=[*self._starts, self.manifest.id_stop - 1]
                           if self.shards else None, enforce_metadata=False)


class _LastReader:
    """The reader of the shard read last, for one ``read`` or one run of ``batches``: batch
    after batch in one shard opens and checks it once (a remote shard's bytes stay in memory
    until the next shard). Not kept by the dataset, so a file replaced between two reads is
    opened afresh."""

    def __init__(self, dataset: Dataset):
        self.dataset = dataset
        self.last: tuple[int, ShardReader] | None = None

    def get(self, shard: ShardEntry) -> ShardReader:
        if self.last is None or self.last[0] != shard.index:
            self.last = (shard.index, self.dataset.shard_reader(shard))
        return self.last[1]


def _read_shard_frame(arg: tuple[str, int]) -> Any:
    from telecrunch.frames import to_pandas

    url, index = arg
    ds = open_dataset(url)
    shard = ds.shards[index]
    return to_pandas(ds.shard_reader(shard).read(), copy=False)


def open_dataset(path: str | Path) -> Dataset:
    """Open a dataset folder (or fsspec URL) written by TeleCrunch."""
    return Dataset(path)

