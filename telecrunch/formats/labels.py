"""The anomaly labels column of the text formats: each record's label names.

A record's label mask has bit ``i`` set when anomaly ``i`` of the schema touched it; its names
are ``schema.labels[i]`` for those bits, in bit order. Text formats write the column only when
the schema injects anomalies. Masks repeat a lot, so each distinct mask is rendered once.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from telecrunch.columns import Columns
from telecrunch.errors import JobError
from telecrunch.formats import grid

LABELS = "labels"


def check_label_column(schema) -> None:
    """Refuse a schema whose own column names take the name of the labels column."""
    if not schema.anomalies:
        return
    if schema.time.field == LABELS:
        raise JobError("time.field", f"{LABELS!r} is the anomaly labels column of the text "
                       "and Zarr formats; rename the time field", LABELS)
    if schema.sources.field == LABELS:
        raise JobError("sources.field", f"{LABELS!r} is the anomaly labels column of the "
                       "text and Zarr formats; rename the source field", LABELS)
    if LABELS in schema.fields:
        kind = schema.kind_of_field[LABELS].name
        raise JobError(f"kinds.{kind}.fields.{LABELS}", f"{LABELS!r} is the anomaly labels "
                       "column of the text and Zarr formats; rename the field", LABELS)


def names_of(schema, mask: int) -> list[str]:
    """Label names of a mask, in bit order."""
    return [name for bit, name in enumerate(schema.labels) if mask >> bit & 1]


def label_block(columns: Columns, render: Callable[[list[str]], bytes]) -> np.ndarray:
    """A grid block holding ``render(names)`` of each record's labels (all records unlabelled
    when ``columns.labels`` is None)."""
    masks = columns.labels
    if masks is None:
        masks = np.zeros(len(columns), np.uint64)
    distinct, index = np.unique(masks, return_inverse=True)
    entries = [render(names_of(columns.schema, int(mask))) for mask in distinct]
    return grid.lookup(index.reshape(-1), entries or [render([])])
