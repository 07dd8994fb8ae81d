"""A batch of records as named numpy columns."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from telecrunch.schema import (
    BoolField,
    EnumField,
    FloatField,
    Schema,
    StringField,
)

ID = "id"
KIND = "kind"


def enum_dtype(labels: int) -> np.dtype:
    """The narrowest signed integer that holds the codes of ``labels`` labels and -1 (the
    pandas and Zarr mark of an absent value): int8 up to 127 labels, then int16, int32."""
    for dtype in (np.int8, np.int16, np.int32):
        if labels <= np.iinfo(dtype).max:
            return np.dtype(dtype)
    return np.dtype(np.int64)  # pragma: no cover - enums of over 2**31 labels


def column_dtype(field) -> np.dtype:
    """The numpy dtype a field's values are held in."""
    if isinstance(field, BoolField):
        return np.dtype(bool)
    if isinstance(field, StringField):
        return np.dtype(f"S{max(field.length_limit, 1)}")
    if isinstance(field, FloatField):
        return np.dtype(np.float32 if field.encoding == "binary32" else np.float64)
    if isinstance(field, EnumField):  # label codes: a byte each for most enums
        return enum_dtype(len(field.values))
    return np.dtype(np.int64)  # int, timestamp


@dataclass
class Columns:
    """Records ``ids`` of a schema: their kind codes and one array per column.

    ``values`` holds the timestamp column, the source column and every declared field, each
    as long as ``ids``, in ``column_dtype`` (enums as label codes in ``enum_dtype``: int8 up
    to 127 labels). Where a record's kind lacks a field, its value is zero (0, 0.0, False or
    b""); ``present`` tells which records carry a field.
    """

    schema: Schema
    ids: np.ndarray  # uint64
    kind: np.ndarray  # uint8 kind codes
    values: dict[str, np.ndarray]
    labels: np.ndarray | None = None  # uint64 masks: bit i = schema.anomalies[i]; None: unknown

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def names(self) -> list[str]:
        return [ID, KIND, *self.values]

    def __getitem__(self, name: str) -> np.ndarray:
        if name == ID:
            return self.ids
        if name == KIND:
            return self.kind
        return self.values[name]

    def present(self, name: str) -> np.ndarray:
        """Boolean mask of the records whose kind carries column ``name``."""
        kind = self.schema.kind_of_field.get(name)
        if kind is None:
            return np.ones(len(self), bool)
        return self.kind == kind.code

    def kind_names(self) -> np.ndarray:
        """Kind names per record (an object array), for display."""
        names = np.array([k.name for k in self.schema.kinds], dtype=object)
        return names[self.kind]

    def take(self, index) -> Columns:
        """The records at ``index`` (a slice, mask or index array)."""
        labels = None if self.labels is None else self.labels[index]
        return Columns(self.schema, self.ids[index], self.kind[index],
                       {k: v[index] for k, v in self.values.items()}, labels)

    def label_names(self, i: int) -> list[str]:
        """Names of the anomaly labels of record ``i``."""
        mask = 0 if self.labels is None else int(self.labels[i])
        return [name for bit, name in enumerate(self.schema.labels) if mask >> bit & 1]

    @staticmethod
    def concat(parts: list[Columns], schema: Schema | None = None) -> Columns:
        if not parts:
            from telecrunch.generation import empty_columns

            return empty_columns(schema)
        first = parts[0]
        labels = None
        if all(p.labels is not None for p in parts):
            labels = np.concatenate([p.labels for p in parts])
        return Columns(
            first.schema,
            np.concatenate([p.ids for p in parts]),
            np.concatenate([p.kind for p in parts]),
            {k: np.concatenate([p.values[k] for p in parts]) for k in first.values},
            labels,
        )

    def differences(self, other: Columns) -> list[str]:
        """Names of the columns whose values or dtypes differ (bitwise for floats); empty if
        equal."""
        diff = []
        for name in self.names:
            a, b = self[name], other[name]
            if a.dtype != b.dtype:
                diff.append(name)
                continue
            if a.dtype.kind == "f":
                a, b = a.view(f"u{a.itemsize}"), b.view(f"u{b.itemsize}")
            if a.shape != b.shape or not np.array_equal(a, b):
                diff.append(name)
        if self.labels is not None and other.labels is not None and \
                not np.array_equal(self.labels, other.labels):
            diff.append("labels")
        return diff

    def to_records(self) -> list[dict]:
        """Plain Python dicts, one per record, with only the fields its kind carries."""
        from telecrunch.codes import to_python

        kinds = self.schema.kinds
        rows = []
        for i in range(len(self)):
            kind = kinds[int(self.kind[i])]
            row = {ID: int(self.ids[i]), KIND: kind.name}
            row[self.schema.time.field] = int(self.values[self.schema.time.field][i])
            row[self.schema.sources.field] = int(self.values[self.schema.sources.field][i])
            for field in kind.fields:
                row[field.name] = to_python(field, self.values[field.name][i])
            rows.append(row)
        return rows
