"""The schema: typed, frozen description of a telemetry stream (see docs/SCHEMA.md).

These classes are the parsed form. ``telecrunch.schema_parse`` builds them from YAML/JSON
documents, checking every constraint with a path-naming error; ``Schema.to_doc`` turns them back
into the canonical document that manifests embed and fingerprints hash.
"""

from __future__ import annotations

from functools import cached_property
from typing import Annotated, Any, Literal

import orjson
import xxhash
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, Strict

from telecrunch.units import format_duration, format_instant, parse_duration, parse_instant


def _as_duration(value: Any) -> int:
    return parse_duration(value)


def _as_instant(value: Any) -> int:
    return parse_instant(value)


Duration = Annotated[int, BeforeValidator(_as_duration)]
Instant = Annotated[int, BeforeValidator(_as_instant)]
# YAML gives lists; the frozen form holds tuples, with strictly typed items.
Texts = Annotated[tuple[Annotated[str, Strict()], ...], Strict(False)]
Numbers = Annotated[tuple[Annotated[float, Strict()], ...], Strict(False)]

SCHEMA_LANGUAGE_VERSION = 1
ALPHABETS = {
    "ascii": "".join(chr(c) for c in range(0x20, 0x7F)),  # printable ASCII, space included
    "alnum": "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
    "alpha": "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
    "digits": "0123456789",
    "hex": "0123456789abcdef",
}
#: Largest code count of a quantized float: beyond 2**48 codes, min + code * resolution in
#: float64 no longer maps back to its code exactly.
MAX_QUANTIZED_BITS = 48


def bits_for(largest_code: int) -> int:
    """Bits needed to store codes 0..largest_code."""
    return int(largest_code).bit_length()


class Spec(BaseModel):
    """Base of all schema objects: immutable, no unknown keys, no silent type coercion, and
    no infinite or NaN numbers."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, allow_inf_nan=False)


class Signal(Spec):
    """How a field's values are generated: a registered signal kind and its parameters."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)
    kind: str
    params: Any  # the kind's own frozen params model (see telecrunch.signals)

    def to_doc(self) -> dict:
        return {"kind": self.kind, **self.params.model_dump(mode="json", exclude_none=True)}


class FieldBase(Spec):
    """Common to every field: its name (the key in its ``fields`` mapping) and signal."""

    name: str = Field("", exclude=True)
    description: str = ""
    signal: Signal | None = None

    @property
    def width(self) -> int:
        """Bits of the packed value (for strings: of the length prefix)."""
        raise NotImplementedError

    def to_doc(self) -> dict:
        doc = self.model_dump(mode="json", exclude={"name", "signal"}, exclude_none=True)
        if not doc.get("description"):
            doc.pop("description", None)
        if self.signal is not None:
            doc["signal"] = self.signal.to_doc()
        return doc


class PerSource(Spec):
    """Per-device variation of a numeric field: each source gets its own offset and gain."""

    offset: float = 0.0  # std of a per-source offset added to the signal
    scale: float = 0.0  # std of a per-source relative gain (value * (1 + g))


class IntField(FieldBase):
    """An integer in [min, max], packed as ``value - min`` in the bits its range needs."""

    type: Literal["int"]
    min: int
    max: int
    bits: int | None = None  # optional explicit width, at least what the range needs
    per_source: PerSource | None = None

    @property
    def width(self) -> int:
        return self.bits if self.bits is not None else bits_for(self.max - self.min)


class BoolField(FieldBase):
    """true/false in one bit."""

    type: Literal["bool"]

    @property
    def width(self) -> int:
        return 1


class EnumField(FieldBase):
    """One of named values, packed as its index; weights bias the default draw."""

    type: Literal["enum"]
    values: Texts
    weights: Numbers | None = None

    @property
    def width(self) -> int:
        return bits_for(len(self.values) - 1)


class TimestampField(FieldBase):
    """An instant in [min, max] (ns since 1970), packed as ``(value - min) // resolution``."""

    type: Literal["timestamp"]
    min: Instant
    max: Instant
    resolution: Duration = 1
    bits: int | None = None

    @property
    def width(self) -> int:
        if self.bits is not None:
            return self.bits
        return bits_for((self.max - self.min) // self.resolution)

    def to_doc(self) -> dict:
        doc = super().to_doc()
        doc["min"] = format_instant(self.min)
        doc["max"] = format_instant(self.max)
        doc["resolution"] = format_duration(self.resolution)
        return doc


class FloatField(FieldBase):
    """A real number in [min, max].

    ``quantized`` (default): packed as the integer code ``round((value - min) / resolution)``;
    ``binary32``/``binary64``: the raw IEEE 754 bits, min and max only bound the generator.
    """

    type: Literal["float"]
    min: float
    max: float
    encoding: Literal["quantized", "binary32", "binary64"] = "quantized"
    resolution: float | None = None
    bits: int | None = None
    per_source: PerSource | None = None

    @property
    def largest_code(self) -> int:
        """Largest quantized code: codes 0..largest_code stand for min + code * resolution."""
        return int(round((self.max - self.min) / self.resolution))

    @property
    def width(self) -> int:
        if self.encoding == "binary32":
            return 32
        if self.encoding == "binary64":
            return 64
        return self.bits if self.bits is not None else bits_for(self.largest_code)


class StringField(FieldBase):
    """Text of 0..max_length characters from an alphabet, packed as a length prefix of
    ``bits_for(max_length)`` bits followed by one symbol index per character."""

    type: Literal["string"]
    max_length: int | None = None  # defaults to the longest of ``values``
    min_length: int = 0
    alphabet: str = "ascii"  # a preset name (see ALPHABETS) or the characters themselves
    values: Texts | None = None
    weights: Numbers | None = None

    @property
    def symbols(self) -> str:
        return ALPHABETS.get(self.alphabet, self.alphabet)

    @property
    def char_bits(self) -> int:
        return bits_for(len(self.symbols) - 1)

    @property
    def length_limit(self) -> int:
        if self.max_length is not None:
            return self.max_length
        return max(len(v) for v in self.values or ("",))

    @property
    def width(self) -> int:
        return bits_for(self.length_limit)


AnyField = IntField | BoolField | EnumField | TimestampField | FloatField | StringField
FIELD_TYPES: dict[str, type[FieldBase]] = {
    "int": IntField,
    "bool": BoolField,
    "enum": EnumField,
    "timestamp": TimestampField,
    "float": FloatField,
    "string": StringField,
}


class Sources(Spec):
    """The population of devices; each has its own time series (see telecrunch.interleave)."""

    count: int = 1
    field: str = "source_id"  # name of the source-ID column, packed in every record
    interleave: Literal["round_robin", "blocked", "shuffled"] = "round_robin"
    block: int = 1  # records per run of one source, with interleave: blocked

    @property
    def width(self) -> int:
        return bits_for(self.count - 1)


class TimeSpec(Spec):
    """Each record's timestamp: source ``s`` reports its ``n``-th record at
    ``start + n * interval + s * interval // sources.count + jitter``, jitter drawn in
    [0, jitter]. Packed as ticks of ``resolution`` since its block's base time, in ``bits``."""

    field: str = "ts"
    start: Instant = 1_767_225_600_000_000_000  # 2026-01-01T00:00:00Z
    interval: Duration = 1_000_000_000
    jitter: Duration = 0
    resolution: Duration = 1
    bits: int | None = None  # default: enough for a default block (see schema_parse)

    def to_doc(self) -> dict:
        return {
            "field": self.field,
            "start": format_instant(self.start),
            "interval": format_duration(self.interval),
            "jitter": format_duration(self.jitter),
            "resolution": format_duration(self.resolution),
            "bits": self.bits,
        }


class Trigger(Spec):
    """Make a record of this kind where a field of the first kind crosses a threshold.

    The record at seq n of a source becomes this kind when the field's value (as the first
    kind would carry it, anomalies included) is beyond the threshold at n but not at n - 1.
    """

    field: str
    above: float | None = None
    below: float | None = None


class Kind(Spec):
    """A record kind (e.g. ``update``, ``event``) with its own fields; its code is its index."""

    name: str
    code: int
    rate: float  # share of records of this kind
    rate_spread: float = 0.0  # std of the log of a per-source factor on the rate
    trigger: Trigger | None = None
    description: str = ""
    fields: tuple[AnyField, ...]

    def to_doc(self, first: bool) -> dict:
        doc: dict[str, Any] = {}
        if not first:
            doc["rate"] = self.rate
            if self.rate_spread:
                doc["rate_spread"] = self.rate_spread
            if self.trigger is not None:
                doc["trigger"] = self.trigger.model_dump(mode="json", exclude_none=True)
        if self.description:
            doc["description"] = self.description
        doc["fields"] = {f.name: f.to_doc() for f in self.fields}
        return doc


Range = Annotated[tuple[Annotated[float, Strict()], Annotated[float, Strict()]], Strict(False)]
IntRange = Annotated[tuple[Annotated[int, Strict()], Annotated[int, Strict()]], Strict(False)]


class Anomaly(Spec):
    """Injected anomalies of one kind on some fields (see telecrunch.anomalies)."""

    kind: Literal["spike", "dip", "level_shift", "drift", "variance", "stuck", "out_of_range",
                  "frequency", "saturation", "late", "dropout"]
    name: str = ""  # the label; default: kind and fields, e.g. spike_temperature
    fields: Texts = ()  # target fields (none for late and dropout)
    rate: float  # chance that a window starts at a given record of a source
    duration: int | IntRange = 1  # records per window: a number or [min, max]
    magnitude: float | Range = 0.0  # field units (a factor for frequency): a number or [min, max]
    direction: Literal["up", "down", "random"] = "up"
    level: float | None = None  # saturation: the value the sensor pins at (default: max)
    delay: Duration = 0  # late: the largest delay
    sources: tuple[Annotated[int, Strict()], ...] | None = Field(None, strict=False)
    share: float = 1.0  # share of sources affected (drawn per source), when no list given

    @property
    def label(self) -> str:
        return self.name or "_".join([self.kind, *self.fields])

    @property
    def duration_range(self) -> tuple[int, int]:
        d = self.duration
        return (d, d) if isinstance(d, int) else (d[0], d[1])

    @property
    def magnitude_range(self) -> tuple[float, float]:
        m = self.magnitude
        return (float(m), float(m)) if isinstance(m, int | float) else (m[0], m[1])

    def to_doc(self) -> dict:
        doc = self.model_dump(mode="json", exclude_none=True)
        doc["name"] = self.label
        if self.kind != "late":
            doc.pop("delay")
        else:
            doc["delay"] = format_duration(self.delay)
        return doc


class Schema(Spec):
    """A whole telemetry schema. Build with ``telecrunch.load_schema``."""

    name: str
    description: str = ""
    sources: Sources
    time: TimeSpec
    kinds: tuple[Kind, ...]
    anomalies: tuple[Anomaly, ...] = ()

    @property
    def header_bits(self) -> int:
        """Bits of the kind code that starts every record."""
        return bits_for(len(self.kinds) - 1)

    def kind(self, name: str) -> Kind:
        for kind in self.kinds:
            if kind.name == name:
                return kind
        raise KeyError(name)

    @cached_property
    def fields(self) -> dict[str, AnyField]:
        """Every declared field by name, across kinds."""
        return {f.name: f for kind in self.kinds for f in kind.fields}

    @cached_property
    def kind_of_field(self) -> dict[str, Kind]:
        return {f.name: kind for kind in self.kinds for f in kind.fields}

    @cached_property
    def majority_kind(self) -> int | None:
        """The code of the kind at least half the records have by its rate (the only kind
        of a one-kind schema), or None."""
        if len(self.kinds) == 1:
            return 0
        top = max(self.kinds, key=lambda kind: kind.rate)
        return top.code if top.rate >= 0.5 else None

    def to_doc(self) -> dict:
        """The canonical document: parses back to an equal Schema."""
        doc: dict[str, Any] = {"telecrunch": SCHEMA_LANGUAGE_VERSION, "name": self.name}
        if self.description:
            doc["description"] = self.description
        doc["sources"] = self.sources.model_dump(mode="json")
        doc["time"] = self.time.to_doc()
        doc["kinds"] = {k.name: k.to_doc(first=i == 0) for i, k in enumerate(self.kinds)}
        if self.anomalies:
            doc["anomalies"] = [a.to_doc() for a in self.anomalies]
        return doc

    @property
    def labels(self) -> tuple[str, ...]:
        """Label names: bit i of a record's label mask is anomaly i."""
        return tuple(a.label for a in self.anomalies)

    @cached_property
    def fingerprint(self) -> str:
        """xxh3-128 of the canonical document (hex): identifies the schema in shards.

        Key order is kept, not sorted: the order of kinds and fields is the record layout.
        """
        canonical = orjson.dumps(self.to_doc())
        return xxhash.xxh3_128_hexdigest(canonical)
