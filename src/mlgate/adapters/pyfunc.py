"""Generic MLflow pyfunc adapter: any flavor MLflow can load, as a Predictor.

Slower than the native paths (a pandas DataFrame per call); used only when no native
adapter fits. The frame is built with the signature's dtypes (MLflow enforces them: a
float64 column where the signature says ``long`` is refused), and a tensor signature
gets an array of its dtype.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlgate.domain import Feature, Rows
from mlgate.records.frames import frame_of, tensor_of, values_of


class PyfuncModel:
    interfaces: tuple[str, ...] = ("predictor",)

    def __init__(self, model: Any, features: list[Feature], tensor_dtype: str | None = None) -> None:
        self.model = model
        self.features = list(features)
        self.columns = [f.name for f in features]
        self.tensor_dtype = tensor_dtype

    def inputs(self, rows: Rows) -> Any:
        if self.tensor_dtype is not None:
            return tensor_of(rows, self.features, self.tensor_dtype)
        if self.features:
            return frame_of(rows, self.features)
        import pandas as pd

        return pd.DataFrame(rows)

    def predict(self, rows: Rows) -> list[Any]:
        return values_of(self.model.predict(self.inputs(rows)), len(rows))


def load_pyfunc(model_dir: Path) -> Any:
    import mlflow.pyfunc

    return mlflow.pyfunc.load_model(str(model_dir))
