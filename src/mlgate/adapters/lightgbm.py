"""LightGBM adapter: the ``lightgbm`` MLflow flavor loaded with LightGBM itself (no pyfunc).

A raw ``Booster`` is LightGBM's text format (no pickle): a Predictor. A scikit-learn-API model
(``LGBMClassifier``, ``LGBMRegressor``) is stored by MLflow with skops; it is loaded through
the scikit-learn adapter's trust rules plus the exact LightGBM types below. The trusted types
the MLmodel file lists are ignored (MLflow's own loader trusts them). A pickled one is loaded
like a pickled scikit-learn model: only after the version's digest matched.

A scikit-learn-API model is called through its ``Booster`` on the float64 rows: the wrapper's
``predict_proba`` checks the array with scikit-learn (four fifths of a 1,000-row call) and then makes
that same booster call (``np.vstack((1 - p, p))`` for two classes is ``labelled``'s own). Not when the
model names a prediction parameter the wrapper would pass on, or has its own objective function (its
``predict_proba`` then returns raw scores): those go through the wrapper.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from mlgate.adapters.tabular import TabularModel, default_features
from mlgate.domain import Feature
from mlgate.errors import Refused

SKOPS_TYPES = frozenset(
    {
        "lightgbm.basic.Booster",
        "lightgbm.sklearn.LGBMClassifier",
        "lightgbm.sklearn.LGBMRegressor",
        "lightgbm.sklearn.LGBMRanker",
    }
)
SKLEARN_CLASSES = frozenset(t for t in SKOPS_TYPES if t.startswith("lightgbm.sklearn."))
# LightGBM's prediction parameters (and aliases) a wrapper's own parameters could carry to its booster call
PREDICT_PARAMS = frozenset(
    {
        "pred_early_stop",
        "pred_early_stop_freq",
        "pred_early_stop_margin",
        "predict_disable_shape_check",
        "output_result",
        "name_pred",
        "pred_name",
        "predict_name",
        "predict_result",
        "prediction_name",
        "prediction_result",
    }
)


def load(
    model_dir: Path,
    flavor_conf: dict[str, Any],
    features: Sequence[Feature],
    meta: dict[str, Any] | None = None,
    *,
    admitted: bool = False,
) -> LightGBMModel:
    model_class = str(flavor_conf.get("model_class", "lightgbm.basic.Booster"))
    path = model_dir / str(flavor_conf.get("data", "model.lgb"))
    if model_class == "lightgbm.basic.Booster":
        import lightgbm as lgb

        return LightGBMModel(lgb.Booster(model_file=str(path)), features)
    if model_class not in SKLEARN_CLASSES:
        raise Refused(
            f"the lightgbm flavor names the class {model_class!r}, which mlgate does not load",
            "log a lightgbm Booster, LGBMClassifier, LGBMRegressor or LGBMRanker",
        )
    from mlgate.adapters.sklearn import load_estimator

    conf = {
        "pickled_model": path.name,
        "serialization_format": flavor_conf.get("serialization_format", "cloudpickle"),
    }
    return LightGBMModel(
        load_estimator(model_dir, conf, extra_trusted=SKOPS_TYPES, admitted=admitted), features
    )


class LightGBMModel(TabularModel):
    call_kwargs: ClassVar[Mapping[str, Any]] = {"num_threads": 1}  # one thread per call: tabular.py

    def __init__(self, model: Any, features: Sequence[Feature]) -> None:
        booster = model.booster_ if hasattr(model, "booster_") else model
        names = booster.feature_name()
        feats = list(features) or default_features(names, booster.num_feature())
        fitted = getattr(model, "feature_names_in_", None)
        super().__init__(model, feats, fitted_names=[str(n) for n in fitted] if fitted is not None else names)
        self._booster = booster if booster is not model and _booster_answers(model) else None

    def _call(self, method: str, x: Any) -> Any:
        """The booster's own call on an array, where it answers as the wrapper would (module docstring)."""
        booster = self._booster if isinstance(x, np.ndarray) else None
        if booster is not None and (method == "predict_proba" or (method == "predict" and not self.classes)):
            return booster.predict(x, **self.call_kwargs)
        return super()._call(method, x)


def _booster_answers(model: Any) -> bool:
    """The wrapper's ``predict`` / ``predict_proba`` is its booster's ``predict`` with no other parameter."""
    params = model.get_params()
    return not callable(params.get("objective")) and not PREDICT_PARAMS & set(params)
