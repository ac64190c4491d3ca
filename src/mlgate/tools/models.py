"""Read-only tools about models: the list and one version's details."""

from __future__ import annotations

from typing import Any

from mcp.server.mcpserver import Context

from mlgate.lifecycle import catalog
from mlgate.schemas.catalog import ListModelsResult, ModelInfoResult
from mlgate.tools.context import ModelArg, runtime


async def list_models(ctx: Context[Any, Any]) -> ListModelsResult:
    """List registered models: versions, aliases (e.g. production), interfaces, key metrics.
    Start here to find a pinned reference such as 'demo-regressor@1'.
    """
    return await catalog.list_models(runtime(ctx))


async def model_info(model: ModelArg, ctx: Context[Any, Any]) -> ModelInfoResult:
    """Describe one version: interfaces, features with their training ranges, metrics, lineage,
    the artifact digest, and an example call you can copy.
    """
    return await catalog.model_info(runtime(ctx), model)
