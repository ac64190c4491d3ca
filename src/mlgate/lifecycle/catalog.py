"""What agents read about models: the list, one version's info, its card — none of it loads a model.

Registry versions are described from their files (``models/describe.py``): a version logged by
plain MLflow code shows its interfaces, typed features, the run's metrics and its stored input
example without being unpickled; a version that would run code when loaded says so, and
whether an operator admitted it. When nothing in its files names the features, they are the ones
the model declares, read by loading it once that is safe (data only, or admitted code). Pulled Hub snapshots (safe formats only) are described from
their loaded adapter.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import anyio

from mlgate.domain import Feature, LoadedModel, VersionInfo
from mlgate.lifecycle.stage_history import history
from mlgate.models.describe import FORECAST_EXAMPLE, Described, units_of
from mlgate.models.tags import TAG_STAGE, TAG_UNITS
from mlgate.schemas.catalog import (
    FeatureInfo,
    ForecastForm,
    ListModelsResult,
    ModelInfoResult,
    ModelSummary,
    VersionSummary,
)
from mlgate.schemas.stamp import ModelStamp
from mlgate.serving.runtime import Runtime

log = logging.getLogger(__name__)
LINEAGE_PREFIXES = (
    "mlgate.lineage.",
    "mlgate.parent",
    "mlgate.data",
    "hf.",
    "mlgate.forced",
    "mlgate.compiled",
)


async def list_models(rt: Runtime) -> ListModelsResult:
    by_name: dict[str, list[VersionSummary]] = {}
    for v in await rt.models.list_versions():
        interfaces, metrics = list(v.interfaces), v.metrics
        if not interfaces or not metrics:  # registered by plain MLflow code: read its files, once
            try:
                d = await rt.models.describe(v)
                interfaces, metrics = interfaces or list(d.interfaces), metrics or d.metrics
            except Exception as exc:  # one unreadable version must not hide the others
                log.warning("cannot describe %s@%s: %s", v.name, v.version, exc)
        by_name.setdefault(v.name, []).append(
            VersionSummary(
                version=v.version,
                aliases=sorted(v.aliases),
                interfaces=interfaces,
                metrics=metrics,
                stage=v.tags.get(TAG_STAGE),
                created_at=v.created_at,
            )
        )
    return ListModelsResult(models=[ModelSummary(name=n, versions=vs) for n, vs in sorted(by_name.items())])


def _example(
    ref: str,
    interfaces: tuple[str, ...] | list[str],
    features: list[FeatureInfo],
    stored: dict[str, Any] | None,
) -> dict[str, Any]:
    if stored:
        return {"model": ref, **stored}
    if "predictor" in interfaces or "classifier" in interfaces:
        return {
            "model": ref,
            "features": [{f.name: round(f.mean, 4) if f.mean is not None else 0.0 for f in features}],
        }
    if "analyzer" in interfaces:
        return {"model": ref, "texts": ["The service was quick and friendly."]}
    if "forecaster" in interfaces:  # no stored history: from the model's own data (statsmodels, Prophet, …)
        return {
            "model": ref,
            "horizon": FORECAST_EXAMPLE["horizon"],
            "levels": list(FORECAST_EXAMPLE["levels"]),
        }
    return {"model": ref}


def _json(text: str | None) -> Any:
    """A tag's JSON value, or None when it is missing or not JSON (a hand-written tag is not trusted)."""
    try:
        return json.loads(text) if text else None
    except ValueError:
        return None


def _features(
    feats: list[Any],
    stats: dict[str, dict[str, float]],
    categories: dict[str, list[str]] | None = None,
    units: dict[str, str] | None = None,
) -> list[FeatureInfo]:
    out = []
    for f in feats:
        s = stats.get(f.name, {})
        cats = (categories or {}).get(f.name) if f.type == "string" else None
        out.append(
            FeatureInfo(
                name=f.name,
                type=f.type,
                categories=cats or None,
                unit=(units or {}).get(f.name),
                **{k: float(s[k]) for k in ("mean", "std", "min", "max") if k in s},
            )
        )
    return out


def _lineage(info: VersionInfo, extra: dict[str, str]) -> dict[str, str]:
    lineage = {k: v for k, v in info.tags.items() if k.startswith(LINEAGE_PREFIXES)}
    lineage.update({f"mlgate.lineage.{k}": v for k, v in extra.items()})
    if info.run_id:
        lineage["mlflow.run_id"] = info.run_id
    if info.source.startswith(("runs:/", "models:/")):  # never a path on this server's disks
        lineage["mlflow.source"] = info.source
    return lineage


def card_uri(name: str, version: int) -> str:
    return f"mlgate://models/{name}/{version}"


def _result(
    info: VersionInfo,
    stamp: ModelStamp,
    interfaces: list[str],
    flavor: str,
    features: list[FeatureInfo],
    metrics: dict[str, float],
    lineage: dict[str, str],
    example: dict[str, Any],
) -> ModelInfoResult:
    return ModelInfoResult(
        model=stamp,
        interfaces=interfaces,
        flavor=flavor,
        features=features,
        metrics=metrics,
        aliases=sorted(info.aliases),
        stage=info.tags.get(TAG_STAGE),
        lineage=lineage,
        description=info.description,
        example=example,
        resource=card_uri(info.name, info.version),
        stage_history=history(info.tags, info.created_at),
    )


async def model_info(rt: Runtime, model: str) -> ModelInfoResult:
    ref = rt.models.parse(model)
    if ref.source != "registry":  # a pulled snapshot: safe formats only, described by its adapter
        loaded, stamp = await rt.models.acquire(model)
        return _from_loaded(loaded, stamp)
    info = await rt.models.resolve(ref)
    d: Described = await rt.models.describe(info)
    pinned = f"{info.name}@{info.version}"
    admitted = await anyio.to_thread.run_sync(rt.admissions.get, info.name, info.version) if d.code else None
    admitted_by = admitted.by if admitted is not None and admitted.digest == d.sha256 else None
    units = {**d.units, **units_of(_json(info.tags.get(TAG_UNITS)))}  # the model file's, then an operator's
    features = _features(
        d.features or await _declared(rt, pinned, d, admitted_by), d.stats, d.categories, units
    )
    result = _result(
        info,
        ModelStamp(name=info.name, version=info.version, ref=model, sha256=info.sha256 or d.sha256),
        list(d.interfaces),
        d.flavor,
        features,
        d.metrics,
        _lineage(info, d.lineage),
        _example(pinned, d.interfaces, features, d.example),
    )
    if "classifier" in d.interfaces and d.classes:
        result.classes = list(d.classes)
    if d.code:
        result.runs_code = d.code
        result.admitted_by = admitted_by
    if "forecaster" in d.interfaces:
        await _forecast_form(rt, info, result)
    return result


async def _forecast_form(rt: Runtime, info: VersionInfo, result: ModelInfoResult) -> None:
    """A forecaster's form: from the loaded adapter when it is cached, else from its files when they run no
    code (Prophet's JSON, a pyfunc's signature), else by loading it once an operator admitted its code; a
    future-form forecaster's example then sends future rows that go through."""
    from mlgate.adapters.forecasting.dispatch import described_form
    from mlgate.errors import MlgateError
    from mlgate.models.loader import read_mlmodel

    cached = rt.models.cache.get_nowait(info.key)
    impl: Any = cached.impl if cached is not None else None  # a future-form adapter, read by its attributes
    try:
        if impl is None:
            path = await anyio.to_thread.run_sync(rt.models.mlflow.local_path, info)
            impl = await anyio.to_thread.run_sync(described_form, path, read_mlmodel(path))
        if impl is None and (result.admitted_by or rt.models.mlflow.gate.trusted_by_setting(info.name)):
            impl = (await rt.models.acquire(f"{info.name}@{info.version}", "forecaster"))[0].impl
    except MlgateError:
        return  # not readable yet: the card says why elsewhere (runs_code, admitted_by)
    if impl is None:
        return
    if getattr(impl, "form", "horizon") != "future":
        result.forecast = ForecastForm(form="horizon")
        return
    levels = None if impl.any_level else list(impl.fixed_levels)
    result.forecast = ForecastForm(form="future", future_columns=list(impl.future_columns), levels=levels)
    if "future" not in (result.example or {}):
        pinned = f"{info.name}@{info.version}"
        result.example = {"model": pinned, "future": impl.example_rows(), "levels": impl.default_levels()}


async def _declared(rt: Runtime, pinned: str, d: Described, admitted_by: str | None) -> list[Feature]:
    """No signature, example or header names the features: the ones the model itself declares
    (``feature_names_in_``, ``n_features_in_`` as ``f0`` …, a booster's names), read by loading it, which
    is done only when that is safe: data-only files, or code an operator admitted at this digest."""
    tabular = [i for i in d.interfaces if i in ("predictor", "classifier")]
    trusted = rt.models.mlflow.gate.trusted_by_setting(pinned.rpartition("@")[0])
    if not tabular or (d.code and admitted_by is None and not trusted):
        return []
    try:  # as a call would load it: a halt covers it, the cache keeps it
        loaded, _ = await rt.serve(pinned, tabular[0])
    except Exception as exc:  # refused (halted, changed) or unloadable: the description stands without them
        log.info("features of %s stay unknown: %s", pinned, type(exc).__name__)
        return []
    return list(loaded.info.features)


def _from_loaded(loaded: LoadedModel, stamp: ModelStamp) -> ModelInfoResult:
    info = loaded.info
    features = _features(info.features, info.stats)
    stored = loaded.extra.get("example")
    lineage = _lineage(info, {k: str(v) for k, v in (loaded.extra.get("lineage") or {}).items()})
    return _result(
        info,
        stamp,
        list(info.interfaces),
        info.flavor,
        features,
        info.metrics,
        lineage,
        _example(
            f"{info.name}@{info.version}",
            info.interfaces,
            features,
            stored if isinstance(stored, dict) else None,
        ),
    )


async def card(rt: Runtime, name: str, version: str) -> str:
    """The Markdown card of one version (the MCP resource ``mlgate://models/{name}/{version}``)."""
    result = await model_info(rt, f"{name}@{version}")
    lines = [
        f"# {result.model.name} version {result.model.version}",
        "",
        f"- interfaces: {', '.join(result.interfaces)} (flavor {result.flavor})",
        f"- sha256: `{result.model.sha256}`",
        f"- aliases: {', '.join(result.aliases) or 'none'}; stage: {result.stage or 'unset'}",
        "",
        "## Features (training range)",
        "",
        "| feature | type | mean | std | min | max |",
        "|---|---|---|---|---|---|",
    ]
    for f in result.features:
        lines.append(
            f"| {f.name} | {f.type} | {_fmt(f.mean)} | {_fmt(f.std)} | {_fmt(f.min)} | {_fmt(f.max)} |"
        )
    lines += ["", "## Metrics", ""] + [f"- {k}: {v:.4g}" for k, v in sorted(result.metrics.items())]
    lines += ["", "## Lineage", ""] + [f"- {k}: {v}" for k, v in sorted(result.lineage.items())]
    lines += ["", "## Stage history", ""] + [
        f"- {e.at} {e.stage} {e.by} {e.note}".rstrip() for e in result.stage_history
    ]
    lines += ["", "## Example call", "", "```json", json.dumps(result.example, indent=1), "```", ""]
    return "\n".join(lines)


def _fmt(v: float | None) -> str:
    return "" if v is None else f"{v:.4g}"
