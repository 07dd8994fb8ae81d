"""How record IDs map to (source, seq): the interleaving of sources in the record stream.

Each mapping is a bijection between IDs and (source, seq) pairs, so any record can be found
from either side, and a source's n-th record is a fixed ID whatever the chunking:

* ``round_robin`` (default): ID ``i`` is source ``i mod S``, seq ``i div S``;
* ``blocked``: runs of ``block`` consecutive records per source, sources taking turns;
* ``shuffled``: each round of ``S`` IDs visits every source once, in an order that changes
  from round to round (an affine permutation drawn from the seed).
"""

from __future__ import annotations

import math

import numpy as np

from telecrunch import rng
from telecrunch.schema import Schema


def _round_multiplier(seed: int, rounds: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
    """Per round: a multiplier coprime with ``count`` and an offset (the affine permutation)."""
    coprimes = np.array([a for a in range(1, min(count, 4096) + 1) if math.gcd(a, count) == 1]
                        or [1], dtype=np.uint64)
    key = rng.stream_key(seed, "interleave")
    u = rng.bits_array(key, rounds.astype(np.uint64))
    mult = coprimes[(u % np.uint64(len(coprimes))).astype(np.int64)]
    offset = (u >> np.uint64(32)) % np.uint64(count)
    return mult, offset


def source_and_seq(schema: Schema, seed: int, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(source, seq) of each record ID, as int64 arrays."""
    src = schema.sources
    count = np.uint64(src.count)
    if src.interleave == "blocked":
        block = np.uint64(src.block)
        round_len = count * block
        within = ids % round_len
        source = within // block
        seq = (ids // round_len) * block + within % block
        return source.astype(np.int64), seq.astype(np.int64)
    seq = ids // count
    slot = ids % count
    if src.interleave == "shuffled" and src.count > 1:
        mult, offset = _round_multiplier(seed, seq, src.count)
        slot = (slot * mult + offset) % count
    return slot.astype(np.int64), seq.astype(np.int64)


def record_id(schema: Schema, seed: int, source: np.ndarray, seq: np.ndarray) -> np.ndarray:
    """The ID of each (source, seq): the inverse of ``source_and_seq``."""
    src = schema.sources
    count = np.uint64(src.count)
    source = source.astype(np.uint64)
    seq = seq.astype(np.uint64)
    if src.interleave == "blocked":
        block = np.uint64(src.block)
        return (seq // block) * count * block + source * block + seq % block
    if src.interleave == "shuffled" and src.count > 1:
        mult, offset = _round_multiplier(seed, seq, src.count)
        inverse = _inverse_mod(mult, src.count)  # count <= 2**31: products fit in 64 bits
        source = ((source + count - offset) % count * inverse) % count
    return seq * count + source


def _inverse_mod(mult: np.ndarray, count: int) -> np.ndarray:
    table = {int(m): pow(int(m), -1, count) for m in np.unique(mult)}
    return np.array([table[int(m)] for m in mult], dtype=np.uint64)


def first_seq(schema: Schema, first_id: int) -> int:
    """The smallest seq of any record with ID >= first_id (for time lower bounds)."""
    src = schema.sources
    if src.interleave == "blocked":
        round_len = src.count * src.block
        return (first_id // round_len) * src.block
    return first_id // src.count
