"""What a registered version offers, read without loading it.

From the version's MLmodel file (flavors, signature, stored input example, mlgate's own
metadata), the skops or ONNX header, the run's metrics and the registry's tags: interfaces,
typed features with training ranges, metrics, an example call, the artifact digest and what
in it would run code when loaded — the artifact plan's answer (``models/plan.py``), the same the
admission gate and the loader act on. Nothing is unpickled, nothing is written to the registry.
Answers are kept per version and artifact location, so a listing stays fast.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlgate.domain import Feature, VersionInfo
from mlgate.models.plan import plan_artifact
from mlgate.models.resolvers import MlflowResolver

FORECAST_EXAMPLE: dict[str, Any] = {"horizon": 12, "levels": [0.8, 0.95]}


@dataclass(slots=True)
class Described:
    """A version as its files describe it (``VersionInfo`` carries the registry's side)."""

    interfaces: tuple[str, ...]
    features: list[Feature]
    flavor: str
    sha256: str
    code: list[str] = field(default_factory=list)
    stats: dict[str, dict[str, float]] = field(default_factory=dict)
    example: dict[str, Any] | None = None  # the arguments of a call that works, without "model"
    metrics: dict[str, float] = field(default_factory=dict)
    lineage: dict[str, str] = field(default_factory=dict)
    classes: list[str] = field(default_factory=list)  # a classifier's labels (recorded, or its model file's)
    categories: dict[str, list[str]] = field(default_factory=dict)  # a string feature's training categories
    units: dict[str, str] = field(default_factory=dict)  # a feature's unit, as the model's team declared it


def describe_path(info: VersionInfo, path: Path, remote_allowlist: list[str] | None = None) -> Described:
    """The pure part over a local model folder (no registry calls)."""
    from mlgate.adapters.remote_spec import remote_spec_of
    from mlgate.models.mlmodel import describe_dir

    plan = plan_artifact(path)  # the flavor the loader loads, what of it runs code, the digest
    mlmodel = plan.mlmodel
    flavors: dict[str, Any] = mlmodel.get("flavors") or {}
    meta: dict[str, Any] = (mlmodel.get("metadata") or {}).get("mlgate") or {}
    remote_spec_of(info.tags, flavors, remote_allowlist)  # refuses a changed mlgate.remote tag
    if plan.flavor in ("mlgate", "mlgate_remote"):
        interfaces = tuple(meta.get("interfaces") or info.interfaces)
        features = [Feature(**f) for f in meta.get("features") or []]
        flavor, records = ("mlgate" if plan.flavor == "mlgate" else "remote"), None
        classes, categories = [], {}
    else:
        desc = describe_dir(plan.root, mlmodel)
        interfaces, features, flavor, records = desc.interfaces, desc.features, desc.flavor, desc.example
        classes, categories = desc.classes, desc.categories
    interfaces = tuple(info.interfaces) or tuple(meta.get("interfaces") or ()) or interfaces
    features = info.features or [Feature(**f) for f in meta.get("features") or []] or features
    stored = meta.get("example")
    example = dict(stored) if isinstance(stored, dict) else example_call(interfaces, records)
    return Described(
        interfaces=interfaces,
        features=features,
        flavor=info.flavor or flavor,
        sha256=plan.digest,
        code=list(plan.code),
        stats=dict(meta.get("stats") or {}),
        example=example,
        lineage={str(k): str(v) for k, v in (meta.get("lineage") or {}).items()},
        classes=[str(c) for c in meta.get("classes") or classes],
        categories=_categories(meta.get("categories")) or categories,
        # `log_model(..., metadata={"units": {feature: unit}})` in plain MLflow, or mlgate's own metadata
        units={**units_of((mlmodel.get("metadata") or {}).get("units")), **units_of(meta.get("units"))},
    )


def _categories(recorded: Any) -> dict[str, list[str]]:
    """Recorded training categories (``{feature: [value, …]}``, at most ``MAX_ENUM`` each); others ignored."""
    from mlgate.models.headers import MAX_ENUM

    if not isinstance(recorded, dict):
        return {}
    return {
        str(k): [str(c) for c in v]
        for k, v in recorded.items()
        if isinstance(v, list) and 0 < len(v) <= MAX_ENUM and all(isinstance(c, str) for c in v)
    }


MAX_UNIT = 24
# a unit as teams write them ("years", "kg/m²", "mmol/L", "USD per month", "%", "°C"): it is shown in a typed
# tool's schema, so no line breaks, quotes, colons or brackets that could carry anything but a unit
_UNIT = re.compile(r"[\w%/°²³µ·.()^*+ -]+")


def units_of(declared: Any) -> dict[str, str]:
    """Declared units (``{feature: unit}``): each a short unit (``MAX_UNIT`` characters of letters, digits,
    spaces and ``% / ° ² ³ µ · . ( ) ^ * + -``); anything else is not taken (and not shown to an agent)."""
    if not isinstance(declared, dict):
        return {}
    out = {}
    for k, v in declared.items():
        if isinstance(k, str) and isinstance(v, str):
            unit = v.strip()
            if 0 < len(unit) <= MAX_UNIT and _UNIT.fullmatch(unit):
                out[k] = unit
    return out


def example_call(interfaces: tuple[str, ...], records: list[dict[str, Any]] | None) -> dict[str, Any] | None:
    """The arguments of a call built from the stored input example: its first record, or for a forecaster
    its one numeric column as the history (other forecasters get their example from the catalog)."""
    if not records:
        return None
    if "forecaster" not in interfaces:
        return {"features": records[:1]}
    if len(records[0]) != 1 or len(records) < 2:
        return None
    (column,) = records[0]
    history = [r.get(column) for r in records]
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in history):
        return None
    return {
        "history": history,
        "horizon": FORECAST_EXAMPLE["horizon"],
        "levels": list(FORECAST_EXAMPLE["levels"]),
    }


class Describer:
    """Descriptions of registry versions, kept per (name, version, source)."""

    def __init__(self, resolver: MlflowResolver) -> None:
        self.resolver = resolver
        self._known: dict[tuple[str, int, str], Described] = {}
        self._lock = threading.Lock()

    def describe(self, info: VersionInfo) -> Described:
        key = (info.name, info.version, info.source)
        with self._lock:
            found = self._known.get(key)
        if found is None:
            found = describe_path(
                info, self.resolver.local_path(info), self.resolver.settings.remote_allowlist
            )
            found.metrics = info.metrics or self.resolver.registry.run_metrics(info.run_id)
            with self._lock:
                self._known[key] = found
        return found
