"""The compiled decoder against the reference unpacker: identical columns, same errors."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import telecrunch
from telecrunch import pack
from telecrunch.columns import Columns
from telecrunch.errors import FormatError
from telecrunch.fastread import FastReader
from telecrunch.generation import generate_columns, time_floor
from telecrunch.layout import compile_layout

from .conftest import DEMO_SCHEMA, ROOT
from .test_roundtrip import ALL_TYPES, schema_docs

SCHEMAS = [DEMO_SCHEMA, ROOT / "jobs" / "fleet_schema.yaml",
           ROOT / "jobs" / "reference_schema.yaml",
           ALL_TYPES]


def both_decoders(schema, seed: int, first: int, n: int):
    layout = compile_layout(schema)
    columns = generate_columns(schema, seed, first, first + n)
    base = time_floor(schema, first)
    payload, nbits = pack.pack(layout, columns, base)
    reference = pack.unpack(layout, payload, columns.ids, nbits, base)
    fast = FastReader(layout).decode(payload, n, nbits, columns.ids, base)
    return columns, reference, fast


@pytest.mark.parametrize("source", SCHEMAS, ids=lambda s: getattr(s, "name", "all_types"))
@pytest.mark.parametrize("first, n", [(0, 1), (3, 500), (10**7 + 11, 20_000)])
def test_fast_decoder_equals_the_reference(source, first, n):
    schema = telecrunch.load_schema(source)
    columns, reference, fast = both_decoders(schema, 6, first, n)
    columns.labels = None
    assert fast.differences(reference) == []
    assert fast.differences(columns) == []


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=schema_docs(), seed=st.integers(0, 2**32), first=st.integers(0, 10**9),
       n=st.integers(1, 400))
def test_generated_schemas_decode_identically(doc, seed, first, n):
    schema = telecrunch.load_schema(doc)
    columns, reference, fast = both_decoders(schema, seed, first, n)
    assert fast.differences(reference) == []


def test_truncated_and_inconsistent_payloads_are_format_errors():
    schema = telecrunch.load_schema(DEMO_SCHEMA)
    layout = compile_layout(schema)
    columns = generate_columns(schema, 1, 0, 300)
    payload, nbits = pack.pack(layout, columns, time_floor(schema, 0))
    reader = FastReader(layout)
    with pytest.raises(FormatError, match="run past"):
        reader.decode(payload, 300, nbits - 40, columns.ids, 0)
    with pytest.raises(FormatError, match="take"):
        reader.decode(payload, 299, nbits, columns.ids[:299], 0)


def test_one_dataset_read_from_two_threads(tmp_path):
    """The decoder's word buffer belongs to a thread: a dataset shared by threads (a web
    service, a thread pool over ID ranges) reads the same records in each."""
    from concurrent.futures import ThreadPoolExecutor

    schema = telecrunch.load_schema(ROOT / "jobs" / "reference_schema.yaml")
    telecrunch.generate(schema, 200_000, tmp_path / "ds", seed=2, cluster="sync",
                        shard_records=50_000, block_records=5_000)
    dataset = telecrunch.open_dataset(tmp_path / "ds")
    ranges = [slice(start, start + 25_000) for start in range(0, 200_000, 25_000)] * 3
    want = [generate_columns(schema, 2, r.start, r.stop) for r in ranges[:8]] * 3
    with ThreadPoolExecutor(2) as pool:
        got = list(pool.map(dataset.read, ranges))
    for columns, expected in zip(got, want, strict=True):
        expected.labels = None
        assert columns.differences(expected) == []


def test_enum_columns_hold_codes_in_the_narrowest_signed_width(tmp_path):
    """A byte per code for enums of up to 127 labels (then int16, int32), from generation,
    both decoders and a whole read alike: 7 bytes a record less memory per enum column."""
    labels = {"small": 5, "edge": 127, "wider": 128, "large": 40_000}
    doc = {"telecrunch": 1, "name": "enums", "sources": {"count": 2}, "kinds": {
        "update": {"fields": {name: {"type": "enum", "values": [f"v{i}" for i in range(n)]}
                              for name, n in labels.items()}}}}
    want = {"small": "int8", "edge": "int8", "wider": "int16", "large": "int32"}
    schema = telecrunch.load_schema(doc)
    columns, reference, fast = both_decoders(schema, 3, 0, 3_000)
    for made in (columns, reference, fast):
        assert {name: str(made[name].dtype) for name in labels} == want
    assert fast.differences(reference) == []
    assert int(columns["large"].max()) > 32_767  # codes past int16 survive the trip
    out = tmp_path / "enums"
    telecrunch.generate(schema, 3_000, out, seed=3, cluster="sync", shard_records=1_000)
    read = telecrunch.open_dataset(out).read()
    assert {name: str(read[name].dtype) for name in labels} == want
    assert read.differences(columns) == []


def test_columns_of_another_dtype_are_a_difference():
    """Equal values in another dtype still differ: the decoders must agree on dtypes too."""
    schema = telecrunch.load_schema(ROOT / "jobs" / "reference_schema.yaml")
    columns = generate_columns(schema, 1, 0, 100)
    other = generate_columns(schema, 1, 0, 100)
    assert columns.differences(other) == []
    other.values["status"] = other.values["status"].astype("int32")
    assert columns.differences(other) == ["status"]


def _count_copies(monkeypatch) -> list[int]:
    """Count the blocks whose payload the decoder copies into its buffer."""
    copies = []
    copied = FastReader._copied

    def counting(self, payload):
        copies.append(len(payload))
        return copied(self, payload)

    monkeypatch.setattr(FastReader, "_copied", counting)
    return copies


@pytest.mark.parametrize("compression", ["none", "lz4"])
def test_uncompressed_blocks_are_decoded_in_place_from_the_mapped_file(tmp_path, monkeypatch,
                                                                       compression):
    """An uncompressed block is decoded straight from the file's mapping, without a copy
    (what follows it in the file, a block header or the index, stands in for the spare words
    and never reaches a value); a compressed one goes through the buffer."""
    schema = telecrunch.load_schema(ROOT / "jobs" / "reference_schema.yaml")
    telecrunch.generate(schema, 60_000, tmp_path / "ds", seed=4, cluster="sync",
                        shard_records=20_000, block_records=4_000, compression=compression)
    copies = _count_copies(monkeypatch)
    dataset = telecrunch.open_dataset(tmp_path / "ds")
    got = dataset.read(threads=1)
    batches = [Columns.concat([batch]) for batch in dataset.batches(4_000, reuse=True)]
    expected = generate_columns(schema, 4, 0, 60_000)
    expected.labels = None
    assert got.differences(expected) == []
    assert Columns.concat(batches).differences(expected) == []
    assert len(copies) == (0 if compression == "none" else 2 * 15)  # 15 blocks, read twice


def test_a_last_block_without_room_for_the_spare_words_is_copied(tmp_path, monkeypatch):
    """Frames wider than the index and footer after the last block: that block alone goes
    through the buffer (without the check, the words would run past the file's end), and
    every record still reads back."""
    wide = {f"w{i}": {"type": "int", "min": 0, "max": 2**62} for i in range(12)}
    doc = {"telecrunch": 1, "name": "wide", "sources": {"count": 3},
           "kinds": {"update": {"fields": wide}}}
    schema = telecrunch.load_schema(doc)
    assert FastReader(compile_layout(schema)).spare * 8 > 24 + 32  # one index entry, footer
    telecrunch.generate(schema, 500, tmp_path / "ds", seed=5, cluster="sync",
                        shard_records=500, block_records=250)  # two blocks: the first in place
    copies = _count_copies(monkeypatch)
    got = telecrunch.open_dataset(tmp_path / "ds").read()
    expected = generate_columns(schema, 5, 0, 500)
    expected.labels = None
    assert got.differences(expected) == []
    assert len(copies) == 1
