"""Block compression codecs: tiny symmetric objects with a stable numeric id.

The id is what shard files store (docs/FORMAT.md); the name is what users write.
"""

from __future__ import annotations

import gzip
import zlib
from dataclasses import dataclass

import lz4.frame
import zstandard

from telecrunch.errors import FormatError, JobError


@dataclass(frozen=True)
class Codec:
    name: str
    id: int

    def encode(self, data: bytes) -> bytes:
        raise NotImplementedError

    def decode(self, data: bytes, size: int) -> bytes:
        """Decompress to exactly ``size`` bytes, or raise FormatError."""
        raise NotImplementedError

    def _checked(self, out: bytes, size: int) -> bytes:
        if len(out) != size:
            raise FormatError(f"{self.name} block", f"decompressed to {len(out)} bytes, "
                              f"expected {size}", has_got=False)
        return out


class NoCodec(Codec):
    def encode(self, data: bytes) -> bytes:
        return data

    def decode(self, data: bytes, size: int) -> bytes:
        return self._checked(data, size)  # as it is: a view of the file stays a view


class Lz4Codec(Codec):
    """lz4 frame format with content size and no content checksum: the block's own xxh64
    (docs/FORMAT.md, 2.2) already covers every stored byte, and the frame's second checksum
    (xxh32 of the content, 2.7 GB/s here) took more time than the compression itself. Frames
    with one, as TeleCrunch wrote them before, read the same.

    A payload (65,536 records, about 1 MB for the reference schema) goes in one frame block
    of up to 4 MB, unlinked: the default 64 KB linked blocks compressed the same packed bits
    at 7.2 GB/s against 14.6 here, to the same size (bit-packed values leave lz4 little to
    find); any lz4 frame decoder reads either."""

    def encode(self, data: bytes) -> bytes:
        return lz4.frame.compress(data, content_checksum=False, store_size=True,
                                  compression_level=0, block_size=lz4.frame.BLOCKSIZE_MAX4MB,
                                  block_linked=False)

    def decode(self, data: bytes, size: int) -> bytes:
        try:
            return self._checked(lz4.frame.decompress(data), size)
        except RuntimeError as exc:
            raise FormatError("lz4 block", f"corrupt frame ({exc})", has_got=False) from None


class GzipCodec(Codec):
    """gzip member (RFC 1952), whose CRC-32 covers the content."""

    def encode(self, data: bytes) -> bytes:
        return gzip.compress(data, compresslevel=6, mtime=0)

    def decode(self, data: bytes, size: int) -> bytes:
        try:
            return self._checked(gzip.decompress(data), size)
        except (OSError, EOFError, zlib.error) as exc:
            raise FormatError("gzip block", f"corrupt member ({exc})", has_got=False) from None


class ZstdCodec(Codec):
    """zstd frame with content checksum and content size."""

    def encode(self, data: bytes) -> bytes:
        params = zstandard.ZstdCompressor(level=3, write_checksum=True, write_content_size=True)
        return params.compress(data)

    def decode(self, data: bytes, size: int) -> bytes:
        try:
            out = zstandard.ZstdDecompressor().decompress(data, max_output_size=size)
        except zstandard.ZstdError as exc:
            raise FormatError("zstd block", f"corrupt frame ({exc})", has_got=False) from None
        return self._checked(out, size)


CODECS: dict[str, Codec] = {
    c.name: c
    for c in (NoCodec("none", 0), Lz4Codec("lz4", 1), GzipCodec("gzip", 2), ZstdCodec("zstd", 3))
}
BY_ID = {c.id: c for c in CODECS.values()}


def get_codec(name: str, place: str = "compression") -> Codec:
    try:
        return CODECS[name]
    except KeyError:
        raise JobError(place, f"must be one of: {', '.join(CODECS)}", name) from None


def codec_by_id(codec_id: int) -> Codec:
    try:
        return BY_ID[codec_id]
    except KeyError:
        raise FormatError("shard header", f"unknown codec id (known: {sorted(BY_ID)})",
                          codec_id) from None
