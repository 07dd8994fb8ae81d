"""Every invalid schema gets one SchemaError naming the path, the expectation and the value;
``telecrunch validate`` turns it into one line on stderr and exit status 2."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from telecrunch import load_schema
from telecrunch.errors import SchemaError
from telecrunch.schema_parse import parse_schema

REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / "jobs" / "demo_schema.yaml"

BASE = {
    "telecrunch": 1,
    "name": "base",
    "sources": {"count": 4, "field": "device"},
    "time": {"field": "ts", "start": "2026-01-01T00:00:00Z", "interval": "1s",
             "jitter": "10ms", "resolution": "1us", "bits": 40},
    "kinds": {
        "update": {
            "fields": {
                "temp": {"type": "float", "min": -40, "max": 125, "resolution": 0.01},
                "count": {"type": "int", "min": 0, "max": 1000},
                "state": {"type": "enum", "values": ["ok", "bad"]},
                "up": {"type": "bool"},
            },
        },
        "event": {
            "rate": 0.1,
            "fields": {
                "label": {"type": "string", "max_length": 8, "alphabet": "alnum"},
                "seen": {"type": "timestamp", "min": "2025-01-01T00:00:00Z",
                         "max": "2026-01-01T00:00:00Z", "resolution": "1ms"},
            },
        },
    },
}


def fields(doc, kind="update"):
    return doc["kinds"][kind]["fields"]


def put(field: str, kind: str = "update", **changes):
    """A mutation that updates one field's mapping."""
    return lambda d: fields(d, kind)[field].update(changes)


def new_field(name: str, spec, kind: str = "update"):
    return lambda d: fields(d, kind).__setitem__(name, spec)


def signal(field: str, spec, kind: str = "update"):
    return put(field, kind, signal=spec)


def drop(*keys: str):
    def mutate(d):
        node = d
        for key in keys[:-1]:
            node = node[key]
        del node[keys[-1]]
    return mutate


def set_top(key: str, value):
    return lambda d: d.__setitem__(key, value)


def set_time(**changes):
    return lambda d: d["time"].update(changes)


def set_sources(**changes):
    return lambda d: d["sources"].update(changes)


def add_kind(name: str, spec):
    return lambda d: d["kinds"].__setitem__(name, spec)


U = "kinds.update.fields"
E = "kinds.event.fields"
BOOL = {"type": "bool"}

# (id, mutation, exact error path, fragment of the message)
CASES = [
    # ranges and widths
    ("int-min-above-max", put("count", min=5000), f"{U}.count.max", "must be >= min (5000)"),
    ("float-min-above-max", put("temp", min=200.0), f"{U}.temp.max", "must be >= min"),
    ("timestamp-min-above-max", put("seen", "event", min="2027-01-01T00:00:00Z"),
     f"{E}.seen.max", "must be >= min"),
    ("float-resolution-zero", put("temp", resolution=0.0), f"{U}.temp.resolution", "must be > 0"),
    ("float-resolution-negative", put("temp", resolution=-0.1), f"{U}.temp.resolution",
     "must be > 0 (got -0.1)"),
    ("float-resolution-finer-than-48-bits", put("temp", resolution=1e-13),
     f"{U}.temp.resolution", "quantized floats hold at most 48"),
    ("float-resolution-overflows", put("temp", max=1e300, resolution=1e-300),
     f"{U}.temp.resolution", "too fine"),
    ("float-quantized-needs-resolution", drop("kinds", "update", "fields", "temp", "resolution"),
     f"{U}.temp.resolution", "is required for a quantized float"),
    ("float-bits-too-small", put("temp", bits=8), f"{U}.temp.bits", "must be between 15"),
    ("float-bits-over-64", put("temp", bits=65), f"{U}.temp.bits", "and 64 (got 65)"),
    ("float-infinite-max", put("temp", max=float("inf")), f"{U}.temp.max", "finite"),
    ("float-span-overflows", put("temp", encoding="binary64", resolution=None, min=-1.7e308,
                                 max=1.7e308), f"{U}.temp.max", "largest double"),
    ("binary32-resolution", put("temp", encoding="binary32"), f"{U}.temp.resolution",
     "applies to quantized floats only"),
    ("binary32-out-of-range", put("temp", encoding="binary32", resolution=None, max=1e39),
     f"{U}.temp.max", "must fit binary32"),
    ("float-unknown-encoding", put("temp", encoding="binary16"), f"{U}.temp.encoding",
     "'quantized', 'binary32' or 'binary64'"),
    ("int-bits-too-small", put("count", bits=4), f"{U}.count.bits",
     "must be between 10 (what the range needs) and 64 (got 4)"),
    ("int-bits-over-64", put("count", bits=65), f"{U}.count.bits", "and 64 (got 65)"),
    ("int-range-over-64-bits", put("count", min=-(2**63), max=2**63), f"{U}.count.max",
     "range needs more than 64 bits"),
    ("int-outside-int64", put("count", min=2**64, max=2**64 + 5), f"{U}.count.min",
     "must fit a signed 64-bit integer"),
    ("timestamp-resolution-zero", put("seen", "event", resolution=0), f"{E}.seen.resolution",
     "must be > 0"),
    ("timestamp-bits-too-small", put("seen", "event", bits=8), f"{E}.seen.bits",
     "what the range needs"),
    # names
    ("duplicate-field-across-kinds", new_field("temp", BOOL, "event"), f"{E}.temp",
     "duplicate name: already used by kinds.update.fields.temp"),
    ("field-named-like-time-field", new_field("ts", BOOL), f"{U}.ts",
     "already used by time.field"),
    ("field-named-like-source-field", new_field("device", BOOL), f"{U}.device",
     "already used by sources.field"),
    ("time-field-equals-source-field", set_time(field="device"), "time.field",
     "already used by sources.field"),
    ("reserved-field-id", new_field("id", BOOL), f"{U}.id", "reserved column name"),
    ("reserved-field-kind", new_field("kind", BOOL), f"{U}.kind", "reserved column name"),
    ("reserved-kind-name", add_kind("id", {"rate": 0.1, "fields": {"x": BOOL}}), "kinds.id",
     "reserved column name"),
    ("field-name-not-identifier", new_field("2fast", BOOL), f"{U}.2fast",
     "names must be identifiers"),
    ("field-name-with-dash", new_field("a-b", BOOL), f"{U}.a-b", "names must be identifiers"),
    ("source-field-not-identifier", set_sources(field="dev ice"), "sources.field",
     "names must be identifiers"),
    # unknown and missing keys at every level, wrong types
    ("unknown-top-key", set_top("colour", "red"), "colour", "unknown key (expected one of:"),
    ("unknown-sources-key", set_sources(colour=1), "sources.colour", "unknown key"),
    ("unknown-time-key", set_time(tick="1s"), "time.tick", "unknown key"),
    ("unknown-kind-key", lambda d: d["kinds"]["update"].update(colour=1), "kinds.update.colour",
     "unknown key (expected one of: rate"),
    ("unknown-field-key", put("count", colour=1), f"{U}.count.colour", "unknown key"),
    ("unknown-signal-key", signal("count", {"kind": "uniform", "colour": 1}),
     f"{U}.count.signal.colour", "unknown key (expected one of: min, max)"),
    ("missing-name", drop("name"), "name", "is required"),
    ("missing-kinds", drop("kinds"), "kinds", "is required"),
    ("missing-kind-fields", add_kind("alarm", {"rate": 0.1}), "kinds.alarm.fields", "is required"),
    ("missing-field-type", drop("kinds", "update", "fields", "count", "type"),
     f"{U}.count.type", "is required (one of: int, bool, enum"),
    ("missing-int-min", drop("kinds", "update", "fields", "count", "min"), f"{U}.count.min",
     "is required"),
    ("missing-normal-mean", signal("count", {"kind": "normal", "std": 1}),
     f"{U}.count.signal.mean", "is required"),
    ("missing-signal-kind", signal("count", {"step": 1}), f"{U}.count.signal.kind",
     "is required (one of: constant"),
    ("int-min-is-text", put("count", min="zero"), f"{U}.count.min", "must be a valid integer"),
    ("int-min-is-float", put("count", min=1.5), f"{U}.count.min", "must be a valid integer"),
    ("int-min-is-bool", put("count", min=True), f"{U}.count.min", "must be a valid integer"),
    ("name-is-number", set_top("name", 5), "name", "must be a valid string"),
    ("name-is-blank", set_top("name", "  "), "name", "must not be empty"),
    ("language-version", set_top("telecrunch", 2), "telecrunch",
     "schema language version must be 1"),
    ("kinds-is-list", set_top("kinds", ["update"]), "kinds", "must be a valid dictionary"),
    ("kinds-empty", set_top("kinds", {}), "kinds", "at least one record kind"),
    ("too-many-kinds", set_top("kinds", {f"k{i}": {"fields": {f"f{i}": BOOL},
                                                   **({"rate": 0.001} if i else {})}
                                         for i in range(257)}),
     "kinds", "at most 256 kinds"),
    ("field-not-mapping", new_field("x", 5), f"{U}.x", "must be a mapping with a type"),
    ("time-not-mapping", set_top("time", [1]), "time", "must be a valid dictionary"),
    ("sources-count-zero", set_sources(count=0), "sources.count", "must be between 1 and"),
    ("sources-count-text", set_sources(count="many"), "sources.count", "must be a valid integer"),
    ("description-not-text", put("count", description=3), f"{U}.count.description",
     "must be a valid string"),
    # enums and weights
    ("enum-no-values", put("state", values=[]), f"{U}.state.values",
     "must list at least one value"),
    ("enum-duplicate-values", put("state", values=["ok", "bad", "ok"]), f"{U}.state.values",
     "must not repeat a value (got 'ok')"),
    ("enum-values-not-list", put("state", values="ok"), f"{U}.state.values", "must be a list"),
    ("enum-value-not-text", put("state", values=["ok", 7]), f"{U}.state.values.1",
     "must be a valid string"),
    ("enum-weights-count", put("state", weights=[1.0]), f"{U}.state.weights",
     "one weight per value (2) (got 1)"),
    ("enum-weights-negative", put("state", weights=[1.0, -1.0]), f"{U}.state.weights",
     ">= 0 and not all 0"),
    ("enum-weights-all-zero", put("state", weights=[0.0, 0.0]), f"{U}.state.weights",
     "not all 0"),
    ("enum-weight-nan", put("state", weights=[1.0, float("nan")]), f"{U}.state.weights.1",
     "must be a finite number"),
    ("categorical-weights-count", signal("state", {"kind": "categorical", "weights": [1, 2, 3]}),
     f"{U}.state.signal.weights", "one weight per value (2) (got 3)"),
    # strings
    ("string-max-length-missing", drop("kinds", "event", "fields", "label", "max_length"),
     f"{E}.label.max_length", "is required unless values are listed"),
    ("string-max-length-huge", put("label", "event", max_length=70000), f"{E}.label.max_length",
     "must be between 0 and 65535"),
    ("string-min-over-max", put("label", "event", min_length=9), f"{E}.label.min_length",
     "must be between 0 and max_length (8) (got 9)"),
    ("string-value-too-long", put("label", "event", values=["abc", "abcdefghij"]),
     f"{E}.label.values.1", "is longer than max_length (8)"),
    ("string-value-outside-alphabet", put("label", "event", alphabet="hex", values=["beef", "xyz"]),
     f"{E}.label.values.1", "character outside the alphabet ('x')"),
    ("string-alphabet-repeats", put("label", "event", alphabet="abca"), f"{E}.label.alphabet",
     "must not repeat a character"),
    ("string-alphabet-not-ascii", put("label", "event", alphabet="aé"), f"{E}.label.alphabet",
     "printable ASCII"),
    ("string-alphabet-empty", put("label", "event", alphabet=""), f"{E}.label.alphabet",
     "must be a preset"),
    ("string-weights-without-values", put("label", "event", weights=[1.0]),
     f"{E}.label.weights", "needs values to weigh"),
    ("string-values-empty", put("label", "event", values=[]), f"{E}.label.values",
     "must list at least one value"),
    ("string-choice-without-values", signal("label", "choice", "event"),
     f"{E}.label.signal.kind", "choice needs the field to list values"),
    # kinds and rates
    ("first-kind-with-rate", lambda d: d["kinds"]["update"].update(rate=0.5), "kinds.update.rate",
     "the first kind takes the share the others leave"),
    ("other-kind-without-rate", drop("kinds", "event", "rate"), "kinds.event.rate",
     "is required: the share of records"),
    ("rate-zero", lambda d: d["kinds"]["event"].update(rate=0), "kinds.event.rate",
     "must be in (0, 1]"),
    ("rate-over-one", lambda d: d["kinds"]["event"].update(rate=1.5), "kinds.event.rate",
     "must be in (0, 1]"),
    ("rates-sum-over-one", add_kind("alarm", {"rate": 0.95, "fields": {"x": BOOL}}),
     "kinds.alarm.rate", "must sum to at most 1"),
    # field types and signals
    ("unknown-field-type", new_field("x", {"type": "complex"}), f"{U}.x.type",
     "must be one of: int, bool, enum, timestamp, float, string (got 'complex')"),
    ("unknown-signal-kind", signal("count", {"kind": "warp"}), f"{U}.count.signal.kind",
     "must be one of: constant, uniform"),
    ("signal-not-mapping", signal("count", 5), f"{U}.count.signal",
     "must be a signal name or a mapping"),
    ("signal-wrong-type-bernoulli-on-int", signal("count", "bernoulli"), f"{U}.count.signal.kind",
     "signal bernoulli applies to fields of type bool, not int"),
    ("signal-wrong-type-walk-on-enum", signal("state", {"kind": "random_walk", "step": 1}),
     f"{U}.state.signal.kind", "not enum"),
    ("signal-wrong-type-uniform-on-bool", signal("up", "uniform"), f"{U}.up.signal.kind",
     "applies to fields of type int, float, timestamp, not bool"),
    ("uniform-min-below-field", signal("count", {"kind": "uniform", "min": -1}),
     f"{U}.count.signal.min", "must lie in the field's range [0, 1000] (got -1)"),
    ("uniform-max-above-field", signal("temp", {"kind": "uniform", "max": 200.0}),
     f"{U}.temp.signal.max", "must lie in the field's range"),
    ("uniform-min-over-max", signal("count", {"kind": "uniform", "min": 8, "max": 2}),
     f"{U}.count.signal.max", "must be >= min (8)"),
    ("uniform-min-is-text", signal("count", {"kind": "uniform", "min": "low"}),
     f"{U}.count.signal.min", "must be a valid"),
    ("walk-start-outside", signal("temp", {"kind": "random_walk", "step": 0.1, "start": 130.0}),
     f"{U}.temp.signal.start", "must lie in [-40.0, 125.0]"),
    ("walk-start-outside-its-bounds", signal("temp", {"kind": "random_walk", "step": 0.1,
                                                      "min": 0.0, "max": 10.0, "start": 20.0}),
     f"{U}.temp.signal.start", "must lie in [0.0, 10.0]"),
    ("walk-negative-step", signal("temp", {"kind": "random_walk", "step": -1.0}),
     f"{U}.temp.signal.step", "greater than or equal to 0"),
    ("walk-reversion-one", signal("temp", {"kind": "random_walk", "step": 1.0, "reversion": 1.0}),
     f"{U}.temp.signal.reversion", "less than 1"),
    ("sequence-start-outside", signal("count", {"kind": "sequence", "start": 5000}),
     f"{U}.count.signal.start", "must lie in [0, 1000]"),
    ("sequence-step-nan", signal("count", {"kind": "sequence", "step": float("nan")}),
     f"{U}.count.signal.step", "must be a finite number"),
    ("normal-std-zero", signal("temp", {"kind": "normal", "mean": 20.0, "std": 0.0}),
     f"{U}.temp.signal.std", "greater than 0"),
    ("sine-amplitude-infinite", signal("temp", {"kind": "sine", "period": "1d",
                                                "amplitude": float("inf"), "offset": 0.0}),
     f"{U}.temp.signal.amplitude", "finite"),
    ("sine-period-zero", signal("temp", {"kind": "sine", "period": 0, "amplitude": 1.0,
                                         "offset": 0.0}), f"{U}.temp.signal.period", "must be > 0"),
    ("sine-period-bad-duration", signal("temp", {"kind": "sine", "period": "a while",
                                                 "amplitude": 1.0, "offset": 0.0}),
     f"{U}.temp.signal.period", "must be a duration such as 10ms"),
    ("bernoulli-p-over-one", signal("up", {"kind": "bernoulli", "p": 1.5}), f"{U}.up.signal.p",
     "less than or equal to 1"),
    ("constant-outside-range", signal("count", {"kind": "constant", "value": 1001}),
     f"{U}.count.signal.value", "must be a number in [0, 1000] (got 1001)"),
    ("constant-not-enum-value", signal("state", {"kind": "constant", "value": "meh"}),
     f"{U}.state.signal.value", "must be one of the values (ok, bad)"),
    ("constant-bool-not-bool", signal("up", {"kind": "constant", "value": 1}),
     f"{U}.up.signal.value", "must be true or false"),
    ("constant-string-outside-alphabet", signal("label", {"kind": "constant", "value": "a b"},
                                                "event"),
     f"{E}.label.signal.value", "characters of the alphabet"),
    # time
    ("interval-bad-duration", set_time(interval="5 parsecs"), "time.interval",
     "must be a duration such as 10ms"),
    ("interval-zero", set_time(interval="0s"), "time.interval", "must be > 0"),
    ("jitter-equals-interval", set_time(jitter="1s"), "time.jitter",
     "< time.interval (1000000000 ns)"),
    ("jitter-over-interval", set_time(jitter="2s"), "time.jitter", "must be >= 0 and <"),
    ("jitter-fraction-of-ns", set_time(jitter="1.5ns"), "time.jitter",
     "whole number of nanoseconds"),
    ("jitter-not-multiple-of-resolution", set_time(jitter="1500ns"), "time.jitter",
     "whole number of time.resolution (1000 ns)"),
    ("time-resolution-zero", set_time(resolution=0), "time.resolution", "must be > 0"),
    ("time-bits-over-64", set_time(bits=65), "time.bits", "must be between 1 and 64"),
    ("time-start-not-a-time", set_time(start="yesterday"), "time.start",
     "must be an ISO 8601 time"),
    ("time-start-bad-month", set_time(start="2026-13-01T00:00:00Z"), "time.start",
     "month must be in 1..12"),
]


def test_base_schema_is_valid():
    schema = parse_schema(copy.deepcopy(BASE))
    assert [k.name for k in schema.kinds] == ["update", "event"]


def test_cases_are_distinct():
    ids = [c[0] for c in CASES]
    assert len(set(ids)) == len(ids) >= 30


@pytest.mark.parametrize(("mutate", "path", "fragment"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_invalid_schema_names_path_and_expectation(mutate, path, fragment):
    doc = copy.deepcopy(BASE)
    mutate(doc)
    with pytest.raises(SchemaError) as info:
        parse_schema(doc)
    error = info.value
    assert error.place == path
    assert fragment in str(error)
    assert str(error).startswith(f"{path}: ")
    assert "\n" not in str(error)


def test_duplicate_yaml_key_names_file_and_line(tmp_path):
    path = tmp_path / "dup.yaml"
    path.write_text("telecrunch: 1\nname: a\nkinds:\n  update:\n    fields:\n"
                    "      x: {type: bool}\n      x: {type: int, min: 0, max: 1}\n")
    with pytest.raises(SchemaError) as info:
        load_schema(path)
    assert info.value.place == f"{path}:7"
    assert "duplicate key 'x'" in str(info.value)


def test_duplicate_top_level_yaml_key(tmp_path):
    path = tmp_path / "dup_top.yaml"
    path.write_text("telecrunch: 1\nname: a\nname: b\nkinds: {}\n")
    with pytest.raises(SchemaError, match=r"dup_top\.yaml:3: .*duplicate key 'name'"):
        load_schema(path)


def test_yaml_syntax_error_names_file_and_line(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("telecrunch: 1\nname: [unclosed\nkinds: {}\n")
    with pytest.raises(SchemaError) as info:
        load_schema(path)
    assert info.value.place.startswith(f"{path}:")
    assert "invalid YAML/JSON" in str(info.value)


def test_file_errors_are_prefixed_with_the_file(tmp_path):
    doc = copy.deepcopy(BASE)
    fields(doc)["temp"]["resolution"] = -0.1
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    with pytest.raises(SchemaError) as info:
        load_schema(path)
    assert str(info.value) == (f"{path}: {U}.temp.resolution: must be > 0 (got -0.1)")


def test_missing_file_is_a_schema_error(tmp_path):
    with pytest.raises(SchemaError, match="file not found"):
        load_schema(tmp_path / "nope.yaml")


# ---- the CLI, through the installed console script ----

def _write(tmp_path: Path, doc: dict) -> Path:
    path = tmp_path / "schema.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def telecrunch(*args: str) -> subprocess.CompletedProcess:
    script = Path(sys.executable).with_name("telecrunch")
    assert script.exists(), "the telecrunch console script is not installed in this venv"
    return subprocess.run([str(script), *args], capture_output=True, text=True, timeout=120)


def test_validate_accepts_the_demo_schema():
    result = telecrunch("validate", str(DEMO))
    assert result.returncode == 0, result.stderr
    assert "valid schema 'demo'" in result.stdout
    assert "temperature" in result.stdout


def test_validate_rejects_with_one_line_naming_the_path(tmp_path):
    doc = copy.deepcopy(BASE)
    fields(doc)["count"]["max"] = -5
    path = _write(tmp_path, doc)
    result = telecrunch("validate", str(path))
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"error: {path}: {U}.count.max: must be >= min (0) (got -5)"]
    assert result.stdout == ""


@pytest.mark.parametrize("case", ["unknown-field-type", "string-value-outside-alphabet"])
def test_validate_exits_2_for_invalid_schemas(tmp_path, case):
    mutate, path, fragment = next(c[1:] for c in CASES if c[0] == case)
    doc = copy.deepcopy(BASE)
    mutate(doc)
    result = telecrunch("validate", str(_write(tmp_path, doc)))
    assert result.returncode == 2
    [line] = result.stderr.splitlines()
    assert f": {path}: " in line and fragment in line
    assert "Traceback" not in result.stderr


def test_validate_duplicate_key_names_file_and_line(tmp_path):
    path = tmp_path / "dup.yaml"
    path.write_text("telecrunch: 1\nname: a\nname: b\nkinds: {}\n")
    result = telecrunch("validate", str(path))
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"error: {path}:3: invalid YAML/JSON: duplicate key 'name' (line 3)"]


def test_dropout_with_jitter_near_the_interval_is_refused():
    doc = {"name": "d", "time": {"interval": "1s", "jitter": "600ms"},
           "kinds": {"update": {"fields": {"v": {"type": "int", "min": 0, "max": 1}}}},
           "anomalies": [{"kind": "dropout", "rate": 0.001, "duration": 3}]}
    with pytest.raises(SchemaError) as info:
        load_schema(doc)
    assert info.value.place == "anomalies.0.kind"
    assert "jitter below half" in str(info.value)
