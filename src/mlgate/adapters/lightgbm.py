"""LightGBM adapter: the ``lightgbm`` MLflow flavor loaded with LightGBM itself (no pyfunc).

A raw ``Booster`` is LightGBM's text format (no pickle): a Predictor. A scikit-learn-API model
(``LGBMClassifier``, ``LGBMRegressor``) is stored by MLflow with skops; it is loaded through
the scikit-learn adapter's trust rules plus the exact LightGBM types below. The trusted types
the MLmodel file lists are ignored (MLflow's own loader trusts them). A pickled one is loaded
like a pickled scikit-learn model: only after the version's digest matched.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

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
