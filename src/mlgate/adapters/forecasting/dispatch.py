"""Which forecasting adapter serves an artifact: the one place that knows all of them.

``common`` (checks and the flavor reading), ``future`` (the future-frame form) and one module
per library (``statsmodels``, ``prophet``, ``pyfunc``, ``pyfunc_future``) import nothing of each
other's dispatch; this module sits above them all, so the package has no import cycle.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlgate.adapters.forecasting.common import forecaster_kind
from mlgate.adapters.forecasting.future import HorizonForm
from mlgate.adapters.forecasting.pyfunc import PyfuncForecaster
from mlgate.domain import Forecaster
from mlgate.errors import BackendError


def load_forecaster(model_dir: Path, mlmodel: dict[str, Any]) -> Forecaster | None:
    """The Forecaster over a verified model folder, or None when the version is not a forecaster."""
    kind = forecaster_kind(mlmodel)
    flavors: dict[str, Any] = mlmodel.get("flavors") or {}
    if kind == "statsmodels":
        from mlgate.adapters.forecasting.statsmodels import load_statsmodels

        return load_statsmodels(model_dir, flavors["statsmodels"])
    if kind == "prophet":
        from mlgate.adapters.forecasting.prophet import load_prophet

        return load_prophet(model_dir, flavors["prophet"])
    if kind == "pyfunc":
        return load_pyfunc_forecaster(model_dir)
    return None


def load_pyfunc_forecaster(model_dir: Path) -> PyfuncForecaster:
    import mlflow.pyfunc

    model = mlflow.pyfunc.load_model(str(model_dir))
    params = model.metadata.get_params_schema()
    names = {p.name for p in params.params} if params is not None else set()
    if "horizon" not in names:
        from mlgate.adapters.forecasting.pyfunc_future import future_frame_forecaster

        found = future_frame_forecaster(model, names)
        if found is not None:
            return found  # type: ignore[return-value]
        raise BackendError(
            "this pyfunc forecaster's signature declares no 'horizon' parameter, so MLflow would drop it",
            'log it with signature=infer_signature(frame, output, params={"horizon": 12, "levels": [0.8, 0.95]}) '
            "(see docs/forecasting.md)",
        )
    return PyfuncForecaster(model, takes_levels="levels" in names)


def described_form(path: Any, mlmodel: dict[str, Any]) -> Any | None:
    """A forecaster's form from its files, running no code: Prophet from its JSON, a pyfunc from its
    signature (``horizon`` or ``future``); None for a pickle (statsmodels), readable only once admitted."""
    kind = forecaster_kind(mlmodel)
    if kind == "prophet":
        from mlgate.adapters.forecasting.prophet import load_prophet

        return load_prophet(path, (mlmodel.get("flavors") or {})["prophet"])
    if kind == "pyfunc":
        from mlgate.adapters.forecasting.pyfunc_future import form_of

        return form_of(mlmodel) or HorizonForm()
    return None
