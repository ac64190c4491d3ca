"""XGBoost adapter: the ``xgboost`` MLflow flavor loaded with XGBoost itself (no pyfunc).

The model file (``ubj``/``json``, or the legacy binary format) is XGBoost's own format: no pickle.
The class to instantiate comes from the flavor's ``model_class`` but only from the list below —
MLflow's own loader imports whatever class the MLmodel file names. A scikit-learn-API
classifier (``XGBClassifier``) is a Classifier with its ``classes_``; a raw ``Booster`` is a
Predictor over a ``DMatrix``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mlgate.adapters.tabular import TabularModel, default_features
from mlgate.domain import Feature, Rows
from mlgate.errors import BackendError, Refused
from mlgate.records.frames import values_of

CLASSES = ("XGBClassifier", "XGBRegressor", "XGBRFClassifier", "XGBRFRegressor", "XGBRanker")
FORMATS = ("ubj", "json", "xgb", "deprecated")


def load(
    model_dir: Path,
    flavor_conf: dict[str, Any],
    features: Sequence[Feature],
    meta: dict[str, Any] | None = None,
    *,
    admitted: bool = False,  # the loader's seam (FlavorLoader); this format runs no code of its own
) -> XGBoostModel:
    import xgboost as xgb

    model_class = str(flavor_conf.get("model_class", "xgboost.core.Booster"))
    fmt = str(flavor_conf.get("model_format", "xgb"))
    if fmt not in FORMATS:
        raise BackendError(f"unknown XGBoost model format {fmt!r}", f"known formats: {', '.join(FORMATS)}")
    module, _, name = model_class.rpartition(".")
    if model_class in ("xgboost.core.Booster", "xgboost.Booster"):
        model: Any = xgb.Booster()
    elif module in ("xgboost.sklearn", "xgboost") and name in CLASSES:
        model = getattr(xgb, name)()
    else:
        raise Refused(
            f"the xgboost flavor names the class {model_class!r}, which mlgate does not load",
            f"log models of these classes: Booster, {', '.join(CLASSES)}",
        )
    model.load_model(str(model_dir / str(flavor_conf.get("data", "model.xgb"))))
    return XGBoostModel(model, features)


class XGBoostModel(TabularModel):
    def __init__(self, model: Any, features: Sequence[Feature]) -> None:
        booster = model if not hasattr(model, "get_booster") else model.get_booster()
        names = booster.feature_names
        feats = list(features) or default_features(names, booster.num_features())
        super().__init__(model, feats, fitted_names=names)
        booster.set_param(
            {"nthread": 1}
        )  # one thread per call (tabular.py); the sklearn wrapper predicts with it
        if hasattr(model, "n_jobs"):
            model.n_jobs = 1
        self.booster = booster
        self._raw = not hasattr(model, "get_booster")
        if self._raw:
            self.interfaces = ("predictor",)

    def predict(self, rows: Rows) -> list[Any]:
        if self._raw:
            import xgboost as xgb

            x = self.inputs(rows)
            names = self.booster.feature_names
            out = self.booster.predict(
                xgb.DMatrix(x, feature_names=names if names and not hasattr(x, "columns") else None)
            )
            return values_of(out, len(rows))
        return super().predict(rows)
