"""What agents read about models: the list, one version's info, its card."""

from __future__ import annotations

import json
from typing import Any

import anyio

from mlgate.interfaces.base import LoadedModel, VersionInfo
from mlgate.lifecycle.stage_history import history
from mlgate.models.ref import ModelRef
from mlgate.models.resolvers import TAG_STAGE
from mlgate.schemas.catalog import (
    FeatureInfo,
    ListModelsResult,
    ModelInfoResult,
    ModelSummary,
    VersionSummary,
)
from mlgate.schemas.stamp import ModelStamp
from mlgate.serving.runtime import Runtime

LINEAGE_PREFIXES = ("mlgate.lineage.", "mlgate.parent", "mlgate.data", "hf.", "mlgate.forced", "mlgate.compiled")


async def list_models(rt: Runtime) -> ListModelsResult:
    versions = await anyio.to_thread.run_sync(rt.models.resolver.list_versions)
    by_name: dict[str, list[VersionSummary]] = {}
    for v in versions:
        by_name.setdefault(v.name, []).append(
            VersionSummary(
                version=v.version,
                aliases=sorted(v.aliases),
                interfaces=list(v.interfaces),
                metrics=v.metrics,
                stage=v.tags.get(TAG_STAGE),
                created_at=v.created_at,
            )
        )
    return ListModelsResult(models=[ModelSummary(name=n, versions=vs) for n, vs in sorted(by_name.items())])


def example_call(loaded: LoadedModel, ref: str) -> dict[str, Any]:
    info = loaded.info
    stored = loaded.extra.get("example")
    if isinstance(stored, dict):
        return {"model": ref, **stored}
    if "predictor" in info.interfaces or "classifier" in info.interfaces:
        row = {f.name: round(float(info.stats.get(f.name, {}).get("mean", 0.0)), 4) for f in info.features}
        return {"model": ref, "features": [row]}
    if "analyzer" in info.interfaces:
        return {"model": ref, "texts": ["The service was quick and friendly."]}
    return {"model": ref}


def feature_infos(loaded: LoadedModel) -> list[FeatureInfo]:
    stats = loaded.info.stats
    return [FeatureInfo(name=f.name, type=f.type, **_stat(stats.get(f.name, {}))) for f in loaded.info.features]


def _stat(s: dict[str, float]) -> dict[str, float]:
    return {k: float(s[k]) for k in ("mean", "std", "min", "max") if k in s}


def card_uri(name: str, version: int) -> str:
    return f"mlgate://models/{name}/{version}"


def info_result(loaded: LoadedModel, stamp: ModelStamp, fresh: VersionInfo | None = None) -> ModelInfoResult:
    """``fresh``: the version as the registry has it now (aliases, stage and tags move after loading)."""
    info = loaded.info
    tags = fresh.tags if fresh is not None else info.tags
    lineage = {k: v for k, v in tags.items() if k.startswith(LINEAGE_PREFIXES)}
    lineage.update({f"mlgate.lineage.{k}": str(v) for k, v in (loaded.extra.get("lineage") or {}).items()})
    if info.run_id:
        lineage["mlflow.run_id"] = info.run_id
    lineage["mlflow.source"] = info.source
    return ModelInfoResult(
        model=stamp,
        interfaces=list(info.interfaces),
        flavor=info.flavor,
        features=feature_infos(loaded),
        metrics=info.metrics,
        aliases=sorted(fresh.aliases if fresh is not None else info.aliases),
        stage=tags.get(TAG_STAGE),
        lineage=lineage,
        description=info.description,
        example=example_call(loaded, f"{info.name}@{info.version}"),
        resource=card_uri(info.name, info.version),
        stage_history=history(tags, info.created_at),
    )


async def model_info(rt: Runtime, model: str) -> ModelInfoResult:
    loaded, stamp = await rt.models.acquire(model)
    fresh = None
    if rt.models.parse(stamp.ref).source == "registry":
        # aliases, stage and history move after the version was loaded: read them now
        fresh = await rt.models.resolve(ModelRef(name=loaded.info.name, version=loaded.info.version))
    return info_result(loaded, stamp, fresh)


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
        lines.append(f"| {f.name} | {f.type} | {_fmt(f.mean)} | {_fmt(f.std)} | {_fmt(f.min)} | {_fmt(f.max)} |")
    lines += ["", "## Metrics", ""] + [f"- {k}: {v:.4g}" for k, v in sorted(result.metrics.items())]
    lines += ["", "## Lineage", ""] + [f"- {k}: {v}" for k, v in sorted(result.lineage.items())]
    lines += ["", "## Stage history", ""] + [f"- {e.at} {e.stage} {e.by} {e.note}".rstrip() for e in result.stage_history]
    lines += ["", "## Example call", "", "```json", json.dumps(result.example, indent=1), "```", ""]
    return "\n".join(lines)


def _fmt(v: float | None) -> str:
    return "" if v is None else f"{v:.4g}"
