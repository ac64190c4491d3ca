"""scikit-learn adapter: the native path (numpy in, numpy out; no pandas, no pyfunc).

Models saved by MLflow 3 in the skops format are loaded with an explicit list of
trusted types: scikit-learn and NumPy types only. Anything else inside the file is
refused with the names of the untrusted types, so an artifact cannot smuggle in an
arbitrary callable. Models saved with (cloud)pickle by plain MLflow code come from the
organisation's own registry and are loaded only after their digest matched.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mlgate.errors import BackendError, IntegrityError
from mlgate.interfaces.base import Feature, Matrix

TRUSTED_PREFIXES = ("sklearn.", "numpy.", "scipy.sparse.", "builtins.", "collections.")
LINEAR = frozenset({"LinearRegression", "Ridge", "Lasso", "ElasticNet", "BayesianRidge", "HuberRegressor"})
TEXT_STEPS = ("CountVectorizer", "TfidfVectorizer", "HashingVectorizer")


def load_estimator(model_dir: Path, flavor_conf: dict[str, Any]) -> Any:
    """Load the estimator a ``sklearn`` MLflow flavor points at."""
    path = model_dir / str(flavor_conf.get("pickled_model", "model.skops"))
    fmt = str(flavor_conf.get("serialization_format", "skops"))
    if fmt == "skops":
        import skops.io as sio

        untrusted = sio.get_untrusted_types(file=path)
        refused = [t for t in untrusted if not t.startswith(TRUSTED_PREFIXES)]
        if refused:
            raise IntegrityError(
                f"the skops file holds types mlgate does not trust: {', '.join(refused[:8])}",
                "register models built only from scikit-learn and NumPy types",
            )
        return sio.load(path, trusted=untrusted)
    if fmt in ("cloudpickle", "pickle"):
        import pickle

        with path.open("rb") as f:
            return pickle.load(f)
    raise BackendError(f"unknown scikit-learn serialization format {fmt!r}")


def interfaces_of(est: Any) -> tuple[str, ...]:
    if is_text_pipeline(est):
        return ("analyzer",)
    if _is_classifier(est):
        return ("classifier",)
    return ("predictor",)


def _is_classifier(est: Any) -> bool:
    try:
        from sklearn.base import is_classifier

        return bool(is_classifier(est)) and hasattr(est, "predict_proba")
    except Exception:
        return False


def is_text_pipeline(est: Any) -> bool:
    steps: Any = getattr(est, "steps", None)
    return bool(steps) and type(steps[0][1]).__name__ in TEXT_STEPS


def features_of(est: Any) -> list[Feature]:
    names = getattr(est, "feature_names_in_", None)
    if names is not None:
        return [Feature(str(n)) for n in names]
    n = getattr(est, "n_features_in_", None)
    return [Feature(f"f{i}") for i in range(int(n))] if n else []


class SklearnModel:
    """Predictor, Classifier or Analyzer over one fitted estimator."""

    def __init__(self, est: Any) -> None:
        self.est = est
        # An estimator fitted on a DataFrame warns when given numpy; the warning is noise here.
        self._quiet = hasattr(est, "feature_names_in_")
        classes = getattr(est, "classes_", None)
        self.classes = [str(c) for c in classes] if classes is not None else []
        # Inputs are already checked (shape, finiteness) by mlgate; sklearn's own validation of a one-row
        # call costs more than the arithmetic of a linear model, so plain linear regressors answer directly.
        self._linear: tuple[Any, Any] | None = None
        if type(est).__name__ in LINEAR and getattr(est, "coef_", None) is not None:
            self._linear = (np.asarray(est.coef_, dtype=np.float64), np.asarray(est.intercept_, dtype=np.float64))

    def _call(self, method: str, x: Any) -> Any:
        fn = getattr(self.est, method)
        if not self._quiet:
            return fn(x)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return fn(x)

    def predict(self, rows: Matrix) -> list[Any]:
        if self._linear is not None:  # the same arithmetic as LinearModel.predict, without its input checks
            coef, intercept = self._linear
            lin = np.asarray(rows @ coef.T + intercept, dtype=np.float64).reshape(len(rows), -1)
            values: list[Any] = lin[:, 0].tolist() if lin.shape[1] == 1 else lin.tolist()
            return values
        out = np.asarray(self._call("predict", rows), dtype=np.float64).reshape(len(rows), -1)
        return out[:, 0].tolist() if out.shape[1] == 1 else out.tolist()

    def classify(self, rows: Matrix) -> tuple[list[str], list[dict[str, float]]]:
        proba = np.asarray(self._call("predict_proba", rows), dtype=np.float64)
        return self._label(proba)

    def analyze(self, texts: Sequence[str]) -> list[tuple[str, float]]:
        proba = np.asarray(self._call("predict_proba", list(texts)), dtype=np.float64)
        best = proba.argmax(axis=1)
        return [(self.classes[b], float(proba[i, b])) for i, b in enumerate(best)]

    def _label(self, proba: Matrix) -> tuple[list[str], list[dict[str, float]]]:
        classes = self.classes
        best = proba.argmax(axis=1)
        labels = [classes[b] for b in best]
        dists = [dict(zip(classes, row, strict=True)) for row in proba.tolist()]
        return labels, dists
