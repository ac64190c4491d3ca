"""Records in columns: ``{"columns": [name, …], "rows": [[v, …], …]}`` (MLflow's ``dataframe_split``).

A 100-row call in records repeats every feature name 100 times; in columns it names them
once. The batch is checked column by column — the set of Python types a column holds, then
NumPy conversions and range checks over whole columns — not value by value in Python, and
ends as the same rows ``records.to_rows`` makes (a float64 matrix, or an object matrix of
converted cells), columns in the signature's order. A refusal is the one the records form
gives for the same value: the first bad cell is found again with the per-cell converter, so
the message names the record (row), the feature (column), the type expected and what came.
"""

from __future__ import annotations

import functools
import itertools
import operator
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from mlgate.domain import Feature, Matrix, Rows
from mlgate.errors import InvalidInput
from mlgate.records.cells import NUMBER_TYPES, as_numbers, check_batch
from mlgate.records.typed import FLOAT32_MAX

_SHAPE = 'send {"columns": ["feature", …], "rows": [[value, …], …]}'
_NUMBER = (int, float)
# the Python types a boolean or string column may hold as sent (JSON), checked per column (number columns:
# ``as_numbers``; datetime: parsed per value)
_CENSUS: dict[str, frozenset[type]] = {"boolean": frozenset({bool}), "string": frozenset({str})}


def is_columnar(batch: Any) -> bool:
    return isinstance(batch, dict) and "columns" in batch and "rows" in batch


def batch_size(batch: Any) -> int:
    """How many rows a batch holds, in either form (0 for something that is neither)."""
    if is_columnar(batch):
        rows = batch["rows"]
        return len(rows) if isinstance(rows, list) else 0
    return len(batch) if isinstance(batch, list) else 0


def as_records(batch: Any) -> Any:
    """The records form of a batch (what captures store and digests see); records pass through."""
    if not is_columnar(batch):
        return batch
    cols, rows = _shape(batch)
    _check_rows(rows, len(cols))
    return [dict(zip(cols, row, strict=True)) for row in rows]


def columnar_rows(
    batch: dict[str, Any], features: Sequence[Feature], *, max_rows: int, max_cells: int
) -> Rows:
    """A columnar batch → a float64 matrix (every feature a number) or a typed object matrix."""
    names = [f.name for f in features]
    numbers = all(f.type in NUMBER_TYPES for f in features)
    checks = lambda r: check_batch(r, len(names), max_rows=max_rows, max_cells=max_cells)  # noqa: E731
    fast = _number_matrix(batch, names, checks) if numbers else None
    if fast is not None:
        return _finite(fast, features)
    if numbers:
        cells = _cells(batch, names, checks)
        order = [batch["columns"].index(n) for n in names]
        return _numbers(cells[:, order], features)  # the signature's column order
    columns = _by_column(batch, names, checks)
    out = np.empty((batch_size(batch), len(names)), dtype=object)
    for j, f in enumerate(features):
        col = _column(columns[f.name], f)
        if col is None:  # a cell to refuse (the first, row-major, as records find it) or a bound to convert
            cells = _cells(batch, names, checks)
            _first_refusal(cells[:, [batch["columns"].index(n) for n in names]], features)
            col = _by_cell(columns[f.name], f)
        out[:, j] = col
    return out


def _shape(batch: dict[str, Any]) -> tuple[list[str], list[Any]]:
    """Only ``columns`` (distinct names) and ``rows`` (non-empty, each a list with one value per column)."""
    extra = sorted(map(str, set(batch) - {"columns", "rows"}))
    if extra:
        raise InvalidInput(f"a columnar batch has only columns and rows, not {', '.join(extra)}", _SHAPE)
    cols, rows = batch["columns"], batch["rows"]
    if not isinstance(cols, list) or not cols or not all(isinstance(c, str) for c in cols):
        raise InvalidInput("columns must be a non-empty list of feature names", _SHAPE)
    if len(set(cols)) != len(cols):
        dup = next(c for c in cols if cols.count(c) > 1)
        raise InvalidInput(f"column {dup!r} is named twice", "name each feature once")
    if not isinstance(rows, list) or not rows:
        raise InvalidInput("rows must be a non-empty list of rows", _SHAPE)
    return cols, rows


def _check_rows(rows: list[Any], width: int) -> None:
    if set(map(type, rows)) == {list} and set(map(len, rows)) == {width}:
        return  # the common case, checked at C speed; else the first bad row is named
    for i, row in enumerate(rows):  # one check per row (not per value): each a list of `width` values
        if type(row) is not list or len(row) != width:
            got = f"{len(row)} values" if isinstance(row, list) else f"a {type(row).__name__}"
            raise InvalidInput(f"row {i} has {got}; columns name {width}", "send one value per column")


def _cells(batch: dict[str, Any], names: list[str], limits: Callable[[list[Any]], None]) -> Rows:
    """The batch's shape checked (columns exactly the features, every row as long) → an object matrix."""
    cols, rows = _shape(batch)
    if set(cols) != set(names):
        missing = [n for n in names if n not in cols]
        unexpected = [c for c in cols if c not in set(names)]
        said = [f"missing {', '.join(map(repr, missing))}"] if missing else []
        said += [f"unexpected {', '.join(map(repr, unexpected[:10]))}"] if unexpected else []
        raise InvalidInput(
            f"columns: {'; '.join(said)}",
            f"name exactly these features: {', '.join(names)} (see ml_model_info)",
        )
    limits(rows)
    width = len(cols)
    _check_rows(rows, width)
    flat = itertools.chain.from_iterable(rows)  # no value is looked into: a nested list stays one cell
    return np.fromiter(flat, dtype=object, count=len(rows) * width).reshape(len(rows), width)


def _by_column(
    batch: dict[str, Any], names: list[str], limits: Callable[[list[Any]], None]
) -> dict[str, tuple[Any, ...]]:
    """The batch's shape checked as ``_cells`` does → each column's values by name (one ``zip``, no object
    matrix to take columns out of again)."""
    cols, rows = _shape(batch)
    if set(cols) != set(names):
        _cells(batch, names, limits)  # says which columns are wrong
    limits(rows)
    _check_rows(rows, len(cols))
    return dict(zip(cols, zip(*rows, strict=True), strict=True))


def _number_matrix(
    batch: dict[str, Any], names: list[str], limits: Callable[[list[Any]], None]
) -> Matrix | None:
    """An all-number batch straight to float64 (no object matrix): the shape checked, the rows' values
    flattened once (``list +=`` per row, at C speed), one census and one conversion (``as_numbers``),
    columns in the signature's order. None when a value is not an int or a float (the per-column path
    then finds and names it)."""
    cols, rows = _shape(batch)
    if set(cols) != set(names):
        return None  # _cells says which columns are wrong
    limits(rows)
    width = len(cols)
    try:
        uniform = set(map(len, rows)) == {width}
    except TypeError:  # a row without a length (a number, null): named below
        uniform = False
    if not uniform:
        _check_rows(rows, width)
    # a row that is a string or an object of `width` characters or keys adds strings: the census refuses them
    flat: list[Any] = functools.reduce(operator.iadd, rows, [])
    got = as_numbers(flat)
    if got is None:
        return None
    out = got[0].reshape(len(rows), width)
    order = [cols.index(n) for n in names]
    return out if order == list(range(len(order))) else out[:, order]


def _finite(out: Matrix, features: Sequence[Feature]) -> Matrix:
    """A float64 batch of numbers: finite, and within 32 bits where a feature is a float; refused by name."""
    from mlgate.records.cells import _check_float32, number_cell

    if not np.isfinite(out).all():
        i, j = (int(a[0]) for a in np.nonzero(~np.isfinite(out)))
        number_cell(i, features[j].name, float(out[i, j]))
    floats = [j for j, f in enumerate(features) if f.type == "float"]
    if floats:
        _check_float32(out, [f.name for f in features], floats)
    return out


def _numbers(cells: Rows, features: Sequence[Feature]) -> Matrix:
    """Every feature a number: one type census over all cells, one conversion, one finiteness check."""
    from mlgate.records.cells import _check_float32, number_cell

    if set(map(type, itertools.chain.from_iterable(cells.tolist()))) <= set(_NUMBER):
        try:
            out: Matrix = cells.astype(np.float64)
        except OverflowError:  # an int beyond float64: the per-cell pass below refuses it by name
            out = np.full(cells.shape, np.nan)
        if np.isfinite(out).all():
            if any(f.type == "float" for f in features):
                floats = [j for j, f in enumerate(features) if f.type == "float"]
                _check_float32(out, [f.name for f in features], floats)
            return out
    for i, row in enumerate(cells.tolist()):  # refused: the first bad cell, row-major as in records
        for j, v in enumerate(row):
            number_cell(i, features[j].name, v)
    raise AssertionError("a refused batch has a bad cell")  # pragma: no cover


def _column(values: Sequence[Any], f: Feature) -> Sequence[Any] | None:
    """One column checked and converted as a whole; None when a cell needs the per-cell converter's word."""
    from mlgate.records.typed import INT_RANGE, _Bad, converter

    conv = converter(f.type)  # refuses a column type mlgate cannot send
    if f.type in INT_RANGE or f.type in NUMBER_TYPES:
        got = as_numbers(values)
        if got is None:
            return None
        x, kind = got
        if not np.isfinite(x).all():
            return None
        if f.type == "float" and (np.abs(x) > FLOAT32_MAX).any():
            return None
        if f.type in NUMBER_TYPES:
            floats: list[float] = x.tolist()
            return floats
        lo, hi = INT_RANGE[f.type]  # 3.0 for an integer, as records allow
        # strictly inside, in floats: float(2**63 - 1) is 2**63, so the bounds themselves go per cell
        if not ((x == np.floor(x)) & (x > lo) & (x < hi)).all():
            return None
        return [int(v) for v in values] if kind is float else values
    ok = _CENSUS.get(f.type)
    if ok is None:  # datetime: parsed per value (there is no faster exact ISO 8601 parse)
        try:
            return [conv(v) for v in values]
        except _Bad:
            return None
    return values if set(map(type, values)) <= ok else None  # boolean / string: the census is the check


def _by_cell(values: Sequence[Any], f: Feature) -> list[Any]:
    """A column the whole-column check left to the per-cell converter (no cell of it is refused)."""
    from mlgate.records.typed import converter

    conv = converter(f.type)
    return [conv(v) for v in values]


def _first_refusal(cells: Any, features: Sequence[Feature]) -> None:
    """The first bad cell, row-major (as the records form finds it), refused in the records form's words."""
    from mlgate.records.typed import _Bad, _refusal, converter

    convs = [converter(f.type) for f in features]
    for i, row in enumerate(cells.tolist()):
        for j, v in enumerate(row):
            try:
                convs[j](v)
            except _Bad as bad:
                raise _refusal(i, features[j], v, bad.why) from None
