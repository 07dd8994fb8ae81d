"""Build a validated ``Schema`` from a document, or fail with one path-naming error.

Structure and types are checked by the pydantic models one level at a time, so that every
error carries its full path (``kinds.update.fields.temp.resolution``); relations between values
(min <= max, widths, weights, rates, signals against their field) are checked here after.
"""

from __future__ import annotations

import math
import re
from typing import Any

from pydantic import BaseModel, ValidationError

from telecrunch.errors import SchemaError
from telecrunch.schema import (
    ALPHABETS,
    FIELD_TYPES,
    MAX_QUANTIZED_BITS,
    SCHEMA_LANGUAGE_VERSION,
    Anomaly,
    EnumField,
    FieldBase,
    FloatField,
    IntField,
    Kind,
    Schema,
    Signal,
    Sources,
    Spec,
    StringField,
    TimeSpec,
    TimestampField,
    Trigger,
    bits_for,
)
from telecrunch.signals import SIGNALS, default_signal

NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
RESERVED = {"id", "kind"}
MAX_KINDS = 256
MAX_STRING_LENGTH = 65535
MAX_SOURCES = 1 << 32


def _join(path: str, *parts: Any) -> str:
    return ".".join([path, *map(str, parts)] if path else map(str, parts))


def _fail(path: str, expected: str, got: Any = None, *, has_got: bool = True) -> SchemaError:
    return SchemaError(path, expected, got, has_got=has_got)


def _validate(model: type[BaseModel], data: Any, path: str, context: str = "") -> Any:
    """Validate one level with pydantic; turn its first error into a SchemaError."""
    if not isinstance(data, dict):
        raise _fail(path or "schema", f"must be a mapping{context}", data)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        kind = err["type"]
        place = _join(path, *_document_loc(data, err["loc"], kind == "missing"))
        if kind == "missing":
            raise _fail(place, "is required", has_got=False) from None
        if kind == "extra_forbidden":
            allowed = ", ".join(f.alias or k for k, f in model.model_fields.items() if k != "name")
            raise _fail(place, f"unknown key (expected one of: {allowed})", has_got=False) from None
        message = err["msg"]
        if message.startswith("Value error, "):
            message = message[len("Value error, "):]
        message = message.replace("Input should be", "must be").replace("a valid tuple", "a list")
        raise _fail(place, message, err.get("input")) from None


def _document_loc(data: Any, loc: tuple, missing: bool) -> list:
    """The parts of a pydantic error location that are keys or indexes of the document;
    drops the member tags pydantic adds inside unions (``min.int`` becomes ``min``)."""
    parts = []
    for i, part in enumerate(loc):
        if isinstance(data, dict) and part in data:
            data = data[part]
        elif isinstance(data, list | tuple) and isinstance(part, int) and 0 <= part < len(data):
            data = data[part]
        elif not (missing and i == len(loc) - 1):
            continue
        parts.append(part)
    return parts


def _check_name(name: Any, path: str) -> None:
    if not isinstance(name, str) or not NAME.match(name):
        raise _fail(path, "names must be identifiers: a letter or _, then letters, digits or _",
                    name)
    if name in RESERVED:
        raise _fail(path, f"is a reserved column name ({', '.join(sorted(RESERVED))})", name)


# ---- top level ----

class _Top(Spec):
    telecrunch: int = SCHEMA_LANGUAGE_VERSION
    name: str
    description: str = ""
    sources: dict = {}
    time: dict = {}
    kinds: dict
    anomalies: list = []


class _KindDoc(Spec):
    rate: float | None = None
    rate_spread: float = 0.0
    trigger: dict | None = None
    description: str = ""
    fields: dict


def parse_schema(doc: Any) -> Schema:
    """Validate a schema document (a dict from YAML or JSON) into a ``Schema``."""
    top = _validate(_Top, doc, "")
    if top.telecrunch != SCHEMA_LANGUAGE_VERSION:
        raise _fail("telecrunch", f"schema language version must be {SCHEMA_LANGUAGE_VERSION}",
                    top.telecrunch)
    if not top.name.strip():
        raise _fail("name", "must not be empty", top.name)
    sources = _validate(Sources, top.sources, "sources")
    if not 1 <= sources.count <= MAX_SOURCES:
        raise _fail("sources.count", f"must be between 1 and {MAX_SOURCES}", sources.count)
    if sources.interleave == "shuffled" and sources.count > 2**31:
        raise _fail("sources.count", "must be at most 2**31 with interleave: shuffled",
                    sources.count)
    if not 1 <= sources.block <= 2**20:
        raise _fail("sources.block", "must be between 1 and 2**20", sources.block)
    _check_name(sources.field, "sources.field")
    time = _parse_time(top.time)
    if not top.kinds:
        raise _fail("kinds", "must declare at least one record kind", top.kinds)
    if len(top.kinds) > MAX_KINDS:
        raise _fail("kinds", f"must declare at most {MAX_KINDS} kinds", len(top.kinds))

    seen: dict[str, str] = {sources.field: "sources.field"}
    if time.field in seen:
        raise _fail("time.field", "duplicate name: already used by sources.field", time.field)
    seen[time.field] = "time.field"
    kinds = []
    rest = 1.0
    for code, (kind_name, kind_doc) in enumerate(top.kinds.items()):
        path = _join("kinds", kind_name)
        _check_name(kind_name, path)
        raw = _validate(_KindDoc, kind_doc, path)
        if code == 0:
            if raw.rate is not None:
                raise _fail(_join(path, "rate"), "the first kind takes the share the others "
                            "leave; give rate to the other kinds only", raw.rate)
        else:
            if raw.rate is None:
                raise _fail(_join(path, "rate"), "is required: the share of records of this kind",
                            has_got=False)
            if not 0 < raw.rate <= 1:
                raise _fail(_join(path, "rate"), "must be in (0, 1]", raw.rate)
            rest -= raw.rate
            if rest < -1e-12:
                raise _fail(_join(path, "rate"), "rates of all kinds after the first must sum "
                            "to at most 1", raw.rate)
        if raw.rate_spread and (code == 0 or not 0 <= raw.rate_spread <= 3):
            raise _fail(_join(path, "rate_spread"), "applies to kinds after the first, in [0, 3]",
                        raw.rate_spread)
        fields = []
        for field_name, field_doc in raw.fields.items():
            fpath = _join(path, "fields", field_name)
            _check_name(field_name, fpath)
            if field_name in seen:
                raise _fail(fpath, f"duplicate name: already used by {seen[field_name]}",
                            field_name)
            seen[field_name] = fpath
            fields.append(_parse_field(field_name, field_doc, fpath, time, fields))
        trigger = None
        if raw.trigger is not None:
            trigger = _parse_trigger(raw.trigger, _join(path, "trigger"), code, kinds)
        kinds.append(dict(name=kind_name, code=code, rate=raw.rate, rate_spread=raw.rate_spread,
                          trigger=trigger, description=raw.description, fields=tuple(fields)))
    kinds[0]["rate"] = max(rest, 0.0)
    kinds_ = tuple(Kind(**k) for k in kinds)
    anomalies = _parse_anomalies(top.anomalies, kinds_, time, sources)
    if time.bits is None:
        time = time.model_copy(update={"bits": default_time_bits(time, sources, anomalies)})
    return Schema(name=top.name, description=top.description, sources=sources, time=time,
                  kinds=kinds_, anomalies=anomalies)


#: Records per block the default timestamp width is sized for (the default block size).
TIME_BITS_BLOCK = 65536


def default_time_bits(time: TimeSpec, sources: Sources, anomalies: tuple) -> int:
    """Bits for the ticks of a block of TIME_BITS_BLOCK records: its slots, a source's phase,
    jitter, the deepest late delay and the longest dropout."""
    per_source = -(-TIME_BITS_BLOCK // sources.count) + sources.block + 1
    span = per_source * time.interval + time.jitter
    for spec in anomalies:
        if spec.kind == "late":
            span += spec.delay
        elif spec.kind == "dropout":
            span += spec.duration_range[1] * time.interval
    return min(64, bits_for(span // time.resolution))


def _parse_trigger(doc: Any, path: str, code: int, kinds: list[dict]) -> Trigger:
    trigger = _validate(Trigger, doc, path)
    if code == 0:
        raise _fail(path, "applies to kinds after the first (it turns first-kind records into "
                    "this kind)", has_got=False)
    first = {f.name: f for f in kinds[0]["fields"]}
    field = first.get(trigger.field)
    if not isinstance(field, IntField | FloatField):
        names = ", ".join(n for n, f in first.items() if isinstance(f, IntField | FloatField))
        raise _fail(_join(path, "field"), f"must be a numeric field of the first kind ({names})",
                    trigger.field)
    if (trigger.above is None) == (trigger.below is None):
        raise _fail(path, "needs exactly one of above or below", has_got=False)
    return trigger


def _parse_time(doc: Any) -> TimeSpec:
    time = _validate(TimeSpec, doc, "time")
    _check_name(time.field, "time.field")
    if time.resolution <= 0:
        raise _fail("time.resolution", "must be > 0", time.resolution)
    if time.interval <= 0:
        raise _fail("time.interval", "must be > 0", time.interval)
    for key in ("start", "interval", "jitter"):
        if getattr(time, key) % time.resolution:
            raise _fail(f"time.{key}", f"must be a whole number of time.resolution "
                        f"({time.resolution} ns)", getattr(time, key))
    if not 0 <= time.jitter < time.interval:
        raise _fail("time.jitter", f"must be >= 0 and < time.interval ({time.interval} ns) so "
                    "each source's timestamps keep increasing", time.jitter)
    if time.bits is not None and not 1 <= time.bits <= 64:
        raise _fail("time.bits", "must be between 1 and 64", time.bits)
    return time


# ---- fields ----

def _parse_field(name: str, doc: Any, path: str, time: TimeSpec,
                 before: list[FieldBase]) -> FieldBase:
    if not isinstance(doc, dict):
        raise _fail(path, "must be a mapping with a type", doc)
    if "type" not in doc:
        raise _fail(_join(path, "type"), f"is required (one of: {', '.join(FIELD_TYPES)})",
                    has_got=False)
    ftype = doc["type"]
    if ftype not in FIELD_TYPES:
        raise _fail(_join(path, "type"), f"must be one of: {', '.join(FIELD_TYPES)}", ftype)
    body = {k: v for k, v in doc.items() if k != "signal"}
    field = _validate(FIELD_TYPES[ftype], body, path)
    field = field.model_copy(update={"name": name})
    _CHECKS[ftype](field, path)
    per_source = getattr(field, "per_source", None)
    if per_source is not None:
        for key in ("offset", "scale"):
            value = getattr(per_source, key)
            if not math.isfinite(value) or value < 0:
                raise _fail(_join(path, "per_source", key), "must be a finite std >= 0", value)
    signal = _parse_signal(field, doc.get("signal"), _join(path, "signal"), before)
    return field.model_copy(update={"signal": signal})


def _check_range(field: Any, path: str, span: int) -> None:
    """Shared by int and timestamp: span is the largest code; bits must hold it."""
    need = bits_for(span)
    if need > 64:
        raise _fail(_join(path, "max"), "range needs more than 64 bits", need)
    for key in ("min", "max"):  # values are held as int64
        if not -(2**63) <= getattr(field, key) < 2**63:
            raise _fail(_join(path, key), "must fit a signed 64-bit integer "
                        "(-2**63 to 2**63 - 1)", getattr(field, key))
    if field.bits is not None and not need <= field.bits <= 64:
        raise _fail(_join(path, "bits"), f"must be between {need} (what the range needs) and 64",
                    field.bits)


def _check_int(field: IntField, path: str) -> None:
    if field.min > field.max:
        raise _fail(_join(path, "max"), f"must be >= min ({field.min})", field.max)
    _check_range(field, path, field.max - field.min)


def _check_bool(field: Any, path: str) -> None:
    pass


def _check_weights(weights: tuple[float, ...] | None, count: int, path: str) -> None:
    if weights is None:
        return
    if len(weights) != count:
        raise _fail(_join(path, "weights"), f"must have one weight per value ({count})",
                    len(weights))
    if any(not math.isfinite(w) or w < 0 for w in weights) or sum(weights) <= 0:
        raise _fail(_join(path, "weights"), "must be finite, >= 0 and not all 0", list(weights))


def _check_enum(field: EnumField, path: str) -> None:
    if not field.values:
        raise _fail(_join(path, "values"), "must list at least one value", list(field.values))
    if len(set(field.values)) != len(field.values):
        dup = next(v for v in field.values if field.values.count(v) > 1)
        raise _fail(_join(path, "values"), "must not repeat a value", dup)
    _check_weights(field.weights, len(field.values), path)


def _check_timestamp(field: TimestampField, path: str) -> None:
    if field.resolution <= 0:
        raise _fail(_join(path, "resolution"), "must be > 0", field.resolution)
    if field.min > field.max:
        raise _fail(_join(path, "max"), f"must be >= min ({field.min})", field.max)
    _check_range(field, path, (field.max - field.min) // field.resolution)


def _check_float(field: FloatField, path: str) -> None:
    if field.min > field.max:
        raise _fail(_join(path, "max"), f"must be >= min ({field.min})", field.max)
    if not math.isfinite(field.max - field.min):
        raise _fail(_join(path, "max"), "max - min must be at most the largest double "
                    "(about 1.8e308)", field.max)
    if field.encoding != "quantized":
        for key in ("resolution", "bits"):
            if getattr(field, key) is not None:
                raise _fail(_join(path, key), f"applies to quantized floats only, not "
                            f"{field.encoding}", getattr(field, key))
        if field.encoding == "binary32" and max(abs(field.min), abs(field.max)) > 3.4028234e38:
            raise _fail(_join(path, "max"), "must fit binary32 (|x| <= 3.4028234e38)", field.max)
        return
    if field.resolution is None:
        raise _fail(_join(path, "resolution"), "is required for a quantized float "
                    "(or set encoding: binary32 or binary64)", has_got=False)
    if not field.resolution > 0:
        raise _fail(_join(path, "resolution"), "must be > 0", field.resolution)
    if not math.isfinite((field.max - field.min) / field.resolution):
        raise _fail(_join(path, "resolution"), f"is too fine: (max - min) / resolution "
                    f"overflows, quantized floats hold at most {MAX_QUANTIZED_BITS} bits",
                    field.resolution)
    need = bits_for(field.largest_code)
    if need > MAX_QUANTIZED_BITS:
        raise _fail(_join(path, "resolution"), f"is too fine: (max - min) / resolution needs "
                    f"{need} bits, quantized floats hold at most {MAX_QUANTIZED_BITS}",
                    field.resolution)
    if field.bits is not None and not need <= field.bits <= 64:
        raise _fail(_join(path, "bits"), f"must be between {need} (what (max - min) / "
                    "resolution needs) and 64", field.bits)


def _check_string(field: StringField, path: str) -> None:
    symbols = field.symbols
    if field.alphabet not in ALPHABETS:
        if not symbols:
            raise _fail(_join(path, "alphabet"), f"must be a preset ({', '.join(ALPHABETS)}) or "
                        "the characters themselves", field.alphabet)
        if not symbols.isascii() or not symbols.isprintable():
            raise _fail(_join(path, "alphabet"), "characters must be printable ASCII",
                        field.alphabet)
        if len(set(symbols)) != len(symbols):
            raise _fail(_join(path, "alphabet"), "must not repeat a character", field.alphabet)
    if field.max_length is None and not field.values:
        raise _fail(_join(path, "max_length"), "is required unless values are listed",
                    has_got=False)
    limit = field.length_limit
    if not 0 <= limit <= MAX_STRING_LENGTH:
        raise _fail(_join(path, "max_length"), f"must be between 0 and {MAX_STRING_LENGTH}",
                    limit)
    if not 0 <= field.min_length <= limit:
        raise _fail(_join(path, "min_length"), f"must be between 0 and max_length ({limit})",
                    field.min_length)
    if field.values is not None:
        if not field.values:
            raise _fail(_join(path, "values"), "must list at least one value", [])
        for i, value in enumerate(field.values):
            if len(value) > limit:
                raise _fail(_join(path, "values", i), f"is longer than max_length ({limit})",
                            value)
            bad = [c for c in value if c not in symbols]
            if bad:
                raise _fail(_join(path, "values", i), f"has a character outside the alphabet "
                            f"({bad[0]!r})", value)
        _check_weights(field.weights, len(field.values), path)
    elif field.weights is not None:
        raise _fail(_join(path, "weights"), "needs values to weigh", list(field.weights))


_CHECKS = {
    "int": _check_int,
    "bool": _check_bool,
    "enum": _check_enum,
    "timestamp": _check_timestamp,
    "float": _check_float,
    "string": _check_string,
}


# ---- signals ----

def _parse_signal(field: FieldBase, doc: Any, path: str, before: list[FieldBase]) -> Signal:
    if doc is None:
        kind, params = default_signal(field)
    elif isinstance(doc, str):
        kind, params = doc, {}
    elif isinstance(doc, dict):
        if "kind" not in doc:
            raise _fail(_join(path, "kind"), f"is required (one of: {', '.join(SIGNALS)})",
                        has_got=False)
        kind, params = doc["kind"], {k: v for k, v in doc.items() if k != "kind"}
    else:
        raise _fail(path, "must be a signal name or a mapping with a kind", doc)
    if kind not in SIGNALS:
        raise _fail(_join(path, "kind"), f"must be one of: {', '.join(SIGNALS)}", kind)
    entry = SIGNALS[kind]
    if not isinstance(field, entry.types):
        allowed = ", ".join(t.model_fields["type"].annotation.__args__[0] for t in entry.types)
        raise _fail(_join(path, "kind"), f"signal {kind} applies to fields of type {allowed}, "
                    f"not {field.type}", kind)
    parsed = _validate(entry.params, params, path)
    _check_signal(field, kind, parsed, path)
    if kind == "derived":
        _check_expression(parsed.expr, _join(path, "expr"), before)
    if kind == "template":
        _check_template(parsed.text, _join(path, "text"), field, before)
    return Signal(kind=kind, params=parsed)


def _check_expression(text: str, path: str, before: list[FieldBase]) -> None:
    from telecrunch.expr import BUILTIN_NAMES, ExprError, compile_expression

    usable = {f.name for f in before if not isinstance(f, StringField)} | set(BUILTIN_NAMES)
    try:
        compile_expression(text, usable)
    except ExprError as exc:
        raise _fail(path, f"{exc} (fields declared before this one in its kind may be used)",
                    text) from None


def _check_template(text: str, path: str, field: StringField, before: list[FieldBase]) -> None:
    from telecrunch.signals import template_names

    usable = {f.name for f in before} | {"source", "seq", "id"}
    try:
        names = template_names(text)
    except ValueError as exc:
        raise _fail(path, f"is not a valid template ({exc})", text) from None
    unknown = [n for n in names if n not in usable]
    if unknown:
        raise _fail(path, f"unknown placeholder {{{unknown[0]}}} (usable: "
                    f"{', '.join(sorted(usable))})", text)
    if not set(ALPHABETS["ascii"]).issuperset(text) or any(
            c not in field.symbols for c in _template_literal(text)):
        raise _fail(path, "literal text must use characters of the field's alphabet", text)


def _template_literal(text: str) -> str:
    import string

    return "".join(lit for lit, _, _, _ in string.Formatter().parse(text))


# ---- anomalies ----

def _parse_anomalies(docs: list, kinds: tuple[Kind, ...], time: TimeSpec,
                     sources: Sources) -> tuple[Anomaly, ...]:
    from telecrunch.anomalies import TIME_KINDS, epoch_length, extent

    if len(docs) > 64:
        raise _fail("anomalies", "at most 64 anomaly specs (one label bit each)", len(docs))
    fields = {f.name: f for k in kinds for f in k.fields}
    parsed: list[Anomaly] = []
    labels: dict[str, str] = {}
    for i, doc in enumerate(docs):
        path = f"anomalies.{i}"
        spec = _validate(Anomaly, doc, path)
        if not 0 < spec.rate <= 1:
            raise _fail(_join(path, "rate"), "must be in (0, 1]", spec.rate)
        dmin, dmax = spec.duration_range
        if not 1 <= dmin <= dmax:
            raise _fail(_join(path, "duration"), "must be >= 1 (a [min, max] range: min <= max)",
                        spec.duration)
        lo, hi = spec.magnitude_range
        if not (math.isfinite(lo) and math.isfinite(hi) and 0 <= lo <= hi):
            raise _fail(_join(path, "magnitude"), "must be >= 0 (a [min, max] range: min <= max)",
                        spec.magnitude)
        if spec.kind == "frequency" and lo <= 0:
            raise _fail(_join(path, "magnitude"), "is the frequency factor: must be > 0",
                        spec.magnitude)
        if spec.kind in TIME_KINDS:
            if spec.fields:
                raise _fail(_join(path, "fields"), f"{spec.kind} moves timestamps: it takes no "
                            "fields", list(spec.fields))
        elif not spec.fields:
            raise _fail(_join(path, "fields"), f"{spec.kind} needs at least one target field",
                        has_got=False)
        for j, name in enumerate(spec.fields):
            field = fields.get(name)
            if not isinstance(field, IntField | FloatField):
                numeric = ", ".join(n for n, f in fields.items()
                                    if isinstance(f, IntField | FloatField))
                raise _fail(_join(path, "fields", j), f"must be a numeric field ({numeric})",
                            name)
            if spec.kind == "frequency" and field.signal.kind != "sine":
                raise _fail(_join(path, "fields", j), "frequency anomalies need a sine signal "
                            f"(the field's signal is {field.signal.kind})", name)
            if spec.kind == "saturation" and spec.level is not None and \
                    not field.min <= spec.level <= field.max:
                raise _fail(_join(path, "level"), f"must lie in the range of {name} "
                            f"[{field.min}, {field.max}]", spec.level)
        if spec.kind == "late" and spec.delay <= time.interval:
            raise _fail(_join(path, "delay"), f"must be longer than time.interval "
                        f"({time.interval} ns) to put records out of order", spec.delay)
        if spec.kind == "dropout" and 2 * time.jitter >= time.interval:
            raise _fail(_join(path, "kind"), "dropout needs time.jitter below half of "
                        "time.interval (records after a gap come a tenth of an interval early "
                        "per overlapping gap)", spec.kind)
        if spec.rate * epoch_length(spec) > 6 or spec.rate * extent(spec, dmax) > 0.5:
            raise _fail(_join(path, "rate"), "rate x duration is too high: windows would cover "
                        "most records", spec.rate)
        if spec.sources is not None:
            bad = [s for s in spec.sources if not 0 <= s < sources.count]
            if bad or not spec.sources:
                raise _fail(_join(path, "sources"), f"must list source IDs in [0, "
                            f"{sources.count})", bad[0] if bad else [])
        if not 0 < spec.share <= 1:
            raise _fail(_join(path, "share"), "must be in (0, 1]", spec.share)
        if spec.label in labels:
            raise _fail(_join(path, "name"), "duplicate label: already used by "
                        f"{labels[spec.label]}", spec.label)
        _check_name(spec.label, _join(path, "name"))
        labels[spec.label] = path
        parsed.append(spec)
    return tuple(parsed)


def _check_signal(field: Any, kind: str, p: Any, path: str) -> None:
    """Checks that relate a signal's parameters to its field."""
    if kind == "constant":
        _check_constant(field, p.value, _join(path, "value"))
    lo_hi = [k for k in ("min", "max") if getattr(p, k, None) is not None]
    for key in lo_hi:
        value = getattr(p, key)
        if not field.min <= value <= field.max:
            raise _fail(_join(path, key), f"must lie in the field's range [{field.min}, "
                        f"{field.max}]", value)
    if len(lo_hi) == 2 and p.min > p.max:
        raise _fail(_join(path, "max"), f"must be >= min ({p.min})", p.max)
    if kind in ("sequence", "random_walk") and p.start is not None:
        lo = getattr(p, "min", None)
        hi = getattr(p, "max", None)
        lo = field.min if lo is None else lo
        hi = field.max if hi is None else hi
        if not lo <= p.start <= hi:
            raise _fail(_join(path, "start"), f"must lie in [{lo}, {hi}]", p.start)
    if kind == "categorical":
        _check_weights(p.weights, len(field.values), path)
    if kind == "sine" and p.period <= 0:
        raise _fail(_join(path, "period"), "must be > 0", p.period)
    if kind == "choice" and not field.values:
        raise _fail(_join(path, "kind"), "choice needs the field to list values", kind)


def _check_constant(field: Any, value: Any, path: str) -> None:
    if isinstance(field, EnumField):
        if value not in field.values:
            raise _fail(path, f"must be one of the values ({', '.join(field.values)})", value)
    elif isinstance(field, StringField):
        if not isinstance(value, str) or len(value) > field.length_limit or any(
                c not in field.symbols for c in value):
            raise _fail(path, f"must be a string of at most {field.length_limit} characters of "
                        "the alphabet", value)
    elif field.type == "bool":
        if not isinstance(value, bool):
            raise _fail(path, "must be true or false", value)
    else:
        numeric = isinstance(value, int | float) and not isinstance(value, bool)
        if isinstance(field, IntField | TimestampField) and not isinstance(value, int):
            numeric = False
        if not numeric or not field.min <= value <= field.max:
            raise _fail(path, f"must be a number in [{field.min}, {field.max}]", value)
