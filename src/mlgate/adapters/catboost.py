"""CatBoost adapter: the ``catboost`` MLflow flavor loaded with CatBoost itself (no pyfunc).

The model file is CatBoost's own format (``cbm``, or ``json``/``onnx`` export formats CatBoost
reads back): no pickle. ``CatBoostClassifier`` is a Classifier with its ``classes_``; a
regressor, ranker or generic ``CatBoost`` model is a Predictor. Text (categorical) columns
go in as a DataFrame with the model's feature names.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mlgate.adapters.tabular import TabularModel, default_features
from mlgate.domain import Feature
from mlgate.errors import Refused

MODEL_TYPES = ("CatBoost", "CatBoostClassifier", "CatBoostRegressor", "CatBoostRanker")
READABLE = ("cbm", "json", "onnx")


def load(
    model_dir: Path,
    flavor_conf: dict[str, Any],
    features: Sequence[Feature],
    meta: dict[str, Any] | None = None,
    *,
    admitted: bool = False,  # the loader's seam (FlavorLoader); this format runs no code of its own
) -> CatBoostModel:
    import catboost

    model_type = str(flavor_conf.get("model_type", "CatBoost"))
    fmt = str(flavor_conf.get("save_format", "cbm"))
    if model_type not in MODEL_TYPES or fmt not in READABLE:
        raise Refused(
            f"the catboost flavor names {model_type!r} saved as {fmt!r}, which mlgate does not load",
            f"log one of {', '.join(MODEL_TYPES)} in one of the formats {', '.join(READABLE)}",
        )
    model = getattr(catboost, model_type)()
    model.load_model(str(model_dir / str(flavor_conf.get("data", "model.cb"))), format=fmt)
    return CatBoostModel(model, features)


class CatBoostModel(TabularModel):
    def __init__(self, model: Any, features: Sequence[Feature]) -> None:
        names = list(model.feature_names_ or [])
        feats = list(features) or default_features(names, len(names))
        cat = set(model.get_cat_feature_indices() or [])
        super().__init__(model, feats, fitted_names=names or None, needs_names=bool(cat))
        if model_type_of(model) != "CatBoostClassifier":
            self.interfaces = ("predictor",)


def model_type_of(model: Any) -> str:
    return type(model).__name__
