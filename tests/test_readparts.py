"""Reading with several threads: where the range is cut, and the same records as one thread."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import telecrunch
from telecrunch import readparts
from telecrunch.dataset import Dataset, open_dataset
from telecrunch.errors import ChecksumError, DatasetError
from telecrunch.generation import generate_columns
from telecrunch.readparts import read_parts

from .conftest import DEMO_SCHEMA

SHARDS = [(0, 1000), (1000, 2000), (2000, 2500)]


@pytest.mark.parametrize("start, stop, block, parts, want", [
    (0, 2500, 300, 2, [(0, 1300), (1300, 2500)]),  # 1250 -> the end of block 1000..1300
    (150, 2400, 300, 3, [(150, 900), (900, 1900), (1900, 2400)]),
    (150, 2400, None, 3, [(150, 1000), (1000, 2000), (2000, 2400)]),  # shard ends only
    (0, 2500, 300, 1, [(0, 2500)]),
    (0, 250, 300, 4, [(0, 250)]),  # 250 records: 2 parts of >= 100, one block: no cut
    (0, 0, 300, 4, []),
    (0, 2500, 5000, 3, [(0, 1000), (1000, 2000), (2000, 2500)]),  # blocks longer: shard ends
])
def test_cuts_fall_where_blocks_end(start, stop, block, parts, want):
    assert read_parts(start, stop, SHARDS, block, parts, min_part=100) == want


def test_parts_are_at_least_the_minimum_long():
    assert read_parts(0, 2500, SHARDS, 100, 8, min_part=1000) == [(0, 1300), (1300, 2500)]


@given(st.lists(st.integers(1, 5000), min_size=1, max_size=8), st.integers(1, 2000),
       st.data())
def test_parts_cover_the_range_in_order_cut_at_block_or_shard_ends(sizes, block, data):
    ends = np.cumsum(sizes).tolist()
    shards = list(zip([0, *ends[:-1]], ends, strict=True))
    start = data.draw(st.integers(0, ends[-1]))
    stop = data.draw(st.integers(start, ends[-1]))
    parts = data.draw(st.integers(1, 9))
    got = read_parts(start, stop, shards, block, parts, min_part=50)
    assert len(got) <= parts
    if stop > start:
        assert got[0][0] == start and got[-1][1] == stop
    for (_, hi), (lo, _) in zip(got, got[1:], strict=False):
        assert hi == lo
        first, end = next((f, e) for f, e in shards if f < lo <= e)
        assert lo == end or (lo - first) % block == 0
    assert all(lo < hi for lo, hi in got)


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    """Several kinds, labelled anomalies, shards of 7,000 in blocks of 1,500."""
    schema = telecrunch.load_schema(DEMO_SCHEMA.parent / "fleet_schema.yaml")
    out = tmp_path_factory.mktemp("threads") / "fleet"
    telecrunch.generate(schema, 30_000, out, seed=5, cluster="sync", shard_records=7_000,
                        block_records=1_500)
    return schema, out


@pytest.mark.parametrize("ids", [None, slice(2_345, 27_777), slice(7_000, 7_001)])
def test_threads_read_what_one_thread_reads(fleet, monkeypatch, ids):
    schema, out = fleet
    monkeypatch.setattr(readparts, "MIN_PART", 1_000)
    filled_by = set()
    fill = Dataset._fill

    def spy(self, *args):
        filled_by.add(threading.current_thread().name)
        return fill(self, *args)

    monkeypatch.setattr(Dataset, "_fill", spy)
    ds = open_dataset(out)
    one = ds.read(ids, threads=1)
    assert filled_by == {threading.current_thread().name}
    filled_by.clear()
    many = ds.read(ids, threads=3)
    lo, hi = (0, 30_000) if ids is None else (ids.start, ids.stop)
    if hi - lo >= 2_000:  # long enough for parts of 1,000: read by the pool
        assert len(filled_by) > 1 and all(n.startswith("telecrunch-read") for n in filled_by)
    expected = generate_columns(schema, 5, lo, hi)
    assert many.differences(one) == [] and many.differences(expected) == []
    assert one.labels is not None and (ids is not None or one.labels.any())
    np.testing.assert_array_equal(many.labels, one.labels)


def test_a_damaged_block_fails_a_threaded_read_as_a_serial_one(fleet, tmp_path, monkeypatch):
    import shutil

    _, out = fleet
    copy = tmp_path / "damaged"
    shutil.copytree(out, copy)
    victim = copy / "part-000003.tcs"
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0x10
    victim.write_bytes(bytes(data))
    monkeypatch.setattr(readparts, "MIN_PART", 1_000)
    ds = open_dataset(copy)
    for threads in (1, 4):
        with pytest.raises(ChecksumError, match="part-000003.tcs block"):
            ds.read(threads=threads)


@pytest.mark.parametrize("threads", [0, -1, 1.5, True, "2"])
def test_a_bad_thread_count_is_refused(fleet, threads):
    with pytest.raises(DatasetError, match="threads: must be a whole number >= 1"):
        open_dataset(fleet[1]).read(threads=threads)


def test_threads_fetch_each_remote_shard_once(fleet, monkeypatch):
    """Through fsspec a shard is read whole: threads then split where shards end, so no
    shard is fetched by two of them."""
    import fsspec

    schema, _ = fleet
    url = "memory://telecrunch-threads/fleet"
    monkeypatch.setattr(readparts, "MIN_PART", 1_000)
    try:
        telecrunch.generate(schema, 30_000, url, seed=5, cluster="sync", shard_records=7_000,
                            block_records=1_500)
        opened = []
        reader = Dataset.shard_reader

        def spy(self, shard):
            opened.append(shard.index)
            return reader(self, shard)

        monkeypatch.setattr(Dataset, "shard_reader", spy)
        got = open_dataset(url).read(threads=3)
        assert sorted(opened) == [0, 1, 2, 3, 4]
        assert got.differences(generate_columns(schema, 5, 0, 30_000)) == []
    finally:
        fsspec.filesystem("memory").rm("/telecrunch-threads", recursive=True)


def test_a_missing_labels_file_is_named_in_one_error(fleet, tmp_path):
    import shutil

    _, out = fleet
    copy = tmp_path / "unlabelled"
    shutil.copytree(out, copy)
    ds = open_dataset(copy)
    rel = next(f.path for f in ds.shards[2].files if f.format == "labels")
    (copy / rel).unlink()
    assert len(ds.read(slice(0, 7_000), threads=1)) == 7_000  # shard 0: untouched
    with pytest.raises(DatasetError, match=rf"{rel}: missing, though the manifest lists it"):
        ds.read(threads=2)
