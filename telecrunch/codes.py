"""Conversion between a field's values and the unsigned integer codes that are packed.

Kept apart from bit placement (``telecrunch.pack``): this module knows what a value means,
pack knows only where its bits go. ``conform`` puts raw signal output onto the field's grid;
``to_code``/``from_code`` are exact inverses on that grid.
"""

from __future__ import annotations

import numpy as np

from telecrunch.columns import column_dtype
from telecrunch.errors import JobError
from telecrunch.rng import MASK64
from telecrunch.schema import (
    BoolField,
    EnumField,
    FieldBase,
    FloatField,
    IntField,
    StringField,
    TimestampField,
)

_U64 = np.uint64


def _as_u64(value: int) -> np.uint64:
    return _U64(value & MASK64)


def conform(field: FieldBase, raw: np.ndarray) -> np.ndarray:
    """Clip and round raw signal values onto the field's range and grid."""
    raw = np.asarray(raw)
    if isinstance(field, BoolField):
        return raw.astype(bool)
    if isinstance(field, StringField):
        return raw.astype(column_dtype(field))
    if isinstance(field, EnumField):
        return np.clip(raw, 0, len(field.values) - 1).astype(column_dtype(field))
    if isinstance(field, IntField | TimestampField):
        step = getattr(field, "resolution", 1)
        if raw.dtype.kind == "f":
            # Round to a grid code in float64, then add min in exact integers: float64 cannot
            # hold every int64, and a value rounded up to 2**63 must clip to max, not wrap.
            largest = (field.max - field.min) // step
            codes = np.rint((raw - field.min) / step)
            top = codes >= float(largest)
            codes = np.where(top, 0.0, np.maximum(codes, 0.0)).astype(np.uint64)
            codes = np.where(top, _U64(largest), codes)
            return (_as_u64(field.min) + codes * _U64(step)).view(np.int64)
        raw = np.clip(raw.astype(np.int64), field.min, field.max)
        if step != 1:  # in uint64: value - min may exceed int64, never uint64
            offset = raw.view(_U64) - _as_u64(field.min)
            raw = (_as_u64(field.min) + offset // _U64(step) * _U64(step)).view(np.int64)
        return raw
    if field.encoding == "quantized":
        codes = np.clip(np.rint((raw - field.min) / field.resolution), 0, field.largest_code)
        return field.min + codes * field.resolution
    clipped = np.clip(raw.astype(np.float64), field.min, field.max)
    return clipped.astype(column_dtype(field))


def to_code(field: FieldBase, values: np.ndarray, place: str = "") -> np.ndarray:
    """Codes (uint64) of values already on the field's grid; raise if one is out of range."""
    place = place or field.name
    if isinstance(field, BoolField):
        return values.astype(_U64)
    if isinstance(field, EnumField):
        codes = values.astype(np.int64)
        _check(codes, 0, len(field.values) - 1, place)
        return codes.astype(_U64)
    if isinstance(field, IntField):
        v = values.astype(np.int64)
        _check(v, field.min, field.max, place)
        return v.view(_U64) - _as_u64(field.min)
    if isinstance(field, TimestampField):
        v = values.astype(np.int64)
        _check(v, field.min, field.max, place)
        return (v.view(_U64) - _as_u64(field.min)) // _U64(field.resolution)
    if field.encoding == "binary32":
        return values.astype(np.float32).view(np.uint32).astype(_U64)
    if field.encoding == "binary64":
        return values.astype(np.float64).view(_U64)
    codes = np.rint((values - field.min) / field.resolution)
    _check(codes, 0, field.largest_code, place)
    return codes.astype(_U64)


def from_code(field: FieldBase, codes: np.ndarray) -> np.ndarray:
    """Values of codes: the inverse of ``to_code``."""
    if isinstance(field, BoolField):
        return codes.astype(bool)
    if isinstance(field, EnumField):
        return codes.astype(column_dtype(field))
    if isinstance(field, IntField):
        return (codes + _as_u64(field.min)).view(np.int64)
    if isinstance(field, TimestampField):
        return (codes * _U64(field.resolution) + _as_u64(field.min)).view(np.int64)
    if field.encoding == "binary32":
        return codes.astype(np.uint32).view(np.float32)
    if field.encoding == "binary64":
        return codes.view(np.float64)
    return field.min + codes.astype(np.float64) * field.resolution


def _check(values: np.ndarray, lo: int | float, hi: int | float, place: str) -> None:
    if len(values) == 0:
        return
    bad = (values < lo) | (values > hi)
    if isinstance(values.dtype, np.dtype) and values.dtype.kind == "f":
        bad |= np.isnan(values)
    if bad.any():
        value = values[np.argmax(bad)]
        raise JobError(place, f"value out of range [{lo}, {hi}]", value.item())


# ---- strings: length + symbol indexes ----

def symbol_table(field: StringField) -> np.ndarray:
    """Byte -> symbol index (255 for bytes outside the alphabet)."""
    table = np.full(256, 255, np.uint8)
    for index, char in enumerate(field.symbols.encode("ascii")):
        table[char] = index
    return table


def string_codes(field: StringField, values: np.ndarray, place: str = "") -> tuple[np.ndarray,
                                                                                  np.ndarray]:
    """(lengths int64 (n,), symbol indexes uint8 (n, width)) of an ``S`` array."""
    width = max(field.length_limit, 1)
    values = np.ascontiguousarray(values.astype(f"S{width}"))
    raw = values.view(np.uint8).reshape(len(values), width)
    lengths = (raw != 0).sum(axis=1).astype(np.int64)
    symbols = symbol_table(field)[raw]
    inside = np.arange(width) < lengths[:, None]
    bad_rows = ((inside & (symbols == 255)) | (~inside & (raw != 0))).any(axis=1)
    if bad_rows.any():
        row = int(np.argmax(bad_rows))
        raise JobError(place or field.name, "string has a character outside the alphabet",
                       values[row].decode("latin-1"))
    if len(values) and lengths.max() > field.length_limit:
        raise JobError(place or field.name, f"string longer than {field.length_limit}",
                       int(lengths.max()))
    return lengths, np.where(inside, symbols, 0).astype(np.uint8)


def string_values(field: StringField, lengths: np.ndarray, symbols: np.ndarray) -> np.ndarray:
    """The ``S`` array of (lengths, symbol indexes): the inverse of ``string_codes``."""
    width = max(field.length_limit, 1)
    alphabet = np.frombuffer(field.symbols.encode("ascii"), np.uint8)
    chars = alphabet[np.minimum(symbols[:, :width], len(alphabet) - 1)]
    chars = np.where(np.arange(width) < lengths[:, None], chars, 0).astype(np.uint8)
    return np.ascontiguousarray(chars).view(f"S{width}").ravel()


def to_python(field: FieldBase, value) -> object:
    """One value as plain Python (enum label, str, bool, int, float)."""
    if isinstance(field, EnumField):
        return field.values[int(value)]
    if isinstance(field, StringField):
        return bytes(value).decode("ascii")
    if isinstance(field, BoolField):
        return bool(value)
    if isinstance(field, FloatField):
        return float(value)
    return int(value)
