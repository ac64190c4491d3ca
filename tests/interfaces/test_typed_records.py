"""Records against typed columns: converted to the column's type, refused with the row, feature and type."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np
import pytest

from mlgate.domain import Feature
from mlgate.errors import BackendError, InvalidInput
from mlgate.records.checks import to_rows
from mlgate.records.frames import frame_of, labelled, values_of

LIMITS = {"max_rows": 100, "max_cells": 1000}
FEATS = [
    Feature("x"),
    Feature("n", "long"),
    Feature("i", "integer"),
    Feature("ok", "boolean"),
    Feature("s", "string"),
    Feature("t", "datetime"),
    Feature("f", "float"),
]
GOOD = {"x": 1.5, "n": 7, "i": -3, "ok": False, "s": "north", "t": "2026-11-30T12:00:00Z", "f": 0.25}


def refused(rec: dict[str, Any]) -> str:
    with pytest.raises(InvalidInput) as err:
        to_rows([GOOD, {**GOOD, **rec}], FEATS, **LIMITS)
    return str(err.value)


def test_all_doubles_take_the_float64_fast_path() -> None:
    rows = to_rows([{"a": 1, "b": 2.5}], [Feature("a"), Feature("b")], **LIMITS)
    assert rows.dtype == np.float64 and rows.tolist() == [[1.0, 2.5]]


def test_typed_cells_and_frame_dtypes() -> None:
    rows = to_rows([GOOD], FEATS, **LIMITS)
    assert rows.dtype == object
    assert [type(v) for v in rows[0]] == [float, int, int, bool, str, datetime, float]
    frame = frame_of(rows, FEATS)
    assert [str(t) for t in frame.dtypes][:4] == ["float64", "int64", "int32", "bool"]
    assert str(frame.dtypes["s"]) == "object"  # Python strings, not pandas 3's str dtype
    assert str(frame.dtypes["t"]).startswith("datetime64") and str(frame.dtypes["f"]) == "float32"


@pytest.mark.parametrize(
    ("rec", "says"),
    [
        ({"i": 2**40}, "record 1, feature 'i': 1099511627776 does not fit its type integer"),
        ({"ok": "yes"}, "record 1, feature 'ok': expected true or false (boolean), got str 'yes'"),
        ({"s": None}, "record 1, feature 's': expected a string, got null"),
        ({"t": "yesterday"}, "record 1, feature 't': 'yesterday' is not an ISO 8601 date-time"),
        (
            {"t": 1700000000},
            "record 1, feature 't': expected an ISO 8601 date-time string (datetime), got int",
        ),
        ({"f": 1e39}, "record 1, feature 'f': 1e+39 is out of range for its type float (32-bit"),
        ({"x": float("-inf")}, "record 1, feature 'x': is -inf; send finite numbers only"),
    ],
)
def test_refusals_name_row_feature_type_and_value(rec: dict[str, Any], says: str) -> None:
    assert says in refused(rec)


def test_float32_range_on_the_fast_path() -> None:
    with pytest.raises(
        InvalidInput, match=r"record 0, feature 'b': 1e\+308 is out of range for its type float"
    ):
        to_rows([{"a": 1.0, "b": 1e308}], [Feature("a"), Feature("b", "float")], **LIMITS)


def test_unsupported_column_type_says_so() -> None:
    with pytest.raises(InvalidInput, match="type 'binary'"):
        to_rows([{"b": "x"}], [Feature("b", "binary")], **LIMITS)


def test_limits_hold_for_typed_records_too() -> None:
    with pytest.raises(InvalidInput, match="more than the limit"):
        to_rows([GOOD] * 101, FEATS, **LIMITS)


def test_outputs_must_be_finite() -> None:
    assert values_of(np.array([1.0, 2.0]), 2) == [1.0, 2.0]
    with pytest.raises(BackendError, match=r"output for record 1 is nan \(not a finite number\)"):
        values_of(np.array([1.0, np.nan]), 2)
    with pytest.raises(BackendError, match="probability for record 0 is inf"):
        labelled(np.array([[np.inf, 0.0]]), ["a", "b"])
    assert labelled(np.array([0.2, 0.9]), ["no", "yes"])[0] == ["no", "yes"]  # P(class 1) only
