"""The shared core of the native tabular adapters (scikit-learn, XGBoost, LightGBM, CatBoost).

One fitted model with ``predict`` (and ``predict_proba``): it is a Classifier, with the
model's own class labels, when it has both ``predict_proba`` and ``classes_``; a Predictor
otherwise. Rows are handed over as a numeric array (the fast path) or, when the model
selects columns by name or takes text / date-time columns, as a DataFrame with the fitted
column names and the signature's dtypes.

A call runs on one thread of the library (``call_kwargs``: LightGBM's ``num_threads``, CatBoost's
``thread_count``; XGBoost's booster is set to ``nthread=1`` when loaded), as ONNX Runtime sessions do:
the server runs calls side by side, and a library's worker threads that spin after their call on a busy
host take the cores the server's own work needs. Trees answer each row alone: the numbers are the same.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

from mlgate.domain import Feature, Rows
from mlgate.records.frames import frame_of, labelled, numeric_of, values_of

FRAME_TYPES = frozenset({"string", "datetime"})


def default_features(names: Any, n: Any) -> list[Feature]:
    """Features from a model's own column names, else ``f0…`` for its input width (typed ``double``)."""
    if names is not None and len(names):
        return [Feature(str(c)) for c in names]
    return [Feature(f"f{i}") for i in range(int(n))] if n else []


def class_labels(model: Any) -> list[str]:
    classes = getattr(model, "classes_", None)
    return [str(c) for c in np.asarray(classes).ravel().tolist()] if classes is not None else []


class TabularModel:
    """Predictor or Classifier over ``model``; subclasses set how rows reach it (``inputs``) and what each
    call passes the library besides them (``call_kwargs``)."""

    call_kwargs: ClassVar[Mapping[str, Any]] = {}  # a subclass sets its own

    def __init__(
        self,
        model: Any,
        features: Sequence[Feature],
        *,
        fitted_names: Sequence[str] | None = None,
        needs_names: bool = False,
        dtype: Any = np.float64,
    ) -> None:
        self.model = model
        self.features = list(features)
        self.classes = class_labels(model)
        offered = bool(self.classes) and callable(getattr(model, "predict_proba", None))
        self.interfaces: tuple[str, ...] = ("classifier",) if offered else ("predictor",)
        self.dtype = dtype
        self._quiet = fitted_names is not None  # fitted on a frame: numpy input warns, harmlessly
        wants_frame = needs_names or any(f.type in FRAME_TYPES for f in self.features)
        self._frame: tuple[list[Feature], list[str] | None] | None = None
        if wants_frame:
            self._frame = _frame_plan(self.features, fitted_names)

    def inputs(self, rows: Rows) -> Any:
        if self._frame is not None:
            feats, order = self._frame
            return frame_of(rows, feats, order)
        return numeric_of(rows, self.dtype)

    def _call(self, method: str, x: Any) -> Any:
        fn = getattr(self.model, method)
        if not self._quiet:
            return fn(x, **self.call_kwargs)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return fn(x, **self.call_kwargs)

    def predict(self, rows: Rows) -> list[Any]:
        return values_of(self._call("predict", self.inputs(rows)), len(rows))

    def classify(self, rows: Rows) -> tuple[list[str], list[dict[str, float]]]:
        return labelled(self._call("predict_proba", self.inputs(rows)), self.classes)


def _frame_plan(
    features: list[Feature], fitted: Sequence[str] | None
) -> tuple[list[Feature], list[str] | None]:
    """Frame columns named as the model was fitted: reordered when the names match, renamed by position when
    the version's features carry other names for the same columns."""
    names = [f.name for f in features]
    if not fitted or list(fitted) == names:
        return features, None
    if set(fitted) == set(names):
        return features, list(fitted)
    if len(fitted) == len(names):
        return [Feature(str(n), f.type) for n, f in zip(fitted, features, strict=True)], None
    return features, None
