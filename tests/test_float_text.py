"""Float text: the vectorized writer matches the per-value rule on every kind of field."""

from __future__ import annotations

import numpy as np
import pytest

from telecrunch.formats.floats import decimals, float_block, float_formatter
from telecrunch.schema import FloatField


def _field(**spec) -> FloatField:
    return FloatField(type="float", name="x", **spec)


def _texts(block: np.ndarray) -> list[str]:
    return [bytes(row).replace(b"\0", b"").decode() for row in block]


@pytest.mark.parametrize("spec, places", [
    ({"min": -40, "max": 125, "resolution": 0.01}, 2),
    ({"min": 0, "max": 100, "resolution": 0.1}, 1),
    ({"min": 0, "max": 1000, "resolution": 5}, 1),
    ({"min": 0.05, "max": 1, "resolution": 0.1}, 2),
    ({"min": 0, "max": 1, "resolution": 1.5e-7}, 8),
    ({"min": -1, "max": 1, "resolution": 0.25}, 2),
])
def test_decimals_come_from_resolution_and_min(spec, places):
    assert decimals(_field(**spec)) == places


FIELDS = [
    _field(min=-40, max=125, resolution=0.01),
    _field(min=-0.5, max=0.5, resolution=0.0001),
    _field(min=0, max=1e6, resolution=0.001),
    _field(min=-2e14, max=2e14, resolution=2),  # too wide for the exact integer path
    _field(min=0, max=3, resolution=1 / 3),
    _field(min=-1e6, max=1e6, encoding="binary32"),
    _field(min=-1e300, max=1e300, encoding="binary64"),
    _field(min=-1e-300, max=1e-300, encoding="binary64"),
]


@pytest.mark.parametrize("field", FIELDS, ids=lambda f: f"{f.encoding}-{f.resolution}-{f.max}")
def test_block_matches_the_per_value_rule(field):
    rng = np.random.default_rng(1)
    raw = rng.uniform(field.min, field.max, 5000)
    raw[:4] = [field.min, field.max, 0.0, (field.min + field.max) / 2]
    if field.encoding == "quantized":
        values = field.min + np.rint((raw - field.min) / field.resolution) * field.resolution
    else:
        values = raw.astype(np.float32 if field.encoding == "binary32" else np.float64)
    texts = _texts(float_block(field, values))
    assert texts == [float_formatter(field)(v) for v in values.tolist()]
    assert all("." in t or "e" in t for t in texts)
    dtype = np.float32 if field.encoding == "binary32" else np.float64
    if field.encoding != "quantized":
        assert np.array_equal(np.array(texts, dtype=dtype), values)


def test_quantized_values_print_without_float_noise():
    field = _field(min=-40, max=125, resolution=0.01)
    values = np.array([21.37, -0.01, 0.07, 124.99, -40.0, 0.0]) + 0.0
    values = field.min + np.rint((values - field.min) / 0.01) * 0.01  # as generated: noisy
    assert _texts(float_block(field, values)) == ["21.37", "-0.01", "0.07", "124.99", "-40.00",
                                                  "0.00"]
