"""Whole-file compression of text shards, one stream per file, fed a block at a time.

Binary shards compress each block on its own (``telecrunch.codecs``); a text file is one
stream, so standard tools read it: ``lz4 -dc``, ``gzip -dc``, ``zstd -dc``. Each stream
carries a checksum of its content (lz4 and zstd content checksums, gzip's CRC-32), and the same
input gives the same bytes (gzip's header carries no time or name).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass

import lz4.frame
import zstandard


class Compressor:
    """Bytes in, compressed bytes out; ``finish`` ends the stream."""

    def compress(self, data: bytes) -> bytes:
        return data

    def finish(self) -> bytes:
        return b""


class _Lz4(Compressor):
    """One lz4 frame with content checksum (block checksums off, like the ``lz4`` tool)."""

    def __init__(self):
        self._frame = lz4.frame.LZ4FrameCompressor(content_checksum=True, compression_level=0)
        self._head = self._frame.begin()

    def compress(self, data: bytes) -> bytes:
        head, self._head = self._head, b""
        return head + self._frame.compress(data)

    def finish(self) -> bytes:
        head, self._head = self._head, b""
        return head + self._frame.flush()


class _Gzip(Compressor):
    """One gzip member (RFC 1952): mtime 0, no file name, CRC-32 and size in the trailer."""

    def __init__(self):
        self._deflate = zlib.compressobj(6, zlib.DEFLATED, 16 + zlib.MAX_WBITS)

    def compress(self, data: bytes) -> bytes:
        return self._deflate.compress(data)

    def finish(self) -> bytes:
        return self._deflate.flush()


class _Zstd(Compressor):
    """One zstd frame with content checksum (the size is not known up front)."""

    def __init__(self):
        self._frame = zstandard.ZstdCompressor(level=3, write_checksum=True).compressobj()

    def compress(self, data: bytes) -> bytes:
        return self._frame.compress(data)

    def finish(self) -> bytes:
        return self._frame.flush()


@dataclass(frozen=True)
class Stream:
    """A compression of whole files: its job name, file suffix and compressor factory."""

    name: str
    suffix: str
    open: Callable[[], Compressor]


STREAMS: dict[str, Stream] = {s.name: s for s in (
    Stream("none", "", Compressor),
    Stream("lz4", ".lz4", _Lz4),
    Stream("gzip", ".gz", _Gzip),
    Stream("zstd", ".zst", _Zstd),
)}
