"""mlgate's own model flavor: small models stored as JSON parameters, no pickle.

An MLmodel file with ``flavors.mlgate: {kind, params}`` (and a ``python_function``
flavor pointing back here, so plain MLflow can load it too). Kinds:
``seasonal_trend`` (Forecaster) and ``binseg_mean`` (Segmenter).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mlgate.errors import BackendError
from mlgate.interfaces.base import Interval

KIND_INTERFACE = {"seasonal_trend": "forecaster", "binseg_mean": "segmenter"}


class SeasonalForecaster:
    def __init__(self, params: dict[str, Any]) -> None:
        self.params = params

    def forecast(
        self, history: Sequence[float], horizon: int, levels: Sequence[float]
    ) -> tuple[list[float], list[Interval]]:
        from mlgate.interfaces.seasonal import forecast_seasonal

        return forecast_seasonal(self.params, history, horizon, levels)


class MeanShiftSegmenter:
    def __init__(self, params: dict[str, Any]) -> None:
        self.params = params

    def segment(self, series: Sequence[float]) -> tuple[list[int], list[tuple[int, int, float]]]:
        from mlgate.interfaces.changepoint import segment_series

        return segment_series(self.params, series)


def load_native(model_dir: Path, flavor_conf: dict[str, Any]) -> SeasonalForecaster | MeanShiftSegmenter:
    kind = flavor_conf.get("kind")
    params = json.loads((model_dir / str(flavor_conf.get("params", "params.json"))).read_text())
    if kind == "seasonal_trend":
        return SeasonalForecaster(params)
    if kind == "binseg_mean":
        return MeanShiftSegmenter(params)
    raise BackendError(f"unknown mlgate model kind {kind!r}", f"known kinds: {', '.join(KIND_INTERFACE)}")


def _load_pyfunc(path: str) -> Any:
    """Entry point for ``mlflow.pyfunc.load_model`` on an mlgate-flavored model."""
    import yaml

    root = Path(path)
    if not (root / "MLmodel").exists():
        root = root.parent
    conf = yaml.safe_load((root / "MLmodel").read_text())["flavors"]["mlgate"]
    return load_native(root, conf)


def write_native(folder: Path, kind: str, params: dict[str, Any], metadata: dict[str, Any]) -> None:
    """Write an mlgate-flavored MLflow model folder."""
    import yaml

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "params.json").write_text(json.dumps(params, indent=1, sort_keys=True))
    mlmodel = {
        "artifact_path": "model",
        "flavors": {
            "mlgate": {"kind": kind, "params": "params.json"},
            "python_function": {"loader_module": "mlgate.interfaces.native", "data": "params.json"},
        },
        "metadata": metadata,
        "mlflow_version": "3.17",
    }
    (folder / "MLmodel").write_text(yaml.safe_dump(mlmodel, sort_keys=True))
