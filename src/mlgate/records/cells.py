"""The cell and batch checks every record form shares (records and columns): shapes, limits, numbers.

Kept apart from ``checks.py`` (records) and ``columns.py`` (columnar batches) so each of those imports
this and neither imports the other back.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from mlgate.domain import Matrix
from mlgate.errors import InvalidInput
from mlgate.numbers import finite, shown

_NUMERIC = (int, float)
FLOAT32_MAX = 3.4028234663852886e38
NUMBER_TYPES = frozenset({"double", "float"})


def check_batch(records: Any, width: int, *, max_rows: int, max_cells: int) -> None:
    if not isinstance(records, list):
        raise InvalidInput(
            "features must be a list of records or a columnar batch",
            'send [{"feature": value, …}, …] or {"columns": ["feature", …], "rows": [[value, …], …]}',
        )
    n = len(records)
    if n == 0:
        raise InvalidInput("features is empty", "send at least one record")
    if n > max_rows:
        raise InvalidInput(
            f"{n} records is more than the limit of {max_rows}", "split the call into smaller batches"
        )
    if n * max(width, 1) > max_cells:
        raise InvalidInput(f"{n}×{width} values exceed the limit of {max_cells}", "split the call")


def as_numbers(values: Sequence[Any]) -> tuple[Matrix, type] | None:
    """JSON values that are all numbers (int or float, never bool) → their float64 array (``float(v)``
    each) and ``int`` when every value was an int, else ``float``; None when one is not a number or an
    int is beyond float64. No per-value Python: ``sum`` is the census (it raises on a string, null, list
    or object and its result is a float once one value is), NumPy converts, and a bool — the one
    non-number both accept, as 1 or 0 — can only sit where the array holds 0.0 or 1.0, so only those
    cells' types are looked at."""
    try:
        kind = type(sum(values))
        x: Matrix = np.fromiter(values, dtype=np.float64, count=len(values))
    except (TypeError, ValueError, OverflowError):
        return None
    at = np.flatnonzero((x == 0.0) | (x == 1.0)).tolist()
    if at and bool in set(map(type, map(values.__getitem__, at))):
        return None
    return x, kind


def number_cell(i: int, name: str, v: Any) -> None:
    """Refuses a value that is not a finite number (bool, an int subclass, is refused on purpose)."""
    if type(v) not in _NUMERIC:
        raise InvalidInput(
            f"record {i}, feature {name!r}: expected a number, got {type(v).__name__} {v!r:.40}",
            "send a JSON number",
            fields=[f"features[{i}].{name}"],
        )
    if not finite(v):
        raise InvalidInput(
            f"record {i}, feature {name!r} is {shown(v)}",
            "send finite numbers only",
            fields=[f"features[{i}].{name}"],
        )


def _check_float32(out: Matrix, names: list[str], cols: list[int]) -> None:
    """A 32-bit float column cannot hold 1e308: it would become inf inside the model."""
    part = out[:, cols]
    bad = np.abs(part) > FLOAT32_MAX
    if bad.any():
        i, k = (int(a[0]) for a in np.nonzero(bad))
        raise InvalidInput(
            f"record {i}, feature {names[cols[k]]!r}: {float(part[i, k])!r} is out of range for its type float "
            f"(32-bit, at most ±{FLOAT32_MAX:.4g})",
            "send a value the model's 32-bit input can hold",
            fields=[f"features[{i}].{names[cols[k]]}"],
        )
