"""Checks of caller-supplied inputs against a version's signature.

Everything here is on the hot path of a one-row call: plain Python loops over a few
values, no pandas. Every refusal names the row and the feature and says what to send.

``to_rows`` is the entry point for records: all-number signatures (``double``, ``float``)
take the ``to_matrix`` fast path to a float64 matrix; any other column type (``long``,
``integer``, ``boolean``, ``string``, ``datetime``) gives an object matrix whose cells are
converted to their column's Python type (``typed.py``). Adapters turn either into what
their library needs (``frames.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from mlgate.domain import Feature, Matrix, Rows
from mlgate.errors import InvalidInput
from mlgate.numbers import finite, shown
from mlgate.records.cells import (
    _NUMERIC,
    NUMBER_TYPES,
    _check_float32,
    as_numbers,
    check_batch,
    number_cell,
)
from mlgate.records.columns import columnar_rows, is_columnar
from mlgate.records.typed import explain_keys


def to_rows(records: Any, features: Sequence[Feature], *, max_rows: int, max_cells: int) -> Rows:
    """Records (or a columnar batch, ``columns.py``) → a float64 matrix (every feature a number) or a
    typed object matrix, in feature order."""
    if is_columnar(records):
        return columnar_rows(records, features, max_rows=max_rows, max_cells=max_cells)
    if all(f.type in NUMBER_TYPES for f in features):
        return to_matrix(records, features, max_rows=max_rows, max_cells=max_cells)
    from mlgate.records.typed import to_typed

    check_batch(records, len(features), max_rows=max_rows, max_cells=max_cells)
    return to_typed(records, features)


def to_matrix(records: Any, features: Sequence[Feature], *, max_rows: int, max_cells: int) -> Matrix:
    """Records (``[{"age": 0.03, …}, …]``) → a float64 matrix in the signature's column order."""
    if is_columnar(records):
        if not all(f.type in NUMBER_TYPES for f in features):
            features = [
                Feature(f.name, f.type if f.type in NUMBER_TYPES else "double") for f in features
            ]  # numbers only, as records here
        return columnar_rows(records, features, max_rows=max_rows, max_cells=max_cells)
    width = len(features)
    check_batch(records, width, max_rows=max_rows, max_cells=max_cells)
    n = len(records)
    names = [f.name for f in features]
    expected = set(names)
    out = np.empty((n, width), dtype=np.float64)
    for i, rec in enumerate(records):
        if not isinstance(rec, dict):
            raise InvalidInput(
                f"record {i} is a {type(rec).__name__}, not an object", "send one object per row",
                fields=[f"features[{i}]"],
            )  # fmt: skip
        if len(rec) != width or rec.keys() != expected:
            explain_keys(i, rec, names)
        row = out[i]
        for j, name in enumerate(names):
            v = rec[name]
            if type(v) not in _NUMERIC or not finite(v):
                number_cell(i, name, v)
            row[j] = v
    if any(f.type == "float" for f in features):
        _check_float32(out, names, [j for j, f in enumerate(features) if f.type == "float"])
    return out


def check_series(values: Any, what: str, *, max_len: int, min_len: int = 1) -> list[float]:
    if not isinstance(values, list):
        raise InvalidInput(f"{what} must be a list of numbers")
    if len(values) < min_len:
        raise InvalidInput(f"{what} has {len(values)} values; at least {min_len} are needed")
    if len(values) > max_len:
        raise InvalidInput(
            f"{what} has {len(values)} values; at most {max_len} are allowed", "send a shorter window"
        )
    got = as_numbers(values)  # the common case, with no per-value Python
    if got is not None and np.isfinite(got[0]).all():
        series: list[float] = got[0].tolist()
        return series
    for i, v in enumerate(values):  # refused: the first value that is not a finite number, by index
        if type(v) not in _NUMERIC:
            raise InvalidInput(f"{what}[{i}] is {type(v).__name__}, not a number", "send JSON numbers",
                               fields=[f"{what}[{i}]"])  # fmt: skip
        if not finite(v):
            raise InvalidInput(
                f"{what}[{i}] is {shown(v)}", "send finite numbers only", fields=[f"{what}[{i}]"]
            )
    return [float(v) for v in values]


def check_texts(texts: Any, *, max_items: int, max_chars: int = 20_000) -> list[str]:
    if not isinstance(texts, list) or not texts:
        raise InvalidInput("texts must be a non-empty list of strings", '["great product", "awful service"]')
    if len(texts) > max_items:
        raise InvalidInput(f"{len(texts)} texts is more than the limit of {max_items}", "split the call")
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise InvalidInput(f"texts[{i}] is {type(t).__name__}, not a string")
        if len(t) > max_chars:
            raise InvalidInput(f"texts[{i}] has {len(t)} characters; at most {max_chars} are allowed")
    return list(texts)
