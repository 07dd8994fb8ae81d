"""Files through fsspec, written atomically: a temporary name, then a rename when whole.

Local paths are the tested default; any fsspec URL (a shared filesystem, an object store)
works the same way for multi-machine clusters.
"""

from __future__ import annotations

import posixpath
import uuid
from typing import Any

import xxhash
from fsspec.core import url_to_fs
from fsspec.implementations.local import LocalFileSystem

from telecrunch.reserve import Reservation

TMP_MARK = ".tmp-"


def open_fs(url: str) -> tuple[Any, str]:
    """(filesystem, root path) of a folder URL or local path."""
    fs, root = url_to_fs(url)
    return fs, root.rstrip("/") or "/"


def join(root: str, *parts: str) -> str:
    return posixpath.join(root, *parts)


def temporary_name(path: str) -> str:
    """A unique hidden sibling of ``path``: concurrent writers never share one."""
    folder, name = posixpath.split(path)
    return posixpath.join(folder, f".{name}{TMP_MARK}{uuid.uuid4().hex[:12]}")


def is_temporary(name: str) -> bool:
    return name.startswith(".") and TMP_MARK in name


class AtomicFile:
    """A file being written: bytes go to a temporary name, hashed on the way (xxh3-64).

    ``commit()`` renames it to its final name; ``abort()`` removes it. Used as a context
    manager, an exception aborts. A local file that grows past 1 MB gets its disk blocks
    reserved ahead (telecrunch.reserve).
    """

    def __init__(self, fs: Any, path: str):
        self.fs = fs
        self.path = path
        self.tmp = temporary_name(path)
        fs.makedirs(posixpath.dirname(path) or ".", exist_ok=True)
        self._file = fs.open(self.tmp, "wb")
        self._hash = xxhash.xxh3_64()
        self.size = 0
        self._reserved = (Reservation(self._file.fileno())
                          if isinstance(fs, LocalFileSystem) else None)

    def write(self, data: bytes) -> None:
        if data:
            if self._reserved is not None:
                self._reserved.before_write(self.size, len(data))
            self._file.write(data)
            self._hash.update(data)
            self.size += len(data)

    @property
    def checksum(self) -> str:
        return self._hash.hexdigest()

    def commit(self) -> None:
        if self._reserved is not None:
            self._file.flush()
            self._reserved.release(self.size)
        self._file.close()
        self.fs.mv(self.tmp, self.path)

    def abort(self) -> None:
        try:
            self._file.close()
        finally:
            if self.fs.exists(self.tmp):
                self.fs.rm(self.tmp)

    def __enter__(self) -> AtomicFile:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.abort()


def write_atomic(fs: Any, path: str, data: bytes) -> None:
    with AtomicFile(fs, path) as out:
        out.write(data)
        out.commit()


def file_checksum(fs: Any, path: str, chunk: int = 1 << 22) -> tuple[int, str]:
    """(size, xxh3-64 hex) of a file, streamed."""
    h = xxhash.xxh3_64()
    size = 0
    with fs.open(path, "rb") as f:
        while True:
            data = f.read(chunk)
            if not data:
                break
            h.update(data)
            size += len(data)
    return size, h.hexdigest()


def local_path(url: str) -> str | None:
    """The OS path of a local URL (for memory mapping), or None for remote ones."""
    fs, root = open_fs(url)
    protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
    return root if protocol in ("file", "local") else None

