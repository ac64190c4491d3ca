"""CatBoost adapter: the ``catboost`` MLflow flavor loaded with CatBoost itself (no pyfunc).

The model file is CatBoost's own format (``cbm``, or ``json``/``onnx`` export formats CatBoost
reads back): no pickle. ``CatBoostClassifier`` is a Classifier with its ``classes_``; a
regressor, ranker or generic ``CatBoost`` model is a Predictor. Text (categorical) columns
go in as CatBoost's ``FeaturesData`` (the number columns as one float32 block, the text columns as one
object block, each in the model's column order) when the model's text columns come after its number
columns and the version types them ``string`` and ``double``/``float``: CatBoost's own split of a
DataFrame, without building one (a third of its call on 1,000 rows). Any other model takes a DataFrame
with its feature names.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from mlgate.adapters.tabular import TabularModel, default_features
from mlgate.domain import Feature, Rows
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
    call_kwargs: ClassVar[Mapping[str, Any]] = {"thread_count": 1}  # one thread per call: tabular.py

    def __init__(self, model: Any, features: Sequence[Feature]) -> None:
        names = list(model.feature_names_ or [])
        feats = list(features) or default_features(names, len(names))
        cat = set(model.get_cat_feature_indices() or [])
        super().__init__(model, feats, fitted_names=names or None, needs_names=bool(cat))
        if model_type_of(model) != "CatBoostClassifier":
            self.interfaces = ("predictor",)
        self._split = split_plan(feats, names, sorted(cat), _other_features(model))

    def inputs(self, rows: Rows) -> Any:
        if self._split is None:
            return super().inputs(rows)
        from catboost import FeaturesData

        nums, texts = self._split
        return FeaturesData(
            num_feature_data=np.ascontiguousarray(rows[:, nums].astype(np.float32)),
            cat_feature_data=np.ascontiguousarray(rows[:, texts], dtype=object),
        )


def split_plan(
    features: Sequence[Feature], fitted: Sequence[str], cat: Sequence[int], others: bool
) -> tuple[list[int], list[int]] | None:
    """Where the model's number and text columns are among the rows' columns (feature order), when CatBoost
    can take them as ``FeaturesData``: the text (categorical) columns are the model's last ones, typed
    ``string``, and every other column is a ``double``/``float``. None otherwise (a DataFrame then)."""
    names = [f.name for f in features]
    if not cat or others or len(features) != len(fitted):
        return None
    # rows' column of each model column: by name when the names match, else by position (as the frame plan)
    where = [names.index(n) for n in fitted] if set(fitted) == set(names) else list(range(len(names)))
    n_num = len(fitted) - len(cat)
    if list(cat) != list(range(n_num, len(fitted))):
        return None  # FeaturesData puts the number columns first
    nums, texts = where[:n_num], where[n_num:]
    if any(features[j].type not in ("double", "float") for j in nums):
        return None
    if any(features[j].type != "string" for j in texts):
        return None
    return nums, texts


def _other_features(model: Any) -> bool:
    """The model also takes text or embedding features (beyond numbers and categories)."""
    for get in ("get_text_feature_indices", "get_embedding_feature_indices"):
        fn = getattr(model, get, None)
        if fn is not None and list(fn() or []):
            return True
    return False


def model_type_of(model: Any) -> str:
    return type(model).__name__
