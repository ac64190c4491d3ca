"""Generic MLflow pyfunc adapter: any flavor MLflow can load, as a Predictor.

Slower than the native paths (a pandas DataFrame per call); used only when no native
adapter fits.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from mlgate.interfaces.base import Feature, Matrix


class PyfuncModel:
    def __init__(self, model: Any, features: list[Feature]) -> None:
        self.model = model
        self.columns = [f.name for f in features]

    def predict(self, rows: Matrix) -> list[Any]:
        import pandas as pd

        out = self.model.predict(pd.DataFrame(rows, columns=self.columns or None))
        arr = np.asarray(out, dtype=np.float64).reshape(len(rows), -1)
        return arr[:, 0].tolist() if arr.shape[1] == 1 else arr.tolist()


def load_pyfunc(model_dir: Path) -> Any:
    import mlflow.pyfunc

    return mlflow.pyfunc.load_model(str(model_dir))
