"""The five interfaces a model version can offer, and what a loaded version carries.

Adapters (``sklearn.py``, ``pyfunc.py``, ``native.py``, ``onnx.py``) implement one or
more of these Protocols over a registered artifact. Which interfaces a version offers
is recorded on it at registration (the ``mlgate.interfaces`` tag) and checked before a
call reaches the adapter.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

Matrix = npt.NDArray[np.float64]
# Checked records: a float64 ``Matrix`` when every feature is a number (the fast path), else an object
# matrix whose cells are already converted to their column's type (see ``records.to_rows``).
Rows = npt.NDArray[Any]
# Column types of an MLflow signature that records may carry (``records.to_rows`` checks them).
FEATURE_TYPES = ("double", "float", "long", "integer", "boolean", "string", "datetime")
Interval = tuple[float, list[float], list[float]]


@runtime_checkable
class Predictor(Protocol):
    def predict(self, rows: Matrix) -> list[Any]: ...


@runtime_checkable
class Classifier(Protocol):
    def classify(self, rows: Matrix) -> tuple[list[str], list[dict[str, float]]]: ...


@runtime_checkable
class Forecaster(Protocol):
    def forecast(
        self, history: Sequence[float], horizon: int, levels: Sequence[float]
    ) -> tuple[list[float], list[Interval]]: ...


@runtime_checkable
class Segmenter(Protocol):
    def segment(self, series: Sequence[float]) -> tuple[list[int], list[tuple[int, int, float]]]: ...


@runtime_checkable
class Analyzer(Protocol):
    def analyze(self, texts: Sequence[str]) -> list[tuple[str, float]]: ...


@dataclass(frozen=True, slots=True)
class Feature:
    name: str
    type: str = "double"  # one of FEATURE_TYPES


@dataclass(slots=True)
class VersionInfo:
    """Everything known about one concrete version before (and after) it is loaded."""

    name: str
    version: int
    interfaces: tuple[str, ...]
    flavor: str
    source: str
    run_id: str | None = None
    sha256: str | None = None
    features: list[Feature] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)
    aliases: list[str] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)
    stats: dict[str, dict[str, float]] = field(default_factory=dict)
    description: str = ""
    created_at: int | None = None

    @property
    def key(self) -> tuple[str, int]:
        return (self.name, self.version)


@dataclass(slots=True)
class LoadedModel:
    info: VersionInfo
    impl: Any
    size_bytes: int
    local_path: str
    extra: dict[str, Any] = field(default_factory=dict)
