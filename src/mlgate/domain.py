"""The five interfaces a model version can offer, and what a loaded version carries.

Adapters (``sklearn.py``, ``pyfunc.py``, ``native.py``, ``onnx.py``) implement one or
more of these Protocols over a registered artifact. Which interfaces a version offers
is recorded on it at registration (the ``mlgate.interfaces`` tag) and checked before a
call reaches the adapter. The loader seam is typed too: each flavor's ``load`` is a
``FlavorLoader`` and returns a ``ServedModel``. ``VersionInfo`` is immutable: a load enriches
a copy (``dataclasses.replace``), never the record a cache or another caller holds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, SupportsIndex, overload, runtime_checkable

import numpy as np
import numpy.typing as npt

from mlgate.errors import WrongInterface

Matrix = npt.NDArray[np.float64]
# Checked records: a float64 ``Matrix`` when every feature is a number (the fast path), else an object
# matrix whose cells are already converted to their column's type (see ``records.to_rows``).
Rows = npt.NDArray[Any]
# Column types of an MLflow signature that records may carry (``records.to_rows`` checks them).
FEATURE_TYPES = ("double", "float", "long", "integer", "boolean", "string", "datetime")
Interval = tuple[float, list[float], list[float]]


class Distributions(list[dict[str, float]]):
    """One ``{class: p}`` per row, already what ``ClassifyResult`` validation makes of it: every key a ``str``,
    every value a ``float`` (``records.frames.distributions`` builds them so from a float64 array and ``str``
    class labels). A slice is one too; anything else a list holds is validated as usual."""

    __slots__ = ()

    @overload
    def __getitem__(self, i: SupportsIndex) -> dict[str, float]: ...
    @overload
    def __getitem__(self, i: slice) -> Distributions: ...
    def __getitem__(self, i: SupportsIndex | slice) -> dict[str, float] | Distributions:
        if isinstance(i, slice):
            return Distributions(super().__getitem__(i))
        return super().__getitem__(i)


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


@dataclass(frozen=True, slots=True)
class VersionInfo:
    """Everything known about one concrete version before (and after) it is loaded; immutable (a load
    returns an enriched copy made with ``dataclasses.replace``)."""

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


@runtime_checkable
class ServedModel(Protocol):
    """What a flavor's loader returns: an object offering some of the interfaces above (its methods are
    reached through those Protocols, e.g. ``isinstance(impl, Forecaster)``)."""

    @property
    def interfaces(self) -> tuple[str, ...]: ...


class FlavorLoader(Protocol):
    """A flavor's ``load``: the verified artifact folder, the flavor's MLmodel configuration, the features
    known so far and mlgate's metadata → the served object. ``admitted``: an operator admitted this exact
    artifact's code (the artifact plan said it runs code and the gate checked the digest)."""

    def __call__(
        self,
        model_dir: Path,
        flavor_conf: dict[str, Any],
        features: Sequence[Feature],
        meta: dict[str, Any] | None = None,
        *,
        admitted: bool = False,
    ) -> ServedModel: ...


@dataclass(slots=True)
class LoadedModel:
    info: VersionInfo
    impl: ServedModel
    size_bytes: int
    local_path: str
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def forecaster(self) -> Forecaster:
        if isinstance(self.impl, Forecaster):
            return self.impl
        raise self._not("forecaster")

    @property
    def segmenter(self) -> Segmenter:
        if isinstance(self.impl, Segmenter):
            return self.impl
        raise self._not("segmenter")

    @property
    def analyzer(self) -> Analyzer:
        if isinstance(self.impl, Analyzer):
            return self.impl
        raise self._not("analyzer")

    def _not(self, interface: str) -> WrongInterface:
        return WrongInterface(
            f"{self.info.name}@{self.info.version} does not implement the {interface} interface",
            "pick a version that offers it (see ml_model_info)",
        )
