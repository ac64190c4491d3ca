"""Monitoring tools: record actuals against captured predictions, read live quality. Thin: the work is
in lifecycle/degradation.py and lifecycle/quality.py."""

from __future__ import annotations

from typing import Annotated, Any

from mcp.server.mcpserver import Context
from pydantic import Field

from mlgate.jobs.service import retrain_submitter
from mlgate.lifecycle import degradation, quality
from mlgate.schemas.monitoring import ActualsResult, PerformanceResult
from mlgate.tools.context import caller, runtime

ModelName = Annotated[str, Field(description="A model name (or name@version).", max_length=300)]


async def record_actuals(
    model: ModelName,
    actuals: Annotated[
        dict[str, Any],
        Field(description="{prediction_id or key: actual}; a forecast's: a list per step", min_length=1),
    ],
    ctx: Context[Any, Any],
) -> ActualsResult:
    """Join actuals to captured predictions (a repeat replaces; unknown ids listed); re-checks quality
    rules. Example: {"model": "demo-regressor", "actuals": {"3f2a…": 151.0}}."""
    rt = runtime(ctx)
    return await degradation.record_actuals(
        rt, model, actuals, caller=caller(ctx), submit_retrain=retrain_submitter(rt)
    )


async def performance(
    model: ModelName,
    ctx: Context[Any, Any],
    window: Annotated[str | None, Field(description="e.g. '24h', '7d'; default: all retained.")] = None,
) -> PerformanceResult:
    """Live quality per version from captured predictions with actuals, beside its registered metrics."""
    return await quality.performance(runtime(ctx), model, window)
