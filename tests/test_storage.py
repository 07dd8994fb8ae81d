"""Atomic files: whole or absent, hashed on the way; local ones reserve disk blocks ahead."""

from __future__ import annotations

import os

import fsspec
import pytest
import xxhash

from telecrunch import reserve, storage
from telecrunch.reserve import MAX_STEP, SMALL, step
from telecrunch.storage import AtomicFile, open_fs

MB = 1 << 20


@pytest.fixture
def calls(monkeypatch):
    """Every fallocate call, passed on to the real one where the system has it."""
    seen = []
    real = reserve.FALLOCATE

    def record(fd, mode, offset, length):
        seen.append((mode, offset, length))
        return real(fd, mode, offset, length) if real is not None else 0

    monkeypatch.setattr(reserve, "FALLOCATE", record)
    return seen


def _write(tmp_path, chunks: list[bytes]) -> tuple[AtomicFile, list[int]]:
    """Chunks written into an atomic file, and its allocated bytes after each write."""
    fs, root = open_fs(str(tmp_path))
    out = AtomicFile(fs, storage.join(root, "f.bin"))
    allocated = []
    for chunk in chunks:
        out.write(chunk)
        out._file.flush()
        allocated.append(os.stat(out.tmp).st_blocks * 512)
    return out, allocated


def test_the_reserved_step_doubles_the_file_up_to_64_mb_and_covers_the_write():
    assert step(0, 10) == SMALL
    assert step(3 * MB, 10) == 3 * MB
    assert step(500 * MB, 10) == MAX_STEP
    assert step(500 * MB, 100 * MB) == 100 * MB


def test_a_growing_local_file_reserves_ahead_and_releases_the_rest_on_commit(tmp_path, calls):
    chunks = [os.urandom(700_000) for _ in range(6)]  # 4.2 MB in writes under 1 MB
    out, allocated = _write(tmp_path, chunks)
    # the first write stays under 1 MB: nothing reserved; then a step at each crossing
    sizes = [sum(map(len, chunks[:i])) for i in range(len(chunks))]
    assert [(mode, offset) for mode, offset, _ in calls] == [
        (reserve.KEEP_SIZE, sizes[1]), (reserve.KEEP_SIZE, sizes[2]),
        (reserve.KEEP_SIZE, sizes[4])]
    assert [length for _, _, length in calls] == [SMALL, sizes[2], sizes[4]]
    if reserve._fallocate() is not None:  # the system reserved them: more than written
        assert allocated[-1] >= sizes[4] * 2
    out.commit()
    data = b"".join(chunks)
    path = tmp_path / "f.bin"
    assert path.read_bytes() == data and out.size == len(data)
    assert out.checksum == xxhash.xxh3_64(data).hexdigest()
    assert not [p for p in tmp_path.iterdir() if p.name != "f.bin"]
    if reserve._fallocate() is not None:  # the reserved blocks past the end are freed
        assert path.stat().st_blocks * 512 < len(data) + 64 * 1024


def test_a_small_file_reserves_nothing(tmp_path, calls):
    out, _ = _write(tmp_path, [b"x" * 1000, b"y" * 1000])
    out.commit()
    assert calls == [] and (tmp_path / "f.bin").read_bytes() == b"x" * 1000 + b"y" * 1000


def test_where_reserving_fails_the_writes_go_on_without_it(tmp_path, monkeypatch):
    failed = []
    monkeypatch.setattr(reserve, "FALLOCATE", lambda *args: failed.append(args) or -1)
    chunks = [os.urandom(600_000) for _ in range(5)]
    out, _ = _write(tmp_path, chunks)
    out.commit()
    assert len(failed) == 1  # tried once, then not again
    assert (tmp_path / "f.bin").read_bytes() == b"".join(chunks)


def test_a_file_of_another_filesystem_reserves_nothing(calls):
    fs = fsspec.filesystem("memory")
    out = AtomicFile(fs, "/reserve-test/f.bin")
    for _ in range(3):
        out.write(b"z" * 800_000)
    out.commit()
    assert calls == [] and fs.cat("/reserve-test/f.bin") == b"z" * 2_400_000
    fs.rm("/reserve-test", recursive=True)


def test_an_aborted_file_leaves_nothing(tmp_path, calls):
    out, _ = _write(tmp_path, [os.urandom(800_000) for _ in range(3)])
    out.abort()
    assert calls and list(tmp_path.iterdir()) == []
