"""Why a model call failed on its input: the features of a record outside the range the version saw in training.

A NaN or infinite output (``interfaces/frames.NonFiniteOutput``) is almost always an input far outside the
training data; the guards (``guards.py``) only warn about such values by default. ``explain_non_finite``
turns the model's failure into an ``InvalidInput`` that names the record and each feature outside its
training range, with the range (``VersionInfo.stats``), so the agent can fix the call.
"""

from __future__ import annotations

import numpy as np

from mlgate.domain import VersionInfo
from mlgate.errors import InvalidInput


def outside_training(
    info: VersionInfo, rows: np.ndarray
) -> list[tuple[int, list[tuple[str, float, float, float]]]]:
    """[(row, [(feature, value, training min, training max), …]), …] for rows with a feature outside the
    training range (``info.stats``); empty when the version has no statistics or the rows are not numbers."""
    if rows.ndim != 2 or rows.dtype.kind != "f" or rows.shape[1] != len(info.features):
        return []
    out = []
    for i, row in enumerate(rows):
        far = []
        for f, v in zip(info.features, row.tolist(), strict=True):
            s = info.stats.get(f.name) or {}
            lo, hi = s.get("min"), s.get("max")
            if lo is not None and hi is not None and not (float(lo) <= v <= float(hi)):
                far.append((f.name, float(v), float(lo), float(hi)))
        if far:
            out.append((i, far))
    return out


def explain_non_finite(
    info: VersionInfo, rows: np.ndarray, what: str, value: float, records: list[int]
) -> InvalidInput | None:
    """The input error behind a non-finite output: the record and its features outside their training range.
    ``records`` index ``rows`` only when the model was given exactly these rows; otherwise (a batch) the first
    record with a feature outside its range is named. None when no feature is out of range."""
    far = dict(outside_training(info, rows))
    if not far:
        return None
    i = next((r for r in records if r in far), next(iter(far)))
    named = "; ".join(
        f"'{n}' = {v:.6g} is outside its training range [{lo:.6g}, {hi:.6g}]" for n, v, lo, hi in far[i][:5]
    )
    others = [r for r in far if r != i]
    more = f" (records {', '.join(map(str, others[:10]))} too)" if others else ""
    return InvalidInput(
        f"the model's {what} for record {i} is {value} (not a finite number): {named}{more}",
        f"send {', '.join(repr(n) for n, *_ in far[i][:5])} within the training range (ml_model_info lists it)",
    )
