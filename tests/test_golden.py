"""docs/FORMAT.md's worked example, byte for byte, and a decoder written from the document."""

from __future__ import annotations

import re

import orjson
import pytest
import xxhash

import telecrunch
from telecrunch.codecs import CODECS
from telecrunch.generation import generate_columns
from telecrunch.produce import shard_bytes

from .conftest import DEMO_SCHEMA, ROOT
from .docdecoder import decode_shard

FORMAT_MD = ROOT / "docs" / "FORMAT.md"
GOLDEN_SCHEMA = ROOT / "tests" / "data" / "golden_schema.yaml"


def documented_bytes() -> bytes:
    text = FORMAT_MD.read_text()
    block = re.search(r"<!-- golden:begin -->\s*```\n(.*?)```\s*<!-- golden:end -->", text,
                      re.S).group(1)
    data = bytearray()
    for line in block.strip().splitlines():
        offset, hexes = line.split("  ", 1)
        assert int(offset, 16) == len(data)
        data += bytes.fromhex(hexes)
    return bytes(data)


def test_worked_example_bytes_match_the_document():
    schema = telecrunch.load_schema(GOLDEN_SCHEMA)
    assert shard_bytes(schema, 2, 0, 4, CODECS["none"], 2) == documented_bytes()


def test_document_decoder_reads_the_worked_example():
    schema = telecrunch.load_schema(GOLDEN_SCHEMA)
    records = decode_shard(documented_bytes(), schema.to_doc())
    assert records == generate_columns(schema, 2, 0, 4).to_records()
    assert [r["kind"] for r in records] == ["update", "update", "event", "update"]
    assert records[2]["note"] == "f95"
    assert records[3]["temp"] == 20.5


def test_fingerprint_is_xxh3_128_of_compact_canonical_json():
    schema = telecrunch.load_schema(GOLDEN_SCHEMA)
    digest = xxhash.xxh3_128_hexdigest(orjson.dumps(schema.to_doc()))
    assert schema.fingerprint == digest
    assert documented_bytes()[16:32].hex() == digest


@pytest.mark.parametrize("codec", list(CODECS))
def test_document_decoder_reads_every_codec_and_field_type(codec):
    schema = telecrunch.load_schema(DEMO_SCHEMA)
    data = shard_bytes(schema, 9, 500, 3000, CODECS[codec], 1000)
    records = decode_shard(data, schema.to_doc())
    expected = generate_columns(schema, 9, 500, 3500).to_records()
    assert len(records) == len(expected) == 3000
    for got, want in zip(records, expected, strict=True):
        assert got == want
