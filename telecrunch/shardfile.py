"""The binary shard file: header, blocks, index, footer (specified in docs/FORMAT.md).

Pure bytes in, bytes out: ``ShardWriter`` returns the pieces to write, in order, and
``ShardReader`` parses a buffer (bytes or a memory map). The engine does the file I/O.
"""

from __future__ import annotations

import struct
import sys
from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import xxhash

from telecrunch import pack
from telecrunch.codecs import Codec, NoCodec, codec_by_id
from telecrunch.columns import Columns
from telecrunch.errors import ChecksumError, FormatError
from telecrunch.generation import time_floor
from telecrunch.layout import Layout

FORMAT_VERSION = 1
SHARD_MAGIC = b"TCSHARD\x00"
BLOCK_MAGIC = b"TCBK"
FOOTER_MAGIC = b"TCFOOT\x00\x00"
DEFAULT_BLOCK_RECORDS = 65536

# magic, version, header size, codec, flags, reserved, fingerprint, first id, records,
# base time, header checksum
HEADER = struct.Struct("<8sHHBBH16sQQqQ")
# magic, records, first id, base time, payload bits, raw size, stored size, checksum
BLOCK_HEADER = struct.Struct("<4sIQqQIIQ")
# first id, offset of the block header, records, stored size
INDEX_ENTRY = struct.Struct("<QQII")
# index offset, block count, reserved, index checksum, magic
FOOTER = struct.Struct("<QIIQ8s")
assert (HEADER.size, BLOCK_HEADER.size, INDEX_ENTRY.size, FOOTER.size) == (64, 48, 24, 32)


def checksum(*parts: bytes) -> int:
    """xxh64 (seed 0) of the concatenated parts."""
    h = xxhash.xxh64()
    for part in parts:
        h.update(part)
    return h.intdigest()


@dataclass(frozen=True)
class ShardHeader:
    codec_id: int
    fingerprint: bytes  # 16 bytes: xxh3-128 of the canonical schema
    first_id: int
    records: int
    base_time: int  # ns; a lower bound of every timestamp in the shard

    def to_bytes(self) -> bytes:
        body = HEADER.pack(SHARD_MAGIC, FORMAT_VERSION, HEADER.size, self.codec_id, 0, 0,
                           self.fingerprint, self.first_id, self.records, self.base_time, 0)
        return body[:56] + struct.pack("<Q", checksum(body[:56]))

    @staticmethod
    def parse(data: bytes) -> ShardHeader:
        if len(data) < HEADER.size:
            raise FormatError("shard header", f"file is {len(data)} bytes, shorter than the "
                              f"{HEADER.size}-byte header", has_got=False)
        (magic, version, size, codec_id, _flags, _res, fingerprint, first_id, records, base,
         stored) = HEADER.unpack_from(data, 0)
        if magic != SHARD_MAGIC:
            raise FormatError("shard header", f"not a TeleCrunch shard (magic {SHARD_MAGIC!r})",
                              bytes(magic))
        if version != FORMAT_VERSION:
            raise FormatError("shard header", f"format version {FORMAT_VERSION} expected",
                              version)
        computed = checksum(bytes(data[:56]))
        if stored != computed:
            raise ChecksumError("shard header", stored, computed)
        if size != HEADER.size:
            raise FormatError("shard header", f"header size {HEADER.size} expected", size)
        return ShardHeader(codec_id, bytes(fingerprint), first_id, records, base)


@dataclass(frozen=True)
class BlockHeader:
    records: int
    first_id: int
    base_time: int  # ns: a lower bound of the block's timestamps, which are ticks after it
    payload_bits: int
    raw_size: int  # bytes of the uncompressed payload: ceil(payload_bits / 8)
    stored_size: int  # bytes that follow this header
    checksum: int  # xxh64 of this header's first 40 bytes, then the stored payload

    def head_bytes(self) -> bytes:
        return BLOCK_HEADER.pack(BLOCK_MAGIC, self.records, self.first_id, self.base_time,
                                 self.payload_bits, self.raw_size, self.stored_size, 0)[:40]

    @staticmethod
    def parse(data, offset: int, place: str) -> BlockHeader:
        if offset + BLOCK_HEADER.size > len(data):
            raise FormatError(place, "block header runs past the end of the file",
                              has_got=False)
        magic, *fields = BLOCK_HEADER.unpack_from(data, offset)
        if magic != BLOCK_MAGIC:
            raise FormatError(place, f"block magic {BLOCK_MAGIC!r} expected", bytes(magic))
        return BlockHeader(*fields)


@dataclass(frozen=True)
class IndexEntry:
    first_id: int
    offset: int  # of the block header, from the start of the file
    records: int
    stored_size: int


class ShardWriter:
    """Produces a shard's bytes piece by piece: ``header()``, ``block(...)``..., ``trailer()``."""

    def __init__(self, layout: Layout, codec: Codec, first_id: int, records: int,
                 base_time: int):
        self.layout = layout
        self.codec = codec
        self.header = ShardHeader(codec.id, bytes.fromhex(layout.schema.fingerprint), first_id,
                                  records, base_time)
        self.entries: list[IndexEntry] = []
        self.offset = 0
        self.records = 0
        self._words: np.ndarray | None = None  # reused packing buffer

    def start(self) -> bytes:
        data = self.header.to_bytes()
        self.offset = len(data)
        return data

    @property
    def next_id(self) -> int:
        """ID of the first record of the next block."""
        return self.header.first_id + self.records

    def block(self, columns: Columns) -> bytes:
        """One block holding ``columns`` (consecutive IDs following the previous block)."""
        n = len(columns)
        if n == 0 or int(columns.ids[0]) != self.next_id:
            raise ValueError(f"block must start at ID {self.next_id} and hold records")
        codes = pack.encode(self.layout, columns, self.block_base_time())
        need = pack.max_words(self.layout, n)
        if self._words is None or len(self._words) < need:
            self._words = np.empty(need, np.uint64)
        payload, nbits = pack.pack_codes(self.layout, codes, self._words)
        return self.packed_block(n, payload, nbits)

    def block_base_time(self) -> int:
        """Base time of the next block: the schema's time floor of its first ID."""
        return time_floor(self.layout.schema, self.next_id)

    def packed_block(self, records: int, payload: bytes, nbits: int) -> bytes:
        """A block from an already packed payload of the next ``records`` records."""
        return b"".join(self.packed_block_parts(records, payload, nbits))

    def packed_block_parts(self, records: int, payload, nbits: int) -> tuple:
        """(header bytes, stored payload): the block in two pieces, without copying an
        uncompressed payload (it may be a view of a reused buffer)."""
        first = self.next_id
        stored = self.codec.encode(payload)
        head = BlockHeader(records, first, self.block_base_time(), nbits, len(payload),
                           len(stored), 0).head_bytes()
        head += struct.pack("<Q", checksum(head, stored))
        self.entries.append(IndexEntry(first, self.offset, records, len(stored)))
        self.offset += len(head) + len(stored)
        self.records += records
        return head, stored

    def trailer(self) -> bytes:
        if self.records != self.header.records:
            raise ValueError(f"shard holds {self.records} records, header says "
                             f"{self.header.records}")
        index = b"".join(INDEX_ENTRY.pack(e.first_id, e.offset, e.records, e.stored_size)
                         for e in self.entries)
        footer = FOOTER.pack(self.offset, len(self.entries), 0, checksum(index), FOOTER_MAGIC)
        return index + footer


class ShardReader:
    """Reads a shard from a buffer; only the blocks asked for are decompressed and parsed."""

    def __init__(self, data, layout: Layout, name: str = "shard", decoder=None):
        self.data = data
        self.layout = layout
        self.name = name
        self.decoder = decoder  # a telecrunch.fastread.FastReader, or None for pack.unpack
        self.header = ShardHeader.parse(data)
        self.codec = codec_by_id(self.header.codec_id)
        if self.header.fingerprint.hex() != layout.schema.fingerprint:
            raise FormatError(name, f"written for another schema (fingerprint "
                              f"{self.header.fingerprint.hex()}, expected "
                              f"{layout.schema.fingerprint})", has_got=False)
        self.entries = self._read_index()
        self._starts = [e.first_id for e in self.entries]
        # the block last decoded whole for a part of it: batches that cut blocks take its
        # other part next (one tuple, swapped whole: readers on two threads may share this)
        self._last_block: tuple[int, Columns] | None = None

    def _read_index(self) -> list[IndexEntry]:
        size = len(self.data)
        if size < HEADER.size + FOOTER.size:
            raise FormatError(self.name, "truncated: no room for the footer", size)
        offset, count, _res, stored, magic = FOOTER.unpack_from(self.data, size - FOOTER.size)
        if magic != FOOTER_MAGIC:
            raise FormatError(self.name, "truncated or damaged: footer magic not found",
                              bytes(magic))
        end = offset + count * INDEX_ENTRY.size
        if offset < HEADER.size or end != size - FOOTER.size:
            raise FormatError(self.name, "footer's index offset does not match the file size",
                              offset)
        index = bytes(self.data[offset:end])
        computed = checksum(index)
        if computed != stored:
            raise ChecksumError(f"{self.name} index", stored, computed)
        entries = [IndexEntry(*INDEX_ENTRY.unpack_from(index, i * INDEX_ENTRY.size))
                   for i in range(count)]
        expected = self.header.first_id
        for i, e in enumerate(entries):
            if e.first_id != expected:
                raise FormatError(f"{self.name} index entry {i}", f"first id {expected} "
                                  "expected (blocks must tile the shard)", e.first_id)
            expected += e.records
        if expected != self.header.first_id + self.header.records:
            raise FormatError(f"{self.name} index", f"blocks hold {expected - self.header.first_id}"
                              f" records, header says {self.header.records}", has_got=False)
        return entries

    def __len__(self) -> int:
        return self.header.records

    def block_header(self, i: int) -> BlockHeader:
        entry = self.entries[i]
        place = f"{self.name} block {i}"
        head = BlockHeader.parse(self.data, entry.offset, place)
        if (head.first_id, head.records, head.stored_size) != (
                entry.first_id, entry.records, entry.stored_size):
            raise FormatError(place, "block header disagrees with the index", has_got=False)
        return head

    def payload(self, i: int) -> tuple[BlockHeader, bytes]:
        """Checked, decompressed payload of block i."""
        head = self.block_header(i)
        place = f"{self.name} block {i}"
        start = self.entries[i].offset + BLOCK_HEADER.size
        stored = memoryview(self.data)[start:start + head.stored_size]  # no copy of it
        if len(stored) != head.stored_size:
            raise FormatError(place, "truncated payload", has_got=False)
        computed = checksum(head.head_bytes(), stored)
        if computed != head.checksum:
            raise ChecksumError(place, head.checksum, computed)
        if head.raw_size != (head.payload_bits + 7) // 8:
            raise FormatError(place, "raw size disagrees with the payload bits",
                              has_got=False)
        return head, self.codec.decode(stored, head.raw_size)

    def _mapped_words(self, i: int, head: BlockHeader) -> np.ndarray | None:
        """Block i's payload as uint64 words read in place, without a copy, where it is stored
        uncompressed and the file holds the decoder's spare words after it (a block is
        followed by another block or by the index and footer); else None."""
        if not isinstance(self.codec, NoCodec) or sys.byteorder != "little":
            return None
        start = self.entries[i].offset + BLOCK_HEADER.size
        count = (head.raw_size + 7) // 8 + self.decoder.spare
        if start + count * 8 > len(self.data):
            return None
        return np.frombuffer(self.data, np.uint64, count=count, offset=start)

    def block(self, i: int) -> Columns:
        head, raw = self.payload(i)
        ids = np.arange(head.first_id, head.first_id + head.records, dtype=np.uint64)
        try:
            if self.decoder is not None:
                return self.decoder.decode(raw, head.records, head.payload_bits, ids,
                                           head.base_time)
            return pack.unpack(self.layout, raw, ids, head.payload_bits, head.base_time)
        except FormatError as exc:
            raise FormatError(f"{self.name} block {i}: {exc.place}", exc.expected,
                              has_got=False) from None

    def blocks_for(self, id_start: int, id_stop: int) -> range:
        """Indexes of the blocks that hold any ID in [id_start, id_stop)."""
        if id_stop <= id_start or not self.entries:
            return range(0)
        first = max(bisect_right(self._starts, id_start) - 1, 0)
        last = bisect_right(self._starts, id_stop - 1)
        return range(first, last)

    def read(self, id_start: int | None = None, id_stop: int | None = None) -> Columns:
        """Records with IDs in [id_start, id_stop) (default: the whole shard)."""
        lo = self.header.first_id if id_start is None else max(id_start, self.header.first_id)
        end = self.header.first_id + self.header.records
        hi = end if id_stop is None else min(id_stop, end)
        from telecrunch.generation import empty_columns

        out = empty_columns(self.layout.schema, max(hi - lo, 0))
        out.ids = np.arange(lo, max(hi, lo), dtype=np.uint64)
        self.read_into(out, 0, lo, hi)
        return out

    def read_into(self, out: Columns, offset: int, lo: int, hi: int) -> None:
        """Decode records [lo, hi) of this shard into ``out`` from position ``offset``:
        whole blocks straight into ``out``'s arrays, partial ones through a copy."""
        for i in self.blocks_for(lo, hi):
            entry = self.entries[i]
            first, count = entry.first_id, entry.records
            at = offset + first - lo
            if lo <= first and first + count <= hi and self.decoder is not None:
                head, raw = self.payload(i)
                try:
                    self.decoder.decode_into(raw, head.records, head.payload_bits,
                                             head.base_time, out, at, self._mapped_words(i, head))
                except FormatError as exc:
                    raise FormatError(f"{self.name} block {i}: {exc.place}", exc.expected,
                                      has_got=False) from None
                continue
            part = self._decoded(i).take(slice(max(lo - first, 0), hi - first))
            start = offset + max(first, lo) - lo
            out.kind[start:start + len(part)] = part.kind
            for name, values in part.values.items():
                out.values[name][start:start + len(part)] = values

    def _decoded(self, i: int) -> Columns:
        """Block i's records, decoded once for the parts of it that are asked in turn."""
        last = self._last_block
        if last is not None and last[0] == i:
            return last[1]
        columns = self.block(i)
        self._last_block = (i, columns)
        return columns

    def iter_blocks(self) -> Iterator[Columns]:
        for i in range(len(self.entries)):
            yield self.block(i)
