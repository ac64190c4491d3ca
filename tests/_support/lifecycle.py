"""The lifecycle tests' models (names start with ``lc-``): linear data on features a, b, c, d, a Ridge registered
through mlgate's Registrar, and what the registry says of a model (its aliases, a version's tags)."""

from __future__ import annotations

import uuid
from typing import Any

import numpy as np

from mlgate.config import Settings
from mlgate.domain import VersionInfo
from mlgate.models.resolvers import MlflowResolver

FEATURES = ["a", "b", "c", "d"]
WEIGHTS = np.array([3.0, -2.0, 1.0, 0.5])


def make_data(
    n: int,
    seed: int,
    *,
    shift: float = 0.0,
    weights: np.ndarray = WEIGHTS,
    offset: float = 0.0,
    noise: float = 0.1,
) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(0.0, 1.0, (n, weights.size)) + shift
    y = x @ weights + offset + rng.normal(0.0, noise, n)
    return x, y


def records(
    x: np.ndarray, y: np.ndarray | None = None, names: list[str] = FEATURES, target: str = "y"
) -> list[dict[str, Any]]:
    out = [{n: float(v) for n, v in zip(names, row, strict=True)} for row in x]
    if y is not None:
        for rec, value in zip(out, y, strict=True):
            rec[target] = value.item() if isinstance(value, np.generic) else value
    return out


def register_ridge(
    settings: Settings,
    name: str,
    x: np.ndarray,
    y: np.ndarray,
    *,
    alias: str | None = None,
    names: list[str] = FEATURES,
    alpha: float = 0.01,
) -> VersionInfo:
    """Fit a Ridge on 80 % of (x, y), record its honest metrics on the rest, register it."""
    from sklearn.linear_model import Ridge
    from sklearn.metrics import mean_absolute_error, r2_score

    from mlgate.models.registrar import Registrar

    cut = int(len(x) * 0.8)
    est = Ridge(alpha=alpha).fit(x[:cut], y[:cut])
    pred = est.predict(x[cut:])
    metrics = {"r2": float(r2_score(y[cut:], pred)), "mae": float(mean_absolute_error(y[cut:], pred))}
    return Registrar(settings).register_sklearn(name, est, x[:cut], names, metrics, alias=alias)


def new_name(prefix: str = "lc") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def tags(settings: Settings, name: str, version: int) -> dict[str, str]:
    return MlflowResolver(settings).registry.version(name, version).tags


def aliases(settings: Settings, name: str) -> dict[str, int]:
    return MlflowResolver(settings).registry.aliases(name)
