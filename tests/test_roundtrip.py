"""Round trips for every field type and record kind: generate -> pack -> unpack gives the same
columns, the packed bytes equal the slow reference packer's, and the reference unpacker reads
them back; the same through whole shard files with every codec, and for random schemas."""

from __future__ import annotations

import string

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from telecrunch import generate_columns, load_schema, pack
from telecrunch.codecs import CODECS
from telecrunch.columns import Columns
from telecrunch.errors import FormatError
from telecrunch.layout import compile_layout
from telecrunch.produce import shard_bytes
from telecrunch.schema import ALPHABETS, bits_for
from telecrunch.shardfile import ShardReader
from tests import reference

INT64 = (-(2**63), 2**63 - 1)

ALL_TYPES = {
    "telecrunch": 1,
    "name": "all_types",
    "sources": {"count": 7, "field": "unit"},
    "time": {"interval": "250ms", "jitter": "3ms", "resolution": "1us", "bits": 36},
    "kinds": {
        "update": {
            "fields": {
                "small": {"type": "int", "min": -1000, "max": 1000},
                "full": {"type": "int", "min": INT64[0], "max": INT64[1]},
                "upper": {"type": "int", "min": 0, "max": INT64[1]},
                "edge_normal": {"type": "int", "min": INT64[0], "max": INT64[1],
                                "signal": {"kind": "normal", "mean": 9.2e18, "std": 1.0e17}},
                "padded": {"type": "int", "min": -3, "max": 3, "bits": 13},
                "fixed": {"type": "int", "min": 42, "max": 42},
                "counter": {"type": "int", "min": 0, "max": 99,
                            "signal": {"kind": "sequence", "start": 95, "step": 3}},
                "flag": {"type": "bool", "signal": {"kind": "bernoulli", "p": 0.3}},
                "state": {"type": "enum", "values": ["ok", "warn", "fault", "off", "boot"],
                          "weights": [5, 1, 1, 1, 1]},
                "only": {"type": "enum", "values": ["single"]},
                "temp": {"type": "float", "min": -40, "max": 125, "resolution": 0.01,
                         "signal": {"kind": "random_walk", "step": 0.5, "start": 20.0}},
                "wave": {"type": "float", "min": 0, "max": 100, "resolution": 0.1, "bits": 20,
                         "signal": {"kind": "sine", "period": "3s", "amplitude": 60.0,
                                    "offset": 50.0, "noise": 2.0}},
                "tiny": {"type": "float", "min": -1, "max": 1, "resolution": 2.0**-46},
                "f32": {"type": "float", "encoding": "binary32", "min": -3.4e38, "max": 3.4e38},
                "f64": {"type": "float", "encoding": "binary64", "min": -8e307, "max": 8e307},
                "f64n": {"type": "float", "encoding": "binary64", "min": -1, "max": 1,
                         "signal": {"kind": "normal", "mean": 0.0, "std": 0.7}},
            },
        },
        "event": {
            "rate": 0.35,
            "fields": {
                "seen": {"type": "timestamp", "min": "2025-01-01T00:00:00Z",
                         "max": "2026-01-01T00:00:00Z", "resolution": "1ms"},
                "any_time": {"type": "timestamp", "min": INT64[0], "max": INT64[1],
                             "resolution": 3},
                "msg": {"type": "string", "max_length": 12},
                "hexid": {"type": "string", "alphabet": "hex", "min_length": 4, "max_length": 8},
                "word": {"type": "string", "alphabet": "xyz_", "max_length": 5},
                "firmware": {"type": "string", "values": ["1.4.2", "1.5.0", "2.0.0-rc1", ""],
                             "weights": [6, 3, 1, 1]},
                "empty": {"type": "string", "max_length": 0},
                "tag": {"type": "string", "alphabet": "digits", "max_length": 3,
                        "signal": {"kind": "constant", "value": "07"}},
                "code": {"type": "enum", "values": ["a", "b", "c"],
                         "signal": {"kind": "constant", "value": "c"}},
                "level": {"type": "int", "min": -50, "max": 50,
                          "signal": {"kind": "uniform", "min": -5, "max": 5}},
            },
        },
    },
}


@pytest.fixture(scope="module")
def all_types():
    return load_schema(ALL_TYPES)


def pack_roundtrip_problems(columns: Columns) -> list[str]:
    """Everything that differs between the fast and the reference paths for a batch."""
    layout = compile_layout(columns.schema)
    base = int(columns[columns.schema.time.field].min())
    payload, nbits = pack.pack(layout, columns, base)
    problems = []
    back = pack.unpack(layout, payload, columns.ids, nbits, base)
    problems += [f"pack.unpack differs in {name}" for name in columns.differences(back)]
    records = columns.to_records()
    ref_payload, ref_bits = reference.pack_records(layout, records, base)
    if (ref_payload, ref_bits) != (payload, nbits):
        problems.append(f"packed bytes differ from the reference ({nbits} vs {ref_bits} bits)")
    first = int(columns.ids[0])
    read = reference.unpack_records(layout, payload, nbits, first, len(columns), base)
    problems += reference.record_differences(read, records)[:5]
    return problems


# ---- the reference itself, against hand-computed bytes ----

def test_reference_places_bits_lsb_first_as_documented():
    schema = load_schema({
        "telecrunch": 1, "name": "hand", "sources": {"count": 1},
        "time": {"start": 0, "interval": "1s", "resolution": "1s", "bits": 8},
        "kinds": {"k": {"fields": {"a": {"type": "int", "min": 0, "max": 7},
                                   "b": {"type": "bool"},
                                   "c": {"type": "int", "min": -2, "max": 1},
                                   "s": {"type": "string", "alphabet": "abc", "max_length": 3}}}},
    })
    layout = compile_layout(schema)
    assert [s.width for s in layout.kinds[0].slots] == [0, 8, 0, 3, 1, 2, 2]
    records = [{"id": 0, "kind": "k", "ts": 5_000_000_000, "source_id": 0, "a": 5, "b": True,
                "c": -1, "s": "cb"},
               {"id": 1, "kind": "k", "ts": 6_000_000_000, "source_id": 0, "a": 0, "b": False,
                "c": 1, "s": ""}]
    # record 0: ts=5 -> bits 0-7; a=5 -> 8-10; b -> 11; c code 1 -> 12-13; len 2 -> 14-15;
    # 'c'=2 -> 16-17; 'b'=1 -> 18-19. record 1 starts at bit 20: ts=6, a=0, b=0, c code 3,
    # length 0.
    expected = (5 | 5 << 8 | 1 << 11 | 1 << 12 | 2 << 14 | 2 << 16 | 1 << 18
                | 6 << 20 | 3 << 32)
    payload, nbits = reference.pack_records(layout, records, 0)
    assert nbits == 36
    assert payload == expected.to_bytes(5, "little")
    assert reference.unpack_records(layout, payload, nbits, 0, 2, 0) == records
    columns = Columns(schema, np.arange(2, dtype=np.uint64), np.zeros(2, np.uint8), {
        "ts": np.array([5, 6], np.int64) * 10**9, "source_id": np.zeros(2, np.int64),
        "a": np.array([5, 0]), "b": np.array([True, False]), "c": np.array([-1, 1]),
        "s": np.array([b"cb", b""], "S3")})
    assert pack.pack(layout, columns, 0) == (payload, nbits)


# ---- every type, both kinds ----

def test_all_types_schema_has_both_kinds_and_every_type(all_types):
    columns = generate_columns(all_types, 3, 0, 64)
    assert set(np.unique(columns.kind)) == {0, 1}
    types = {f.type for f in all_types.fields.values()}
    encodings = {f.encoding for f in all_types.fields.values() if f.type == "float"}
    assert types == {"int", "bool", "enum", "timestamp", "float", "string"}
    assert encodings == {"quantized", "binary32", "binary64"}


@pytest.mark.parametrize(("id_start", "id_stop"), [(0, 700), (123_456_789, 123_457_000),
                                                   (10**11, 10**11 + 40)])
def test_every_type_roundtrips_and_matches_reference(all_types, id_start, id_stop):
    columns = generate_columns(all_types, 11, id_start, id_stop)
    assert pack_roundtrip_problems(columns) == []


def test_extreme_int_values_reach_both_ends(all_types):
    columns = generate_columns(all_types, 5, 0, 2000)
    update = columns.kind == 0
    edge = columns["edge_normal"][update]
    assert edge.max() == INT64[1]  # a normal clipped at max stays at max, never wraps
    assert edge.min() > 0
    assert columns["full"][update].min() < -(2**62) and columns["full"][update].max() > 2**62
    assert set(np.unique(columns["counter"][update])) <= set(range(100))


def test_generated_values_stay_in_declared_ranges(all_types):
    columns = generate_columns(all_types, 8, 0, 3000)
    for field in all_types.fields.values():
        mask = columns.present(field.name)
        values = columns[field.name][mask]
        if field.type in ("int", "float", "timestamp"):
            assert values.min() >= field.min and values.max() <= field.max, field.name
        if field.type == "timestamp":
            assert ((values.astype(object) - field.min) % field.resolution == 0).all(), field.name
        if field.type == "string":
            lengths = np.char.str_len(values)
            assert lengths.min() >= field.min_length and lengths.max() <= field.length_limit


def test_empty_batch_packs_to_nothing(all_types):
    layout = compile_layout(all_types)
    columns = generate_columns(all_types, 1, 50, 50)
    payload, nbits = pack.pack(layout, columns, 0)
    assert (payload, nbits) == (b"", 0)
    assert pack.unpack(layout, payload, columns.ids, nbits, 0).differences(columns) == []


# ---- through shard files ----

@pytest.mark.parametrize("codec", list(CODECS))
def test_shard_roundtrip_with_every_codec(all_types, codec):
    first, count, block = 1_000, 700, 128
    data = shard_bytes(all_types, 9, first, count, CODECS[codec], block)
    reader = ShardReader(data, compile_layout(all_types))
    assert reader.header.codec_id == CODECS[codec].id
    assert len(reader.entries) == -(-count // block)
    expected = generate_columns(all_types, 9, first, first + count)
    assert reader.read().differences(expected) == []
    # ID sub-ranges that start and end inside blocks and cross block boundaries
    for lo, hi in [(1_000, 1_001), (1_127, 1_129), (1_100, 1_400), (1_255, 1_700),
                   (1_699, 1_700), (900, 1_050), (1_650, 2_000)]:
        part = reader.read(lo, hi)
        lo_in, hi_in = max(lo, first), min(hi, first + count)
        assert part.differences(expected.take(slice(lo_in - first, hi_in - first))) == []


class _Lz4WithContentChecksum(type(CODECS["lz4"])):
    """The lz4 codec as earlier builds wrote it: frames with the content checksum."""

    def encode(self, data: bytes) -> bytes:
        import lz4.frame

        return lz4.frame.compress(data, content_checksum=True, store_size=True,
                                  compression_level=0)


def _lz4_frames(reader: ShardReader) -> list[bytes]:
    data = reader.data
    return [bytes(data[e.offset + 48:e.offset + 48 + e.stored_size]) for e in reader.entries]


def test_lz4_blocks_carry_no_second_checksum_and_old_ones_still_read(all_types):
    """The block's xxh64 covers the stored frame, so the frame's own content checksum (xxh32
    of the content, FLG bit 2) is left out; its content size (FLG bit 3) stays. Shards
    written with checksummed frames, as earlier builds did, read the same records."""
    layout = compile_layout(all_types)
    new = ShardReader(shard_bytes(all_types, 4, 77, 300, CODECS["lz4"], 100), layout)
    old = ShardReader(shard_bytes(all_types, 4, 77, 300, _Lz4WithContentChecksum("lz4", 1),
                                  100), layout)
    flags = [frame[4] for frame in _lz4_frames(new)]
    assert flags and all(flg & 0x04 == 0 and flg & 0x08 for flg in flags)
    assert all(frame[4] & 0x04 for frame in _lz4_frames(old))
    assert old.read().differences(new.read()) == []


def test_an_lz4_payload_of_a_megabyte_is_one_frame_block():
    """A block's payload (about 1 MB for the reference schema) is compressed as one frame
    block, not as the library's default 64 KB linked blocks (half the speed): the frame
    descriptor names 1 MB blocks (BD bits 4-6 = 6) and, random bytes staying as they are,
    the frame is its 15-byte header, one block size word, the bytes and the end mark."""
    import lz4.frame

    payload = np.random.default_rng(3).bytes(1_000_000)
    frame = CODECS["lz4"].encode(payload)
    assert frame[5] >> 4 & 7 == 6
    assert len(frame) == 15 + 4 + len(payload) + 4
    assert CODECS["lz4"].decode(memoryview(frame), len(payload)) == payload
    default = lz4.frame.compress(payload, content_checksum=False, store_size=True)
    assert default[5] >> 4 & 7 == 4 and len(default) > len(frame)  # 16 blocks of 64 KB


def test_a_damaged_lz4_frame_fails_its_block_checksum(all_types):
    data = bytearray(shard_bytes(all_types, 4, 77, 300, CODECS["lz4"], 100))
    reader = ShardReader(bytes(data), compile_layout(all_types))
    entry = reader.entries[1]
    data[entry.offset + 48 + entry.stored_size // 2] ^= 0x10  # inside the second frame
    with pytest.raises(FormatError, match="checksum"):
        ShardReader(bytes(data), compile_layout(all_types)).payload(1)


def test_shard_blocks_hold_reference_packed_payloads(all_types):
    layout = compile_layout(all_types)
    data = shard_bytes(all_types, 4, 77, 300, CODECS["lz4"], 100)
    reader = ShardReader(data, layout)
    for i, entry in enumerate(reader.entries):
        head, raw = reader.payload(i)
        columns = generate_columns(all_types, 4, entry.first_id, entry.first_id + entry.records)
        assert head.base_time <= int(columns["ts"].min())
        expected = reference.pack_records(layout, columns.to_records(), head.base_time)
        assert (raw, head.payload_bits) == expected


# ---- random schemas ----

PRINTABLE = "".join(chr(c) for c in range(0x20, 0x7F))
NAMES = [f"f{i}" for i in range(16)]


def _number_in(draw, lo, hi, integer: bool):
    if integer:
        return draw(st.integers(lo, hi))
    return draw(st.floats(lo, hi, allow_nan=False, allow_infinity=False))


@st.composite
def numeric_signal(draw, lo, hi, integer: bool, kinds):
    """A valid signal for a numeric field with range [lo, hi]."""
    kind = draw(st.sampled_from(kinds))
    if kind == "default":
        return None
    if kind == "constant":
        return {"kind": "constant", "value": _number_in(draw, lo, hi, integer)}
    if kind == "uniform":
        a = _number_in(draw, lo, hi, integer)
        b = _number_in(draw, a, hi, integer)
        return {"kind": "uniform", "min": a, "max": b}
    span = float(hi) - float(lo)
    if kind == "normal":
        return {"kind": "normal", "mean": float(draw(st.floats(float(lo), float(hi)))),
                "std": draw(st.floats(1e-3, max(span, 1e-3)))}
    if kind == "sequence":
        steps = st.one_of(st.integers(-50, 50), st.integers(-(2**62), 2**62))
        doc = {"kind": "sequence", "step": float(draw(steps))}
        start = float(_number_in(draw, lo, hi, integer))
        if draw(st.booleans()) and lo <= start <= hi:  # may round outside an int range
            doc["start"] = start
        return doc
    if kind == "random_walk":
        doc = {"kind": "random_walk", "step": draw(st.floats(0, min(max(span, 0.0), 1e100))),
               "reversion": draw(st.sampled_from([0.0, 0.01, 0.5]))}
        if draw(st.booleans()):
            doc["start"] = float(draw(st.floats(float(lo), float(hi))))
            if doc["start"] < lo or doc["start"] > hi:  # rounded outside an int range
                del doc["start"]
        return doc
    return {"kind": "sine", "period": draw(st.integers(1, 10**12)),
            "amplitude": draw(st.floats(0, max(span, 1.0))),
            "offset": float(draw(st.floats(float(lo), float(hi)))),
            "phase": draw(st.floats(0, 1)), "noise": draw(st.sampled_from([0.0, 0.1]))}


@st.composite
def int_fields(draw):
    lo = draw(st.integers(*INT64))
    hi = draw(st.one_of(st.integers(lo, min(lo + 1000, INT64[1])), st.integers(lo, INT64[1])))
    doc = {"type": "int", "min": lo, "max": hi}
    if draw(st.booleans()):
        doc["bits"] = draw(st.integers(bits_for(hi - lo), 64))
    signal = draw(numeric_signal(lo, hi, True, ["default", "constant", "uniform", "normal",
                                                "sequence", "random_walk", "sine"]))
    return doc if signal is None else {**doc, "signal": signal}


@st.composite
def timestamp_fields(draw):
    resolution = draw(st.sampled_from([1, 3, 1000, 10**6, 10**9]))
    lo = draw(st.integers(*INT64))
    hi = draw(st.integers(lo, INT64[1]))
    doc = {"type": "timestamp", "min": lo, "max": hi, "resolution": resolution}
    signal = draw(numeric_signal(lo, hi, True, ["default", "constant", "uniform", "sequence"]))
    if signal and signal["kind"] == "sequence":
        signal["step"] = float(resolution * draw(st.integers(0, 5)))
    return doc if signal is None else {**doc, "signal": signal}


@st.composite
def float_fields(draw):
    encoding = draw(st.sampled_from(["quantized", "binary32", "binary64"]))
    limit = {"quantized": 1e9, "binary32": 3.4e38, "binary64": 8e307}[encoding]
    lo = draw(st.floats(-limit, limit))
    hi = draw(st.floats(lo, limit))
    doc = {"type": "float", "min": lo, "max": hi, "encoding": encoding}
    if encoding == "quantized":
        codes = draw(st.integers(1, 2**48 - 1))
        doc["resolution"] = (hi - lo) / codes if hi > lo else draw(st.floats(1e-3, 10))
        if doc["resolution"] < 5e-324 * 2**60:  # a subnormal step: use a coarser grid
            doc["resolution"] = 1.0
            doc["max"] = hi = lo + draw(st.integers(0, 1000))
        if draw(st.booleans()):
            doc["bits"] = 48
    signal = draw(numeric_signal(lo, hi, False, ["default", "constant", "uniform", "normal",
                                                 "sequence", "random_walk", "sine"]))
    return doc if signal is None else {**doc, "signal": signal}


@st.composite
def enum_fields(draw):
    values = draw(st.lists(st.text(string.ascii_letters, min_size=1, max_size=6), min_size=1,
                           max_size=9, unique=True))
    doc = {"type": "enum", "values": values}
    if draw(st.booleans()):
        weights = draw(st.lists(st.floats(0, 10), min_size=len(values), max_size=len(values)))
        if sum(weights) > 0:
            doc["weights"] = weights
    if draw(st.booleans()):
        doc["signal"] = {"kind": "constant", "value": draw(st.sampled_from(values))}
    return doc


@st.composite
def bool_fields(draw):
    signal = draw(st.sampled_from([None, "bernoulli", "constant"]))
    if signal == "bernoulli":
        return {"type": "bool", "signal": {"kind": "bernoulli", "p": draw(st.floats(0, 1))}}
    if signal == "constant":
        return {"type": "bool", "signal": {"kind": "constant", "value": draw(st.booleans())}}
    return {"type": "bool"}


@st.composite
def string_fields(draw):
    alphabet = draw(st.one_of(st.sampled_from(sorted(ALPHABETS)),
                              st.text(PRINTABLE, min_size=1, max_size=70).map(
                                  lambda s: "".join(dict.fromkeys(s)))))
    symbols = ALPHABETS.get(alphabet, alphabet)
    text = st.text(symbols, max_size=10)
    doc = {"type": "string", "alphabet": alphabet}
    if draw(st.booleans()):
        values = draw(st.lists(text, min_size=1, max_size=5))
        doc["values"] = values
        if draw(st.booleans()):
            doc["max_length"] = draw(st.integers(max(map(len, values)), 12))
        if draw(st.booleans()):
            doc["weights"] = [float(w) for w in draw(
                st.lists(st.integers(1, 9), min_size=len(values), max_size=len(values)))]
    else:
        doc["max_length"] = limit = draw(st.integers(0, 12))
        doc["min_length"] = draw(st.integers(0, limit))
        if draw(st.booleans()):
            value = draw(st.text(symbols, max_size=limit))
            doc["signal"] = {"kind": "constant", "value": value}
    return doc


field_docs = st.one_of(int_fields(), timestamp_fields(), float_fields(), enum_fields(),
                       bool_fields(), string_fields())


@st.composite
def schema_docs(draw, max_fields: int = 5):
    """A random valid schema document: 1-3 kinds of random fields, random clock and sources."""
    n_kinds = draw(st.integers(1, 3))
    names = iter(NAMES)
    kinds = {}
    for k in range(n_kinds):
        fields = {next(names): draw(field_docs) for _ in range(draw(st.integers(0, max_fields)))}
        kind = {"fields": fields}
        if k:
            kind["rate"] = draw(st.sampled_from([0.05, 0.2, 0.45]))
        kinds[f"k{k}"] = kind
    resolution = draw(st.sampled_from([1, 1000, 10**6]))
    interval = resolution * draw(st.integers(1, 10**9 // resolution))
    return {
        "telecrunch": 1,
        "name": "random",
        "sources": {"count": draw(st.integers(1, 40))},
        "time": {"start": resolution * draw(st.integers(0, 2**61 // resolution)),
                 "interval": interval,
                 "jitter": resolution * draw(st.integers(0, interval // resolution - 1)),
                 "resolution": resolution, "bits": 48},
        "kinds": kinds,
    }


SETTINGS = settings(max_examples=300, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@SETTINGS
@given(doc=schema_docs(), seed=st.integers(0, 2**64 - 1), start=st.integers(0, 10**9),
       count=st.integers(1, 150))
def test_random_schemas_roundtrip_and_match_reference(doc, seed, start, count):
    schema = load_schema(doc)
    columns = generate_columns(schema, seed, start, start + count)
    assert pack_roundtrip_problems(columns) == []


@settings(SETTINGS, max_examples=100)
@given(doc=schema_docs(max_fields=4), seed=st.integers(0, 2**32), data=st.data())
def test_random_schemas_roundtrip_through_shards(doc, seed, data):
    schema = load_schema(doc)
    first = data.draw(st.integers(0, 10**6), "first")
    count = data.draw(st.integers(1, 200), "count")
    block = data.draw(st.integers(1, 64), "block")
    codec = data.draw(st.sampled_from(sorted(CODECS)), "codec")
    reader = ShardReader(shard_bytes(schema, seed, first, count, CODECS[codec], block),
                         compile_layout(schema))
    lo = data.draw(st.integers(first, first + count), "lo")
    hi = data.draw(st.integers(lo, first + count), "hi")
    assert reader.read(lo, hi).differences(generate_columns(schema, seed, lo, hi)) == []
