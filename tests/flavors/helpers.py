"""Loading a logged version the way the resolver does, and the library's own answers to compare with."""

from __future__ import annotations

from typing import Any

import numpy as np

from mlgate.domain import LoadedModel, VersionInfo
from mlgate.models.loader import load_model_dir
from mlgate.records.checks import to_rows
from tests.flavors.conftest import Logged

LIMITS = {"max_rows": 10_000, "max_cells": 1_000_000}


def load(logged: Logged) -> LoadedModel:
    info = VersionInfo(name=logged.name, version=1, interfaces=(), flavor="", source=str(logged.path))
    return load_model_dir(info, logged.path, 1)


def records_of(frame: Any) -> list[dict[str, Any]]:
    """A DataFrame's rows as the JSON an agent sends (plain Python values: float, int, bool, str)."""
    out: list[dict[str, Any]] = frame.to_dict(orient="records")
    return [{k: (v.item() if hasattr(v, "item") else v) for k, v in r.items()} for r in out]


def rows_for(loaded: LoadedModel, records: list[dict[str, Any]]) -> Any:
    return to_rows(records, loaded.info.features, **LIMITS)


def close(a: Any, b: Any, tol: float = 1e-6) -> bool:
    return bool(
        np.allclose(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64), rtol=0, atol=tol)
    )
