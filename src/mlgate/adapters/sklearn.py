"""scikit-learn adapter: the native path (numpy in, numpy out; no pyfunc).

A pipeline fitted on a DataFrame that selects columns by name (a ``ColumnTransformer``), or
one that takes text or date-time columns, gets a DataFrame with the fitted column names and
the signature's dtypes; everything else gets a numeric array.

Models saved by MLflow 3 in the skops format are loaded trusting skops' own defaults plus an
explicit list of type names (``SKOPS_ALLOWED``: named scikit-learn internals such as the tree
structures, never a prefix and never a builtins callable). A file holding any other type is
refused naming those types, unless an operator admitted that exact digest. Models saved with
(cloud)pickle run code when loaded: the loader refuses them unless admitted (``models/admission.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mlgate.adapters.tabular import TabularModel
from mlgate.domain import Feature, Matrix, Rows
from mlgate.errors import BackendError, Refused
from mlgate.records.frames import check_finite, labelled, values_of

# Exact type names (beyond skops' defaults) that scikit-learn models need; each is a data structure of
# scikit-learn, not a callable. Adding one is a reviewed change.
SKOPS_ALLOWED = frozenset(
    {
        "sklearn.tree._tree.Tree",
        "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
        "sklearn.ensemble._hist_gradient_boosting.binning._BinMapper",
        "sklearn.neural_network._stochastic_optimizers.AdamOptimizer",
        "sklearn.neural_network._stochastic_optimizers.SGDOptimizer",
        "sklearn._loss.loss.HalfBinomialLoss",
        "sklearn._loss.loss.HalfMultinomialLoss",
        "sklearn._loss.loss.HalfSquaredError",
        "sklearn._loss.loss.AbsoluteError",
        "sklearn._loss.loss.HalfPoissonLoss",
        "sklearn._loss.link.IdentityLink",
        "sklearn._loss.link.LogitLink",
        "sklearn._loss.link.MultinomialLogit",
        "sklearn._loss.link.LogLink",
        "collections.OrderedDict",
        "collections.defaultdict",
    }
)


def skops_refused(untrusted: Sequence[str], extra_trusted: frozenset[str] = frozenset()) -> list[str]:
    """The types of a skops file that neither skops' defaults nor ``SKOPS_ALLOWED`` (nor ``extra_trusted``) cover."""
    return [t for t in untrusted if t not in SKOPS_ALLOWED and t not in extra_trusted]


LINEAR = frozenset({"LinearRegression", "Ridge", "Lasso", "ElasticNet", "BayesianRidge", "HuberRegressor"})
TEXT_STEPS = ("CountVectorizer", "TfidfVectorizer", "HashingVectorizer")


def load_estimator(
    model_dir: Path,
    flavor_conf: dict[str, Any],
    extra_trusted: frozenset[str] = frozenset(),
    *,
    admitted: bool = False,
) -> Any:
    """Load the estimator a ``sklearn`` MLflow flavor points at.

    ``extra_trusted`` names further exact types (never prefixes) another flavor's adapter vouches for,
    e.g. LightGBM's scikit-learn classes; the trusted types listed in the MLmodel file are ignored:
    the artifact's writer does not decide what mlgate trusts. ``admitted``: an operator admitted this
    exact artifact (its digest was checked by the caller), so its types and pickles are loaded."""
    path = model_dir / str(flavor_conf.get("pickled_model", "model.skops"))
    fmt = str(flavor_conf.get("serialization_format", "skops"))
    if fmt == "skops":
        import skops.io as sio

        untrusted = sio.get_untrusted_types(file=path)
        refused = skops_refused(untrusted, extra_trusted)
        if refused and not admitted:
            raise Refused(
                f"the skops file holds types mlgate does not trust: {', '.join(refused[:8])}",
                "register models built from scikit-learn and NumPy types; an operator who reviewed this exact "
                "artifact can admit it (mlgate models admit NAME VERSION)",
            )
        return sio.load(path, trusted=untrusted)
    if fmt in ("cloudpickle", "pickle"):
        if not admitted:
            raise Refused(
                f"{path.name} is a {fmt} file: loading it runs code its writer chose",
                "save the model in the skops format, or have an operator admit this exact artifact "
                "(mlgate models admit NAME VERSION)",
            )
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


def needs_frame(est: Any) -> bool:
    """Fitted on a DataFrame and holding a ColumnTransformer (which may select columns by name)."""
    if getattr(est, "feature_names_in_", None) is None:
        return False
    from sklearn.compose import ColumnTransformer

    return any(isinstance(e, ColumnTransformer) for e in _walk(est))


def _walk(est: Any, depth: int = 0) -> list[Any]:
    found = [est]
    if depth > 8:
        return found
    children: list[Any] = [s for _, s in getattr(est, "steps", None) or []]
    children += [t for _, t, *_ in getattr(est, "transformers", None) or []]
    children += [t for _, t in getattr(est, "transformer_list", None) or []]
    for c in children:
        if c is not None and not isinstance(c, str):
            found += _walk(c, depth + 1)
    return found


def load(
    model_dir: Path,
    flavor_conf: dict[str, Any],
    features: Sequence[Feature],
    meta: dict[str, Any] | None = None,
    *,
    admitted: bool = False,
) -> SklearnModel:
    """The ``sklearn`` flavor of an MLflow model folder, as an adapter."""
    return SklearnModel(load_estimator(model_dir, flavor_conf, admitted=admitted), features)


class SklearnModel(TabularModel):
    """Predictor, Classifier or Analyzer over one fitted estimator."""

    def __init__(self, est: Any, features: Sequence[Feature] | None = None) -> None:
        feats = list(features) if features else features_of(est)
        names = getattr(est, "feature_names_in_", None)
        fitted = [str(n) for n in names] if names is not None else None
        super().__init__(est, feats, fitted_names=fitted, needs_names=needs_frame(est))
        self.est = est
        self.interfaces = interfaces_of(est)
        # Inputs are already checked (shape, finiteness) by mlgate; sklearn's own validation of a one-row
        # call costs more than the arithmetic of a linear model, so plain linear regressors answer directly.
        self._linear: tuple[Any, Any] | None = None
        if type(est).__name__ in LINEAR and getattr(est, "coef_", None) is not None:
            self._linear = (
                np.asarray(est.coef_, dtype=np.float64),
                np.asarray(est.intercept_, dtype=np.float64),
            )

    def predict(self, rows: Rows) -> list[Any]:
        if (
            self._linear is not None and self._frame is None
        ):  # the same arithmetic as LinearModel.predict, without its input checks
            coef, intercept = self._linear
            x = rows if rows.dtype == np.float64 else rows.astype(np.float64)
            with np.errstate(over="ignore", invalid="ignore"):  # an overflow is refused next, by name
                lin = np.asarray(x @ coef.T + intercept, dtype=np.float64).reshape(len(rows), -1)
            check_finite(lin, "output")
            values: list[Any] = lin[:, 0].tolist() if lin.shape[1] == 1 else lin.tolist()
            return values
        with np.errstate(over="ignore", invalid="ignore"):  # a non-finite output is refused by name
            out = self._call("predict", self.inputs(rows))
        return values_of(out, len(rows))

    def analyze(self, texts: Sequence[str]) -> list[tuple[str, float]]:
        proba = np.asarray(self._call("predict_proba", list(texts)), dtype=np.float64)
        best = proba.argmax(axis=1)
        return [(self.classes[b], float(proba[i, b])) for i, b in enumerate(best)]

    def _label(self, proba: Matrix) -> tuple[list[str], list[dict[str, float]]]:
        return labelled(proba, self.classes)
