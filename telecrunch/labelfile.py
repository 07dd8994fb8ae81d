"""The labels sidecar of a shard (``.labels``): which records anomalies touched (FORMAT.md §6).

Sparse: only labelled records are listed, as (record ID, label mask) pairs in ID order.
Pure bytes in, bytes out.
"""

from __future__ import annotations

import struct

import numpy as np

from telecrunch.errors import ChecksumError, FormatError
from telecrunch.shardfile import checksum

LABELS_MAGIC = b"TCLABEL\x00"
LABELS_VERSION = 1
# magic, version, reserved, label count, first id, records
LABELS_HEADER = struct.Struct("<8sHHIQQ")
# entry count, checksum of everything before the footer
LABELS_FOOTER = struct.Struct("<QQ")
ENTRY = np.dtype([("id", "<u8"), ("mask", "<u8")])


def encode_labels(first_id: int, records: int, label_count: int, ids: np.ndarray,
                  masks: np.ndarray) -> bytes:
    """The sidecar of a shard; ``ids``/``masks`` are all its records (zeros are dropped)."""
    keep = masks != 0
    entries = np.empty(int(keep.sum()), ENTRY)
    entries["id"] = ids[keep]
    entries["mask"] = masks[keep]
    head = LABELS_HEADER.pack(LABELS_MAGIC, LABELS_VERSION, 0, label_count, first_id, records)
    body = head + entries.tobytes()
    return body + LABELS_FOOTER.pack(len(entries), checksum(body))


def decode_labels(data: bytes, place: str = "labels") -> tuple[int, int, np.ndarray]:
    """(first id, records, entries with fields id and mask) of a sidecar; checked."""
    size = LABELS_HEADER.size + LABELS_FOOTER.size
    if len(data) < size:
        raise FormatError(place, f"truncated: {len(data)} bytes, at least {size} expected",
                          has_got=False)
    magic, version, _res, _count, first_id, records = LABELS_HEADER.unpack_from(data, 0)
    if magic != LABELS_MAGIC:
        raise FormatError(place, f"not a labels file (magic {LABELS_MAGIC!r})", bytes(magic))
    if version != LABELS_VERSION:
        raise FormatError(place, f"labels version {LABELS_VERSION} expected", version)
    count, stored = LABELS_FOOTER.unpack_from(data, len(data) - LABELS_FOOTER.size)
    if len(data) != size + count * ENTRY.itemsize:
        raise FormatError(place, "size does not match its entry count", len(data))
    body = bytes(data[: len(data) - LABELS_FOOTER.size])
    computed = checksum(body)
    if computed != stored:
        raise ChecksumError(place, stored, computed)
    entries = np.frombuffer(body, ENTRY, count=count, offset=LABELS_HEADER.size)
    return first_id, records, entries


def masks_for(entries: np.ndarray, id_start: int, id_stop: int) -> np.ndarray:
    """Dense label masks of IDs [id_start, id_stop) from sparse entries."""
    out = np.zeros(id_stop - id_start, np.uint64)
    ids = entries["id"]
    lo, hi = np.searchsorted(ids, [id_start, id_stop])
    out[(ids[lo:hi] - np.uint64(id_start)).astype(np.int64)] = entries["mask"][lo:hi]
    return out
