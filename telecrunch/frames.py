"""Columns as pandas DataFrames (for notebooks and dask)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from telecrunch.columns import ID, KIND, Columns, enum_dtype
from telecrunch.schema import BoolField, EnumField, StringField, TimestampField


def _codes(values: np.ndarray, categories: int, missing: np.ndarray | None,
           copy: bool) -> np.ndarray:
    """Category codes in the narrowest type pandas keeps them in (enum columns already are),
    -1 where ``missing``."""
    codes = values.astype(enum_dtype(categories), copy=copy or missing is not None)
    if missing is not None:
        codes[missing] = -1
    return codes


def to_pandas(columns: Columns, *, copy: bool = True) -> pd.DataFrame:
    """One row per record, indexed by record ID.

    The record timestamp and timestamp fields become ``datetime64[ns, UTC]``; enums and the
    kind become categoricals; fields a record's kind lacks are missing (NA). ``copy=False``
    lets the frame hold the arrays that need no conversion as they are, unconsolidated: for
    columns nobody else holds, such as a fresh read's (not a reused batch's).
    """
    schema = columns.schema
    data: dict[str, object] = {
        KIND: pd.Categorical.from_codes(_codes(columns.kind, len(schema.kinds), None, copy),
                                        [k.name for k in schema.kinds]),
        schema.time.field: pd.to_datetime(columns[schema.time.field], unit="ns", utc=True),
        schema.sources.field: columns[schema.sources.field],
    }
    lacking = len(schema.kinds) > 1  # every field belongs to one kind: the others lack it
    for name, field in schema.fields.items():
        values = columns[name]
        missing = ~columns.present(name) if lacking else None
        if isinstance(field, EnumField):
            data[name] = pd.Categorical.from_codes(
                _codes(values, len(field.values), missing, copy), list(field.values))
        elif isinstance(field, StringField):
            text = np.char.decode(values, "ascii").astype(object)
            if missing is not None:
                text[missing] = None
            data[name] = pd.array(text, dtype="string")
        elif isinstance(field, TimestampField):
            stamps = pd.to_datetime(values, unit="ns", utc=True)
            data[name] = stamps if missing is None else stamps.where(~missing)
        elif isinstance(field, BoolField):
            data[name] = pd.arrays.BooleanArray(
                values.astype(bool, copy=False),
                np.zeros(len(values), bool) if missing is None else missing)
        elif values.dtype.kind == "f":
            data[name] = values if missing is None else np.where(missing, np.nan, values).astype(
                values.dtype, copy=False)
        else:
            # nullable whenever some kind lacks the field (missing is then an array, even of
            # no record), so every partition has one dtype
            data[name] = values if missing is None else pd.arrays.IntegerArray(values, missing)
    return pd.DataFrame(data, index=pd.Index(columns.ids, name=ID, copy=copy), copy=copy)
