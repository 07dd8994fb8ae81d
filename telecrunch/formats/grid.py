"""Text of many records at once, built column by column in a byte grid.

A block is a ``(records, width)`` uint8 array holding one part of every record's text (a
number, a separator, an escaped string), padded with NUL bytes. Blocks side by side form the
grid of whole lines, and dropping the NULs gives the text (``telecrunch.formats.lines``). So no
record's text may hold a NUL byte itself: ``lookup`` refuses such entries, and generated
strings never hold one.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

_U64 = np.uint64
_POW10 = np.array([10**k for k in range(20)], dtype=_U64)
#: Entry ``k`` holds the four ASCII digits of ``k`` (zero-padded) as one little-endian word,
#: so one gather of words places four digits at once.
_QUADS = np.frombuffer(b"".join(b"%04d" % k for k in range(10_000)), np.uint32)
_MINUS = ord("-")


def constant(text: bytes, n: int) -> np.ndarray:
    """The same bytes in every row (a read-only view; nothing is copied)."""
    return np.broadcast_to(np.frombuffer(text, np.uint8), (n, len(text)))


def keep_rows(block: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``block`` with the rows where ``rows`` is False emptied."""
    return block * rows[:, None].astype(np.uint8)


def magnitude(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(|values| as uint64, negative mask) of an integer array; exact for the int64 minimum."""
    if values.dtype.kind == "u":
        return values.astype(_U64), np.zeros(len(values), bool)
    signed = values.astype(np.int64)
    negative = signed < 0
    raw = signed.view(_U64)
    return np.where(negative, ~raw + _U64(1), raw), negative


def digits(mag: np.ndarray, negative: np.ndarray | None = None, min_digits: int = 1) -> np.ndarray:
    """Decimal text of ``mag`` (uint64), right-aligned, at least ``min_digits`` digits
    (zero-padded on the left), with a ``-`` before the rows where ``negative`` is set."""
    n = len(mag)
    top = int(mag.max()) if n else 0
    width = max(len(str(top)), min_digits)
    quads = -(-width // 4)
    words = np.empty((n, quads), np.uint32)
    rest = mag
    for q in range(quads - 1, -1, -1):
        # ``rest % 10_000`` is several times slower than a division and a multiply here.
        high = rest // _U64(10_000)
        words[:, q] = _QUADS.take((rest - high * _U64(10_000)).astype(np.intp))
        rest = high
    text = words.view(np.uint8)[:, quads * 4 - width:]
    first = width - _digit_count(mag, width, min_digits)  # column of each row's first digit
    if first.any():
        text = text * (np.arange(width) >= first[:, None])
    if negative is None or not negative.any():
        return text
    signed = np.zeros((n, width + 1), np.uint8)
    signed[:, 1:] = text
    rows = np.flatnonzero(negative)
    signed[rows, first[rows]] = _MINUS
    return signed


def _digit_count(mag: np.ndarray, width: int, min_digits: int) -> np.ndarray:
    """Digits of each value (at least ``min_digits``), knowing none has more than ``width``."""
    if len(mag) and int(mag.min()) >= 10 ** (width - 1):
        return np.full(len(mag), width)  # the usual case for IDs and timestamps: one length
    count = np.searchsorted(_POW10, mag, side="right")
    return np.maximum(count, min_digits)


def integers(values: np.ndarray) -> np.ndarray:
    """Decimal text of an integer array (int64 or uint64), right-aligned."""
    mag, negative = magnitude(values)
    return digits(mag, negative)


def lookup(index: np.ndarray, entries: Sequence[bytes]) -> np.ndarray:
    """Row ``i`` holds ``entries[index[i]]``, left-aligned."""
    if any(b"\0" in e for e in entries):
        raise ValueError("text formats cannot hold a NUL byte")
    width = max((len(e) for e in entries), default=0)
    table = np.zeros((len(entries), width), np.uint8)
    for row, entry in enumerate(entries):
        table[row, :len(entry)] = np.frombuffer(entry, np.uint8)
    return table[np.asarray(index, np.intp)]


def text(values: np.ndarray, specials: bytes = b"", escape: bytes = b"\\") -> np.ndarray:
    """Bytes of an ``S`` array, left-aligned, with ``escape`` put before each special byte."""
    width = values.dtype.itemsize
    raw = np.ascontiguousarray(values).view(np.uint8).reshape(len(values), width)
    if not specials:
        return raw
    table = np.zeros(256, bool)
    table[list(specials)] = True
    special = table[raw]
    if not special.any():
        return raw
    pairs = np.empty((len(values), width, 2), np.uint8)
    pairs[:, :, 0] = special * np.uint8(escape[0])
    pairs[:, :, 1] = raw
    return pairs.reshape(len(values), 2 * width)


def trim(block: np.ndarray) -> np.ndarray:
    """``block`` without the columns that are NUL in every row (left-aligned text)."""
    used = np.flatnonzero(block.any(axis=0))
    return block[:, :used[-1] + 1] if len(used) else block[:, :0]
