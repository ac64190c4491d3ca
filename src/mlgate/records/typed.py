"""Records checked against typed signature columns (``long``, ``boolean``, ``string``, ``datetime``, …).

Each cell is converted to its column's Python type (int, bool, str, float, ``datetime``) in an
object matrix, so the batcher can stack requests and an adapter can build a frame with the
right dtypes (``frames.py``). A refusal names the record, the feature, the type expected and
what came; numbers must be finite, integers must fit their width.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import numpy as np

from mlgate.domain import Feature, Rows
from mlgate.errors import InvalidInput

FLOAT32_MAX = 3.4028234663852886e38
INT_RANGE = {"long": (-(2**63), 2**63 - 1), "integer": (-(2**31), 2**31 - 1)}
SAYS = {
    "double": "a number (double)",
    "float": "a number (float, 32-bit)",
    "long": "an integer (long, 64-bit)",
    "integer": "an integer (integer, 32-bit)",
    "boolean": "true or false (boolean)",
    "string": "a string",
    "datetime": "an ISO 8601 date-time string (datetime)",
}


class _Bad(Exception):
    """A cell that does not fit its column; ``why`` completes the sentence when the type was right."""

    def __init__(self, why: str = "") -> None:
        super().__init__(why)
        self.why = why


def _number(v: Any) -> float:
    if type(v) not in (int, float):  # bool is an int subclass: refused on purpose
        raise _Bad
    try:
        x = float(v)
    except OverflowError:  # an int beyond float64
        raise _Bad(
            f"is an integer of {v.bit_length()} bits, beyond a 64-bit float (±{sys.float_info.max:.4g})"
        ) from None
    if not math.isfinite(x):
        raise _Bad(f"is {v}; send finite numbers only")
    return x


def _float32(v: Any) -> float:
    x = _number(v)
    if abs(x) > FLOAT32_MAX:
        raise _Bad(f"{v!r} is out of range for its type float (32-bit, at most ±{FLOAT32_MAX:.4g})")
    return x


def _integer(kind: str) -> Callable[[Any], int]:
    lo, hi = INT_RANGE[kind]

    def conv(v: Any) -> int:
        if type(v) is float and math.isfinite(v) and v.is_integer():
            v = int(v)  # 3.0 from a JSON encoder that writes every number as a float
        if type(v) is not int:
            raise _Bad
        if not lo <= v <= hi:
            raise _Bad(f"{v} does not fit its type {kind} ({lo}…{hi})")
        return v

    return conv


def _boolean(v: Any) -> bool:
    if type(v) is not bool:
        raise _Bad
    return v


def _string(v: Any) -> str:
    if type(v) is not str:
        raise _Bad
    return v


def _datetime(v: Any) -> datetime:
    if type(v) is not str:
        raise _Bad
    try:
        return datetime.fromisoformat(v.replace("Z", "+00:00") if v.endswith("Z") else v)
    except ValueError:
        raise _Bad(f"{v!r:.40} is not an ISO 8601 date-time such as 2026-11-30T12:00:00") from None


CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "double": _number,
    "float": _float32,
    "long": _integer("long"),
    "integer": _integer("integer"),
    "boolean": _boolean,
    "string": _string,
    "datetime": _datetime,
}


def converter(ftype: str) -> Callable[[Any], Any]:
    conv = CONVERTERS.get(ftype)
    if conv is None:
        raise InvalidInput(
            f"this model takes a column of type {ftype!r}, which mlgate cannot send",
            f"mlgate sends these column types: {', '.join(CONVERTERS)}",
        )
    return conv


def to_typed(records: list[Any], features: Sequence[Feature]) -> Rows:
    """Checked records (a non-empty list, within limits) → an object matrix of converted cells."""
    names = [f.name for f in features]
    convs = [converter(f.type) for f in features]
    expected = set(names)
    width = len(names)
    out = np.empty((len(records), width), dtype=object)
    for i, rec in enumerate(records):
        if not isinstance(rec, dict):
            raise InvalidInput(
                f"record {i} is a {type(rec).__name__}, not an object", "send one object per row"
            )
        if len(rec) != width or rec.keys() != expected:
            explain_keys(i, rec, names)
        row = out[i]
        for j, name in enumerate(names):
            v = rec[name]
            try:
                row[j] = convs[j](v)
            except _Bad as bad:
                raise _refusal(i, features[j], v, bad.why) from None
    return out


def _refusal(i: int, f: Feature, v: Any, why: str) -> InvalidInput:
    says = SAYS.get(f.type, f.type)
    where = [f"features[{i}].{f.name}"]  # what the ledger keeps: the field, not the value
    if why:
        return InvalidInput(f"record {i}, feature {f.name!r}: {why}", f"send {says}", fields=where)
    got = "null" if v is None else f"{type(v).__name__} {v!r:.40}"
    return InvalidInput(
        f"record {i}, feature {f.name!r}: expected {says}, got {got}", f"send {says}", fields=where
    )


def explain_keys(i: int, rec: dict[str, Any], names: list[str]) -> None:
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
