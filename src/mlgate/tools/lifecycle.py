"""Lifecycle tools: promote, rollback, compare, drift, retrain. Thin: the work is in models/."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context
from pydantic import Field, WithJsonSchema

from mlgate.lifecycle import comparison, drift
from mlgate.lifecycle import stages as lifecycle
from mlgate.lifecycle.gates import NAMED_GATES, REQUIRE_DRIFT, REQUIRE_LIVE
from mlgate.schemas.jobs import RetrainReply
from mlgate.schemas.lifecycle import (
    CompareResult,
    DriftResult,
    PromoteResult,
    RollbackResult,
)
from mlgate.tools.context import BATCH_SCHEMA, Batch, ModelArg, OptionalBatch, caller, runtime
from mlgate.tools.jobs import as_job

ModelName = Annotated[
    str,
    Field(
        description="A registered model name, e.g. 'demo-regressor'.",
        examples=["demo-regressor"],
        max_length=300,
    ),
]
Version = Annotated[int, Field(description="A version number of that model (see ml_list_models).", ge=1)]
_NUMBER, _FLAG = {"type": ["number", "null"]}, {"type": ["boolean", "null"]}
_GATES_SCHEMA = {
    "anyOf": [
        {
            "type": "object",
            "properties": {
                **{g: _NUMBER for g in NAMED_GATES},
                **{f: _FLAG for f in (REQUIRE_DRIFT, REQUIRE_LIVE)},
            },
            "additionalProperties": False,
        },
        {"type": "null"},
    ]
}
Gates = Annotated[
    dict[str, float | bool | None] | None,
    WithJsonSchema(_GATES_SCHEMA),
    Field(
        description="Extra gates, added to the stored ones; any min_/max_<metric> is taken.",
        examples=[{"min_r2": 0.4, "max_mae": 50, "require_drift_check": True}],
    ),
]
Records = Annotated[Batch, Field(description="Rows as {feature: value}; the names are in ml_model_info.")]


async def promote(
    model: ModelName,
    version: Version,
    ctx: Context[Any, Any],
    to: Annotated[
        Literal["staging", "production"], Field(description="The stage to move the version to.")
    ] = "production",
    gates: Gates = None,
    force: Annotated[
        bool, Field(description="Skip failing gates (ml:admin; recorded on the version).")
    ] = False,
) -> PromoteResult:
    """Promote a version to staging or production if it passes its gates.

    Production moves the 'production' alias and archives the previous holder. A failing gate changes
    nothing: promoted=false with each gate's actual value and threshold.
    Example: {"model": "demo-regressor", "version": 2, "to": "production", "gates": {"min_r2": 0.4}}.
    """
    return await lifecycle.promote(runtime(ctx), model, version, to, gates, force, caller=caller(ctx))


async def rollback(
    model: ModelName,
    ctx: Context[Any, Any],
    version: Annotated[
        int | None, Field(description="Default: the previous production version.", ge=1)
    ] = None,
) -> RollbackResult:
    """Restore a version that served production before; the current one is archived.

    Not gated (it is the way back); other versions go through ml_promote. Example: {"model": "demo-regressor", "version": 1}.
    """
    return await lifecycle.rollback(runtime(ctx), model, version, caller=caller(ctx))


async def compare(
    model: ModelName,
    ctx: Context[Any, Any],
    versions: Annotated[list[int] | None, Field(description="Default: the newest 20.", max_length=20)] = None,
) -> CompareResult:
    """Compare versions' metrics side by side, with deltas against production (or the first listed)
    and, for known metrics, which is better. Example: {"model": "demo-regressor", "versions": [1, 2]}.
    """
    return await comparison.compare(runtime(ctx), model, versions)


async def check_drift(
    model: ModelArg,
    current: Records,
    ctx: Context[Any, Any],
    reference: Annotated[
        OptionalBatch, Field(description="Rows to compare with instead of the training sample.")
    ] = None,
) -> DriftResult:
    """Check whether current data drifted from a version's training data, feature by feature (PSI and KS).

    Send at least 10 rows. With ml:manage, a check against the training data is recorded on the version
    for the 'require_drift_check' gate. Example: {"model": "demo-regressor@production", "current": [{…}, …]}.
    """
    return await drift.check_drift(runtime(ctx), model, current, reference, caller=caller(ctx))


async def retrain(
    model: ModelArg,
    data: Annotated[
        list[dict[str, Any]] | dict[str, Any] | str,
        WithJsonSchema({"anyOf": [*BATCH_SCHEMA["anyOf"], {"type": "string"}]}),
        Field(description="Rows (features + target), or a CSV/Parquet path under MLGATE_DATA_DIR."),
    ],
    target: Annotated[str, Field(description="The column holding the value to predict.", max_length=200)],
    ctx: Context[Any, Any],
    holdout: Annotated[float, Field(description="Fraction held out to score both.", ge=0.05, le=0.5)] = 0.2,
    gates: Gates = None,
    promote_if_better: Annotated[bool, Field(description="Promote if better and gated.")] = True,
    metric: Annotated[
        str | None,
        Field(
            description="Decides 'better': r2 (default), mae, rmse; classifiers: "
            "accuracy (default), f1_macro."
        ),
    ] = None,
) -> RetrainReply:
    """Refit a scikit-learn model on new data; register the candidate; promote it only if better and gated.

    Checks drift of the data, scores incumbent and candidate on one holdout; 'decisions' explains each step.
    Example: {"model": "demo-regressor@production", "data": "batches/2026-11.csv", "target": "progression"}.
    """
    args = {
        "model": model,
        "data": data,
        "target": target,
        "holdout": holdout,
        "gates": gates,
        "promote_if_better": promote_if_better,
        "metric": metric,
    }
    return await as_job(ctx, "ml_retrain", args, RetrainReply)
