"""How every text format writes a float field's values.

Quantized floats are written with the decimals their grid needs (``decimals``): a field of
resolution 0.01 writes 21.37, never 21.370000000000001. ``binary32``/``binary64`` floats are
written as the shortest text that reads back to the same value at their own precision (so a
binary32 0.1 is written ``0.1``). Every text carries a decimal point or an exponent, so JSON
readers and InfluxDB take it for a float.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import numpy as np

from telecrunch.formats import grid
from telecrunch.schema import FloatField

#: Scaled values below this are exact integers in float64 with room for the rounding error of
#: ``min + code * resolution``, so rounding them gives the true decimal digits; beyond it each
#: value is formatted by Python.
_EXACT = 2.0**50


def _places(x: float) -> int:
    exponent = Decimal(repr(float(x))).normalize().as_tuple().exponent
    return max(0, -exponent)


def decimals(field: FloatField) -> int:
    """Digits after the point that write every value ``min + k * resolution`` exactly (at
    least 1)."""
    return max(1, _places(field.min), _places(field.resolution))


def float_formatter(field: FloatField) -> Callable[[float], str]:
    """A function writing one value as text: the plain-Python rule ``float_block`` follows."""
    if field.encoding == "binary32":
        return lambda value: str(np.float32(value))
    if field.encoding == "binary64":
        return repr
    places = decimals(field)
    return lambda value: f"{value:.{places}f}"


def float_block(field: FloatField, values: np.ndarray) -> np.ndarray:
    """The values' text as a grid block (see ``float_formatter``), right-aligned for quantized
    fields and left-aligned for binary ones."""
    if field.encoding != "quantized":
        return grid.trim(grid.text(_shortest(field, values)))
    places = decimals(field)
    scaled = np.rint(values * 10.0**places)
    if len(values) and not np.abs(scaled).max() < _EXACT:
        strings = np.array(list(map(float_formatter(field), values.tolist())), dtype="S")
        return grid.text(strings)
    negative = scaled < 0
    mag = np.abs(scaled).astype(np.uint64)
    block = grid.digits(mag, negative, min_digits=places + 1)
    width = block.shape[1]
    point = grid.constant(b".", len(values))
    return np.concatenate([block[:, :width - places], point, block[:, width - places:]], axis=1)


def _shortest(field: FloatField, values: np.ndarray) -> np.ndarray:
    dtype = np.float32 if field.encoding == "binary32" else np.float64
    return values.astype(dtype).astype("S32")
