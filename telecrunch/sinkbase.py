"""What every sink is: one shard in one format, fed block by block, committed whole.

A sink class may also act once per job, on the client, before any shard task runs:
``options(job)`` checks that the format can carry the job (a ``JobError`` otherwise, before
anything is written) and returns what its shard tasks need to know beyond the shard itself;
``prepare(job, options)`` writes the format's dataset-level files (e.g. Zarr metadata) and
returns them for the manifest's top-level ``files``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from telecrunch.codecs import Codec
from telecrunch.columns import Columns
from telecrunch.layout import Layout
from telecrunch.manifest import FileEntry
from telecrunch.plan import ShardPlan
from telecrunch.storage import join


@dataclass(frozen=True)
class ShardTarget:
    """Where and how one shard is written."""

    fs: Any
    root: str
    layout: Layout
    shard: ShardPlan
    codec: Codec
    options: dict[str, Any]  # by format: what its ``Sink.options(job)`` returned

    def path(self, suffix: str) -> tuple[str, str]:
        """(relative path, full path) of this shard's file with ``suffix``."""
        rel = self.shard.name + suffix
        return rel, join(self.root, rel)


class Sink:
    """Base: one shard, one format."""

    format = ""

    @classmethod
    def options(cls, job: Any) -> dict[str, Any]:
        """Check the job for this format; what every shard task of it needs (small, JSON)."""
        return {}

    @classmethod
    def prepare(cls, job: Any, options: dict[str, Any]) -> list[FileEntry]:
        """Write the format's dataset-level files, once, before the shard tasks run."""
        return []

    def write(self, columns: Columns) -> None:
        raise NotImplementedError

    def commit(self) -> list[FileEntry]:
        raise NotImplementedError

    def abort(self) -> None:
        raise NotImplementedError
