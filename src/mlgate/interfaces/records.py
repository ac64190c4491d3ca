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

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from mlgate.errors import InvalidInput
from mlgate.interfaces.base import Feature, Matrix, Rows

_NUMERIC = (int, float)
FLOAT32_MAX = 3.4028234663852886e38
NUMBER_TYPES = frozenset({"double", "float"})


def to_rows(records: Any, features: Sequence[Feature], *, max_rows: int, max_cells: int) -> Rows:
    """Records (or a columnar batch, ``columns.py``) → a float64 matrix (every feature a number) or a
    typed object matrix, in feature order."""
    from mlgate.interfaces.columns import columnar_rows, is_columnar

    if is_columnar(records):
        return columnar_rows(records, features, max_rows=max_rows, max_cells=max_cells)
    if all(f.type in NUMBER_TYPES for f in features):
        return to_matrix(records, features, max_rows=max_rows, max_cells=max_cells)
    from mlgate.interfaces.typed import to_typed

    check_batch(records, len(features), max_rows=max_rows, max_cells=max_cells)
    return to_typed(records, features)


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


def to_matrix(records: Any, features: Sequence[Feature], *, max_rows: int, max_cells: int) -> Matrix:
    """Records (``[{"age": 0.03, …}, …]``) → a float64 matrix in the signature's column order."""
    from mlgate.interfaces.columns import columnar_rows, is_columnar

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
            _explain_keys(i, rec, names)
        row = out[i]
        for j, name in enumerate(names):
            v = rec[name]
            if type(v) not in _NUMERIC or not math.isfinite(v):
                number_cell(i, name, v)
            row[j] = v
    if any(f.type == "float" for f in features):
        _check_float32(out, names, [j for j, f in enumerate(features) if f.type == "float"])
    return out


def number_cell(i: int, name: str, v: Any) -> None:
    """Refuses a value that is not a finite number (bool, an int subclass, is refused on purpose)."""
    if type(v) not in _NUMERIC:
        raise InvalidInput(
            f"record {i}, feature {name!r}: expected a number, got {type(v).__name__} {v!r:.40}",
            "send a JSON number",
            fields=[f"features[{i}].{name}"],
        )
    if not math.isfinite(v):
        raise InvalidInput(
            f"record {i}, feature {name!r} is {v}",
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


def _explain_keys(i: int, rec: dict[str, Any], names: list[str]) -> None:
    missing = [n for n in names if n not in rec]
    extra = sorted(k for k in rec if k not in set(names))
    parts = []
    if missing:
        parts.append(f"missing {', '.join(map(repr, missing))}")
    if extra:
        parts.append(f"unexpected {', '.join(map(repr, extra[:10]))}")
    raise InvalidInput(
        f"record {i}: {'; '.join(parts)}",
        f"each record needs exactly these features: {', '.join(names)} (see ml_model_info)",
        # for the ledger: the missing features by name, a stray one only as "*" (its name is the caller's)
        fields=[f"features[{i}].{n}" for n in missing] + ([f"features[{i}].*"] if extra else []),
    )


def check_series(values: Any, what: str, *, max_len: int, min_len: int = 1) -> list[float]:
    if not isinstance(values, list):
        raise InvalidInput(f"{what} must be a list of numbers")
    if len(values) < min_len:
        raise InvalidInput(f"{what} has {len(values)} values; at least {min_len} are needed")
    if len(values) > max_len:
        raise InvalidInput(
            f"{what} has {len(values)} values; at most {max_len} are allowed", "send a shorter window"
        )
    for i, v in enumerate(values):
        if type(v) not in _NUMERIC:
            raise InvalidInput(f"{what}[{i}] is {type(v).__name__}, not a number", "send JSON numbers",
                               fields=[f"{what}[{i}]"])  # fmt: skip
        if not math.isfinite(v):
            raise InvalidInput(f"{what}[{i}] is {v}", "send finite numbers only", fields=[f"{what}[{i}]"])
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
