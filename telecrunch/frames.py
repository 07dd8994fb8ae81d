"""Columns as pandas DataFrames (for notebooks and dask)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from telecrunch.columns import ID, KIND, Columns
from telecrunch.schema import BoolField, EnumField, StringField, TimestampField


def to_pandas(columns: Columns) -> pd.DataFrame:
    """One row per record, indexed by record ID.

    The record timestamp and timestamp fields become ``datetime64[ns, UTC]``; enums and the
    kind become categoricals; fields a record's kind lacks are missing (NA).
    """
    schema = columns.schema
    data: dict[str, object] = {
        KIND: pd.Categorical.from_codes(columns.kind.astype(np.int64),
                                        [k.name for k in schema.kinds]),
        schema.time.field: pd.to_datetime(columns[schema.time.field], unit="ns", utc=True),
        schema.sources.field: columns[schema.sources.field],
    }
    for name, field in schema.fields.items():
        values = columns[name]
        present = columns.present(name)
        missing = ~present
        if isinstance(field, EnumField):
            codes = np.where(present, values, -1).astype(np.int64)
            data[name] = pd.Categorical.from_codes(codes, list(field.values))
        elif isinstance(field, StringField):
            text = np.char.decode(values, "ascii").astype(object)
            text[missing] = None
            data[name] = pd.array(text, dtype="string")
        elif isinstance(field, TimestampField):
            data[name] = pd.to_datetime(values, unit="ns", utc=True).where(present)
        elif isinstance(field, BoolField):
            data[name] = pd.arrays.BooleanArray(values.astype(bool), missing)
        elif values.dtype.kind == "f":
            data[name] = np.where(present, values, np.nan).astype(values.dtype)
        else:
            # nullable whenever some kind lacks the field, so every partition has one dtype
            optional = len(schema.kinds) > 1
            data[name] = pd.arrays.IntegerArray(values, missing) if optional else values
    return pd.DataFrame(data, index=pd.Index(columns.ids, name=ID))
