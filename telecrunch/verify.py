"""Prove a dataset whole, or say exactly what is wrong: one problem per line."""

from __future__ import annotations

import mmap
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from telecrunch.errors import TeleCrunchError
from telecrunch.layout import compile_layout
from telecrunch.manifest import MANIFEST_NAME, FileEntry, Manifest, ShardEntry
from telecrunch.shardfile import ShardReader
from telecrunch.storage import file_checksum, join, local_path, open_fs


@dataclass(frozen=True)
class Problem:
    place: str
    message: str

    def __str__(self) -> str:
        return f"{self.place}: {self.message}"


def verify_dataset(url: str | Path, deep: bool = False) -> list[Problem]:
    """Problems found in the dataset at ``url`` (empty when it is whole).

    Checks that the manifest is readable and complete, that shard ID ranges tile the dataset's
    range with no gap or overlap, that every file (the dataset-level ``files`` too) is present
    with its recorded size and checksum, that binary shards parse (header, index, block
    checksums, record counts), and that the folder holds no other files. ``deep`` also makes
    every block again from its IDs and compares the bytes; where they differ, it decodes both
    and names the fields whose records differ.
    """
    url = str(url)
    fs, root = open_fs(url)
    path = join(root, MANIFEST_NAME)
    if not fs.exists(path):
        return [Problem(MANIFEST_NAME, "missing: not a complete TeleCrunch dataset")]
    try:
        with fs.open(path, "rb") as f:
            manifest = Manifest.from_json(f.read())
        from telecrunch.schema_parse import parse_schema

        schema = parse_schema(manifest.schema)
    except TeleCrunchError as exc:
        return [Problem(MANIFEST_NAME, str(exc))]
    problems: list[Problem] = []
    if not manifest.complete:
        problems.append(Problem(MANIFEST_NAME, "says the dataset is incomplete"))
    if schema.fingerprint != manifest.job.get("schema_fingerprint"):
        problems.append(Problem(MANIFEST_NAME, "embedded schema does not match the job's "
                                "schema fingerprint"))
    problems += _check_tiling(manifest)
    layout = compile_layout(schema)
    fresh = _Fresh(layout, int(manifest.job["seed"])) if deep else None
    local = local_path(url)
    for entry in manifest.files:
        problems += _check_file(fs, root, entry)
    for shard in manifest.shards:
        for entry in shard.files:
            damage = _check_file(fs, root, entry)
            problems += damage
            if not damage and entry.format == "binary":
                problems += _check_binary(fs, join(root, entry.path), local, entry.path, shard,
                                          layout, manifest, fresh)
    problems += _check_extra_files(fs, root, manifest)
    return problems


def _check_file(fs, root: str, entry: FileEntry) -> list[Problem]:
    """The file's presence, size and checksum against its manifest entry."""
    full = join(root, entry.path)
    if not fs.exists(full):
        return [Problem(entry.path, "missing")]
    size, digest = file_checksum(fs, full)
    if size != entry.bytes:
        how = "truncated" if size < entry.bytes else "grown"
        return [Problem(entry.path, f"{how}: {size} bytes, the manifest says {entry.bytes}")]
    if digest != entry.xxh3:
        return [Problem(entry.path, f"checksum mismatch: manifest {entry.xxh3}, file {digest}")]
    return []


def _check_tiling(manifest: Manifest) -> list[Problem]:
    problems = []
    expected = manifest.first_id
    for i, shard in enumerate(sorted(manifest.shards, key=lambda s: s.first_id)):
        place = f"shard {shard.index}"
        if shard.index != i:
            problems.append(Problem(place, f"index {i} expected in ID order"))
        if shard.first_id > expected:
            problems.append(Problem(place, f"gap: IDs [{expected}, {shard.first_id}) are in no "
                                    "shard"))
        elif shard.first_id < expected:
            problems.append(Problem(place, f"overlap: IDs [{shard.first_id}, {expected}) are "
                                    "in an earlier shard too"))
        expected = max(expected, shard.id_stop)
    if expected != manifest.id_stop:
        problems.append(Problem(MANIFEST_NAME, f"shards end at ID {expected}, the dataset's range "
                                f"ends at {manifest.id_stop}"))
    total = sum(s.records for s in manifest.shards)
    if total != manifest.records:
        problems.append(Problem(MANIFEST_NAME, f"shards hold {total} records, the job says "
                                f"{manifest.records}"))
    return problems


def _check_binary(fs, full: str, local: str | None, rel: str, shard: ShardEntry, layout,
                  manifest: Manifest, fresh: _Fresh | None) -> list[Problem]:
    try:
        if local is not None:
            with open(Path(local) / rel, "rb") as f:
                data = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        else:
            with fs.open(full, "rb") as f:
                data = f.read()
        reader = ShardReader(data, layout, rel)
        head = reader.header
        if (head.first_id, head.records) != (shard.first_id, shard.records):
            return [Problem(rel, f"holds IDs [{head.first_id}, {head.first_id + head.records}), "
                            f"the manifest says [{shard.first_id}, {shard.id_stop})")]
        for i in range(len(reader.entries)):
            block_head, raw = reader.payload(i)
            if fresh is not None and not fresh.same(block_head, raw):
                _compare(reader.block(i), layout, manifest, rel, i)  # names the fields
                raise _Mismatch(f"block {i}: bytes differ from a fresh generation (the "
                                "records decode alike)")
    except _Mismatch as exc:
        return [Problem(rel, str(exc))]
    except TeleCrunchError as exc:
        return [Problem(rel, str(exc))]
    return []


class _Mismatch(Exception):
    pass


class _Fresh:
    """A block made again from its IDs, to compare with the stored one byte for byte: the
    format is a pure function of (schema, seed, IDs), so any difference is damage or another
    generator. The fused kernel makes it where it applies, else the reference path."""

    def __init__(self, layout, seed: int):
        from telecrunch.tasks import fast_blocks

        self.layout = layout
        self.seed = seed
        self.fast = fast_blocks(layout.schema)

    def same(self, head, raw) -> bool:
        from telecrunch import pack
        from telecrunch.generation import generate_columns, time_floor

        first, n = head.first_id, head.records
        if head.base_time != time_floor(self.layout.schema, first):
            return False
        if self.fast is not None:
            payload, nbits = self.fast.pack(self.seed, first, n)  # no statistics wanted
        else:
            columns = generate_columns(self.layout.schema, self.seed, first, first + n)
            payload, nbits = pack.pack(self.layout, columns, head.base_time)
        return nbits == head.payload_bits and np.array_equal(np.frombuffer(payload, np.uint8),
                                                             np.frombuffer(raw, np.uint8))


def _compare(columns, layout, manifest: Manifest, rel: str, block: int) -> None:
    from telecrunch.generation import generate_columns

    ids = columns.ids
    fresh = generate_columns(layout.schema, int(manifest.job["seed"]), int(ids[0]),
                             int(ids[-1]) + 1)
    diff = columns.differences(fresh)
    if diff:
        raise _Mismatch(f"block {block}: records differ from a fresh generation in "
                        f"{', '.join(diff)}")


def _check_extra_files(fs, root: str, manifest: Manifest) -> list[Problem]:
    known = {MANIFEST_NAME}
    prefixes = []
    for entry in manifest.all_files():
        known.add(entry.path)
        if entry.path.endswith("/"):
            prefixes.append(entry.path)
    problems = []
    base = root.rstrip("/") + "/"
    for path in sorted(fs.find(root)):
        rel = path[len(base):] if path.startswith(base) else path
        if rel in known or any(rel.startswith(p) for p in prefixes):
            continue
        problems.append(Problem(rel, "unexpected file: not part of the dataset"))
    return problems
