"""Generate and encode one shard as a stream of byte pieces (no I/O)."""

from __future__ import annotations

from collections.abc import Iterator

from telecrunch.codecs import Codec
from telecrunch.generation import generate_columns, time_floor
from telecrunch.layout import compile_layout
from telecrunch.schema import Schema
from telecrunch.shardfile import DEFAULT_BLOCK_RECORDS, ShardWriter


def shard_pieces(schema: Schema, seed: int, first_id: int, records: int, codec: Codec,
                 block_records: int = DEFAULT_BLOCK_RECORDS,
                 on_block=None) -> Iterator[bytes]:
    """The bytes of the shard holding IDs [first_id, first_id + records), block by block.

    Blocks hold ``block_records`` records each (the last may hold fewer), counted from
    ``first_id``; ``on_block(columns)`` sees each block's records (for statistics).
    """
    layout = compile_layout(schema)
    writer = ShardWriter(layout, codec, first_id, records, time_floor(schema, first_id))
    yield writer.start()
    stop = first_id + records
    for start in range(first_id, stop, block_records):
        columns = generate_columns(schema, seed, start, min(start + block_records, stop))
        if on_block is not None:
            on_block(columns)
        yield writer.block(columns)
    yield writer.trailer()


def shard_bytes(schema: Schema, seed: int, first_id: int, records: int, codec: Codec,
                block_records: int = DEFAULT_BLOCK_RECORDS) -> bytes:
    """The whole shard in memory (small shards, tests, golden examples)."""
    return b"".join(shard_pieces(schema, seed, first_id, records, codec, block_records))
