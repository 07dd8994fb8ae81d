"""Parsing of durations and instants written in schema and job files.

Durations are integers of nanoseconds or strings such as ``"250ms"``; instants are integers
of nanoseconds since the Unix epoch, ISO 8601 strings (``"2026-01-01T00:00:00Z"``, up to
nanosecond fractions) or the datetime objects YAML makes of unquoted timestamps.
"""

from __future__ import annotations

import datetime as dt
import re

NS_PER = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "min": 60_000_000_000,
    "h": 3_600_000_000_000,
    "d": 86_400_000_000_000,
    "w": 604_800_000_000_000,
}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d*)?)\s*(ns|us|µs|ms|s|min|m|h|d|w)\s*$")
_ISO = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?"
    r"\s*(Z|[+-]\d{2}:?\d{2})?$"
)
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def parse_duration(value: object) -> int:
    """Return a duration in nanoseconds; raise ValueError with the expectation."""
    if isinstance(value, bool):
        raise ValueError("must be a duration such as 10ms or an integer of nanoseconds")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        m = _DURATION.match(value)
        if m:
            number, unit = m.groups()
            whole, _, frac = number.partition(".")
            scale = NS_PER[unit]
            ns = int(whole) * scale
            if frac:
                num = int(frac) * scale
                den = 10 ** len(frac)
                if num % den:
                    raise ValueError("must be a whole number of nanoseconds")
                ns += num // den
            return ns
    raise ValueError("must be a duration such as 10ms, 1s, 1d or an integer of nanoseconds")


def parse_instant(value: object) -> int:
    """Return an instant in nanoseconds since the Unix epoch (UTC)."""
    if isinstance(value, bool):
        raise ValueError("must be an ISO 8601 time or an integer of nanoseconds since 1970")
    if isinstance(value, int):
        return value
    if isinstance(value, dt.datetime):
        when = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        delta = when - _EPOCH
        return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000
    if isinstance(value, dt.date):
        return parse_instant(dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC))
    if isinstance(value, str):
        m = _ISO.match(value.strip())
        if m:
            y, mo, d, hh, mi, ss, frac, tz = m.groups()
            try:
                base = dt.datetime(
                    int(y), int(mo), int(d), int(hh or 0), int(mi or 0), int(ss or 0),
                    tzinfo=dt.UTC,
                )
            except ValueError as exc:
                raise ValueError(f"must be a valid ISO 8601 time ({exc})") from None
            ns = parse_instant(base) + (int(frac.ljust(9, "0")) if frac else 0)
            if tz and tz != "Z":
                sign = 1 if tz[0] == "+" else -1
                digits = tz[1:].replace(":", "")
                offset = (int(digits[:2]) * 60 + int(digits[2:])) * 60_000_000_000
                ns -= sign * offset
            return ns
    raise ValueError("must be an ISO 8601 time such as 2026-01-01T00:00:00Z "
                     "or an integer of nanoseconds since 1970")


def format_instant(ns: int) -> str:
    """ISO 8601 UTC text with nanoseconds, the inverse of parse_instant."""
    seconds, frac = divmod(ns, 1_000_000_000)
    when = _EPOCH + dt.timedelta(seconds=seconds)
    text = when.strftime("%Y-%m-%dT%H:%M:%S")
    if frac:
        text += "." + f"{frac:09d}".rstrip("0")
    return text + "Z"


def format_duration(ns: int) -> str:
    """Shortest exact text for a duration, e.g. 1500000 -> '1500us'."""
    for unit in ("w", "d", "h", "m", "s", "ms", "us"):
        if ns and ns % NS_PER[unit] == 0:
            return f"{ns // NS_PER[unit]}{unit}"
    return f"{ns}ns"
