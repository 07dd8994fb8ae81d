"""The manifest: a dataset's table of contents, written last (docs/FORMAT.md, "Manifest").

It embeds the schema and the job identity, and lists every shard with its ID range, files,
sizes, checksums and statistics, so a dataset can be verified and read with nothing else.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import orjson

from telecrunch.errors import FormatError

MANIFEST_NAME = "manifest.json"
MANIFEST_FORMAT = "telecrunch-dataset"
MANIFEST_VERSION = 1


@dataclass(frozen=True)
class FileEntry:
    """One file of a shard, in one output format."""

    path: str  # relative to the dataset folder, '/'-separated
    format: str
    bytes: int
    xxh3: str  # xxh3-64 of the whole file, 16 hex digits

    @staticmethod
    def from_dict(doc: dict) -> FileEntry:
        return FileEntry(doc["path"], doc["format"], int(doc["bytes"]), doc["xxh3"])


@dataclass(frozen=True)
class ShardEntry:
    """What one shard task made: small, the only thing that travels back from a worker."""

    index: int
    first_id: int
    records: int
    files: tuple[FileEntry, ...]
    stats: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0  # time the task took

    @property
    def id_stop(self) -> int:
        return self.first_id + self.records

    def to_dict(self) -> dict:
        """The entry as a document, keys in field order; the statistics are shared, not
        copied (asdict's deep copy of them was most of a 16-shard manifest's cost)."""
        return {"index": self.index, "first_id": self.first_id, "records": self.records,
                "files": [asdict(f) for f in self.files], "stats": self.stats,
                "seconds": self.seconds}

    @staticmethod
    def from_dict(doc: dict) -> ShardEntry:
        return ShardEntry(int(doc["index"]), int(doc["first_id"]), int(doc["records"]),
                          tuple(FileEntry.from_dict(f) for f in doc["files"]),
                          doc.get("stats", {}), float(doc.get("seconds", 0.0)))


@dataclass(frozen=True)
class Manifest:
    tool_version: str
    created: str  # ISO 8601 UTC
    job: dict[str, Any]  # the job identity (telecrunch.job.Job.identity) and its name
    schema: dict[str, Any]  # canonical schema document
    shards: tuple[ShardEntry, ...]
    stats: dict[str, Any]  # merged over all shards
    timings: dict[str, Any]
    complete: bool
    files: tuple[FileEntry, ...] = ()  # dataset-level files of no one shard (Zarr metadata)

    @property
    def first_id(self) -> int:
        return int(self.job["first_id"])

    @property
    def id_stop(self) -> int:
        return int(self.job["first_id"]) + int(self.job["records"])

    @property
    def records(self) -> int:
        return int(self.job["records"])

    def bytes_by_format(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for f in self.all_files():
            out[f.format] = out.get(f.format, 0) + f.bytes
        return out

    def all_files(self) -> list[FileEntry]:
        """Every file of the dataset but the manifest: dataset-level files, then shards'."""
        return [*self.files, *(f for shard in self.shards for f in shard.files)]

    def to_json(self) -> bytes:
        doc = {
            "format": MANIFEST_FORMAT,
            "format_version": MANIFEST_VERSION,
            "tool_version": self.tool_version,
            "created": self.created,
            "complete": self.complete,
            "job": self.job,
            "id_range": [self.first_id, self.id_stop],
            "schema": self.schema,
            "totals": {"records": sum(s.records for s in self.shards),
                       "shards": len(self.shards), "bytes": self.bytes_by_format()},
            "timings": self.timings,
            "stats": self.stats,
            "files": [asdict(f) for f in self.files],
            "shards": [s.to_dict() for s in self.shards],
        }
        return orjson.dumps(doc, option=orjson.OPT_INDENT_2) + b"\n"

    @staticmethod
    def from_json(data: bytes, place: str = MANIFEST_NAME) -> Manifest:
        try:
            doc = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise FormatError(place, f"not valid JSON ({exc})", has_got=False) from None
        if not isinstance(doc, dict) or doc.get("format") != MANIFEST_FORMAT:
            raise FormatError(place, f"not a TeleCrunch manifest (format {MANIFEST_FORMAT!r})",
                              doc.get("format") if isinstance(doc, dict) else None)
        if doc.get("format_version") != MANIFEST_VERSION:
            raise FormatError(place, f"manifest version {MANIFEST_VERSION} expected",
                              doc.get("format_version"))
        try:
            return Manifest(
                tool_version=doc["tool_version"], created=doc["created"], job=doc["job"],
                schema=doc["schema"], shards=tuple(ShardEntry.from_dict(s) for s in doc["shards"]),
                stats=doc.get("stats", {}), timings=doc.get("timings", {}),
                complete=bool(doc["complete"]),
                files=tuple(FileEntry.from_dict(f) for f in doc.get("files", [])),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise FormatError(place, f"missing or malformed entry ({exc})",
                              has_got=False) from None
