"""One exception hierarchy for everything TeleCrunch reports to a user.

Every user-facing error renders as a single line that names the place, what was expected and
what was given, e.g. ``kinds.update.fields.temp.max: must be > min (-40) (got -50)``. The CLI
prints ``str(error)`` and exits with ``error.exit_code``; no traceback for these.
"""

from __future__ import annotations

from typing import Any

#: Exit status for bad input (schema, job file, flags, corrupt files).
EXIT_BAD_INPUT = 2
#: Exit status of ``verify`` when it finds damage in a dataset.
EXIT_DAMAGED = 3


def show(value: Any) -> str:
    """Render a user-given value compactly for an error message."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


class TeleCrunchError(Exception):
    """Base of all errors TeleCrunch reports to users."""

    exit_code = EXIT_BAD_INPUT

    def __init__(self, place: str, expected: str, got: Any = None, *, has_got: bool = True):
        self.place = place
        self.expected = expected
        self.got = got
        self.has_got = has_got and got is not None
        super().__init__(self.__str__())

    def __str__(self) -> str:
        text = f"{self.place}: {self.expected}" if self.place else self.expected
        if self.has_got:
            text += f" (got {show(self.got)})"
        return text


class SchemaError(TeleCrunchError):
    """A schema file is malformed or contradicts itself."""


class JobError(TeleCrunchError):
    """A job file, CLI flag or API argument is invalid."""


class FormatError(TeleCrunchError):
    """A shard, block or manifest is corrupt, truncated or of an unknown version."""


class DatasetError(TeleCrunchError):
    """A dataset folder cannot be used as asked (missing, different job, incomplete)."""


class ChecksumError(FormatError):
    """Stored and computed checksums differ."""

    def __init__(self, place: str, stored: int, computed: int):
        super().__init__(
            place, f"checksum mismatch: stored {stored:#018x}, computed {computed:#018x}",
            has_got=False,
        )
        self.stored = stored
        self.computed = computed
