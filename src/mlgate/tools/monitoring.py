"""Monitoring tools: record actuals against captured predictions, read live quality. Thin: the work is
in lifecycle/degradation.py and lifecycle/quality.py."""

from __future__ import annotations

from typing import Annotated, Any

from mcp.server.mcpserver import Context
from pydantic import Field, WithJsonSchema

from mlgate.errors import InvalidInput
from mlgate.jobs.service import retrain_submitter
from mlgate.lifecycle import degradation, quality
from mlgate.schemas.monitoring import ActualsResult, PerformanceResult
from mlgate.tools.context import caller, jobs, runtime

ModelName = Annotated[str, Field(description="A model name (or name@version).", max_length=300)]


_VALUE = {"anyOf": [{"type": ["number", "string"]}, {"type": "array", "items": {"type": ["number", "null"]}}]}
_ID = {"type": ["string", "null"]}
# listed: the closed list form strict clients can send; the {prediction_id or key: actual} map is taken too
_ACTUALS_SCHEMA = {
    "type": "array",
    "items": {
        "type": "object",
        "properties": {"prediction_id": _ID, "key": _ID, "value": _VALUE},
        "required": ["value"],
        "additionalProperties": False,
    },
}


async def record_actuals(
    model: ModelName,
    actuals: Annotated[
        list[dict[str, Any]] | dict[str, Any],
        WithJsonSchema(_ACTUALS_SCHEMA),
        Field(description="Also as a {prediction_id or key: value} map; a forecast's value: a list per step"),
    ],
    ctx: Context[Any, Any],
) -> ActualsResult:
    """Join actuals to captured predictions (a repeat replaces; unknown ids listed); re-checks quality
    rules. Example: {"model": "demo-regressor", "actuals": [{"prediction_id": "3f2a…", "value": 151.0}]}."""
    rt = runtime(ctx)
    return await degradation.record_actuals(
        rt, model, actuals_map(actuals), caller=caller(ctx), submit_retrain=retrain_submitter(jobs(ctx))
    )


def actuals_map(actuals: Any) -> Any:
    """``[{prediction_id | key, value}]`` → ``{id: value}``; the map form passes through."""
    if not isinstance(actuals, list):
        return actuals
    out: dict[str, Any] = {}
    for i, item in enumerate(actuals):
        ids = [item.get(k) for k in ("prediction_id", "key") if item.get(k) is not None]
        if len(ids) != 1 or not isinstance(ids[0], str) or set(item) - {"prediction_id", "key", "value"}:
            raise InvalidInput(
                f"actuals[{i}] needs exactly one of prediction_id or key (a string), and value",
                'send [{"prediction_id": "3f2a…", "value": 151.0}, {"key": "order-7", "value": 88.0}]',
            )
        if "value" not in item:
            raise InvalidInput(f"actuals[{i}] has no value", "send the actual as value")
        out[ids[0]] = item["value"]
    return out


async def performance(
    model: ModelName,
    ctx: Context[Any, Any],
    window: Annotated[str | None, Field(description="e.g. '24h', '7d'; default: all retained.")] = None,
) -> PerformanceResult:
    """Live quality per version from captured predictions with actuals, beside its registered metrics."""
    return await quality.performance(runtime(ctx), model, window)
