"""Operator tools: the kill switch and the serving status."""

from __future__ import annotations

from typing import Annotated, Any

from mcp.server.mcpserver import Context
from pydantic import Field

from mlgate.schemas.serving import HaltResult, ResumeResult, ServingStatus
from mlgate.serving import status
from mlgate.tools.context import caller, runtime

ScopeArg = Annotated[
    str | None,
    Field(
        description="A model name (all its versions), 'hf:org/repo' (every pulled revision), or "
        "'sha256:<hex>' (an artifact digest, as in a model stamp); every reference serving the same "
        "bytes is stopped too. Omit for all serving.",
        max_length=300,
    ),
]
ResumeArg = Annotated[
    str | None,
    Field(
        description="The halt's scope as given to ml_halt. Omit for the halt of all serving.", max_length=300
    ),
]


async def halt(
    reason: Annotated[
        str, Field(description="Why serving stops; shown to every refused caller.", max_length=1000)
    ],
    ctx: Context[Any, Any],
    model: ScopeArg = None,
) -> HaltResult:
    """Kill switch: stop serving one model, or (without `model`) all inference and skill runs.

    Holds from the moment it returns, in every replica within a second; refused callers see who and why
    and which scope matched. Any other reference serving the same bytes (hf:org/repo@commit, NAME@1) stops too.
    Example: {"model": "demo-regressor", "reason": "bad outputs"}.
    """
    return await status.halt(runtime(ctx), model, reason, caller=caller(ctx))


async def resume(ctx: Context[Any, Any], model: ResumeArg = None) -> ResumeResult:
    """Lift a halt set by ml_halt: the one on `model`, or (without `model`) the halt of all serving."""
    return await status.resume(runtime(ctx), model, caller=caller(ctx))


async def serving_status(ctx: Context[Any, Any]) -> ServingStatus:
    """What serving looks like now: active halts, loaded versions and their memory, batch queues and
    sizes, circuit breakers, per-tool latency percentiles, the ledger's backlog."""
    return status.serving_status(runtime(ctx))
