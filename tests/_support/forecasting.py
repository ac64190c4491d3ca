"""The forecasting tests' series (five years of monthly points, trend and season) and a version's MLmodel file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

PINS = ["numpy", "pandas"]  # explicit: MLflow's inference of requirements imports every ML library (seconds)
N = 60  # five years of monthly points: small enough to fit fast


def monthly(n: int = N, seed: int = 3) -> pd.Series:
    rng = np.random.default_rng(seed)
    t = np.arange(n, dtype=float)
    y = 50 + 0.3 * t + 6 * np.sin(2 * np.pi * t / 12) + rng.normal(0, 1.0, n)
    return pd.Series(y, index=pd.date_range("2019-01-01", periods=n, freq="MS"))


def read_mlmodel(path: Path) -> dict[str, Any]:
    import yaml

    data: dict[str, Any] = yaml.safe_load((path / "MLmodel").read_text())
    return data
