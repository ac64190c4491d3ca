"""mlgate's own model flavor: models whose whole state is a few settings, stored as JSON, no pickle.

An MLmodel file with ``flavors.mlgate: {kind, params}`` and a ``python_function`` flavor pointing
back here, so plain MLflow loads it too (``mlflow.pyfunc.load_model(uri).predict(frame)``, with
the series in the frame's first column, returns the breakpoints). Kinds: ``ruptures`` (a
ruptures change-point detector, Segmenter; see ``changepoint.py``) and its former name
``binseg_mean``. The hand-written ``seasonal_trend`` forecaster is gone: forecasters are
statsmodels, Prophet or pyfunc models (``forecasting.py``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mlgate.errors import BackendError

KIND_INTERFACE = {"ruptures": "segmenter", "binseg_mean": "segmenter"}


class RupturesSegmenter:
    interfaces: tuple[str, ...] = ("segmenter",)

    def __init__(self, params: dict[str, Any]) -> None:
        self.params = params

    def segment(self, series: Sequence[float]) -> tuple[list[int], list[tuple[int, int, float]]]:
        from mlgate.adapters.changepoint import segment_series

        return segment_series(self.params, series)

    def predict(self, model_input: Any, params: dict[str, Any] | None = None) -> list[int]:
        """pyfunc entry: the breakpoints of the series in the first column of ``model_input``."""
        import numpy as np

        values = np.asarray(model_input, dtype=np.float64)
        return self.segment((values[:, 0] if values.ndim == 2 else values).tolist())[0]


def load_native(model_dir: Path, flavor_conf: dict[str, Any]) -> RupturesSegmenter:
    kind = flavor_conf.get("kind")
    if kind not in KIND_INTERFACE:
        hint = f"known kinds: {', '.join(KIND_INTERFACE)}"
        if kind == "seasonal_trend":
            hint = "this demo forecaster came from an older mlgate; run `mlgate demo` in a fresh MLGATE_HOME"
        raise BackendError(f"unknown mlgate model kind {kind!r}", hint)
    params = json.loads((model_dir / str(flavor_conf.get("params", "params.json"))).read_text())
    return RupturesSegmenter(params)


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
            "python_function": {"loader_module": "mlgate.adapters.native", "data": "params.json"},
        },
        "metadata": metadata,
        "mlflow_version": "3.17",
    }
    (folder / "MLmodel").write_text(yaml.safe_dump(mlmodel, sort_keys=True))
