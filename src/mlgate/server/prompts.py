"""Prompts: short, parameterised workflows over mlgate's tools, for the work people do with it.

Each prompt renders one user message that names the tools to call, in order, and what to check
between calls. A client shows them as slash commands or templates; the agent then calls the tools
itself, under its own scopes. Rendering one is an audited call (``serving.audited``: the
fail-closed ledger check, a row ``prompt:<name>``); it needs no scope. Registered by ``register_prompts`` (called from ``build_server``);
nothing registers itself by import.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.prompts.base import Message, Prompt
from mcp.shared.exceptions import MCPError
from mcp_types import INTERNAL_ERROR, INVALID_PARAMS, InputRequiredResult
from pydantic import Field

from mlgate.compose import App
from mlgate.errors import MlgateError
from mlgate.serving.audited import Call, audited
from mlgate.tools.context import caller_of

ModelName = Annotated[str, Field(description="A registered model's name, e.g. 'demo-regressor'.")]
ModelRef = Annotated[
    str, Field(description="A pinned reference, e.g. 'demo-forecaster@production' or 'name@3'.")
]


def investigate_model(model: ModelName) -> str:
    """Get to know a model before relying on it: its versions, features, metrics, and one sample call."""
    return f"""Investigate the model '{model}' before using it.

1. Call ml_list_models. Find '{model}': its versions, which one holds the 'production' alias, its interface
   kind (predictor, classifier, forecaster, segmenter, analyzer) and its key metrics.
2. Call ml_model_info with model='{model}@production' (or a pinned 'name@N' if there is no production alias).
   Note the features with their types and training ranges, the metrics, the lineage, the artifact sha256
   and the `example` arguments.
3. Make one sample call with that `example`, using the tool for its interface: ml_predict, ml_classify,
   ml_forecast, ml_segment or ml_analyze. Always pin the version; never use '{model}' alone or '@latest'.
4. Report: what the model does, the exact version and sha256 that answered, its metrics, the input ranges
   it was trained on, and anything that looks wrong (weak metrics, missing lineage, guard warnings)."""


def promote_safely(
    model: ModelName,
    version: Annotated[str, Field(description="The version number to promote, e.g. '2'.")],
    to: Annotated[
        str, Field(description="The target stage: 'production' (default) or 'staging'.")
    ] = "production",
) -> str:
    """Promote a version only after checking drift, comparing it with production and running its gates."""
    return f"""Promote version {version} of '{model}' to {to}, safely. Stop and report at the first problem.

1. Call ml_model_info with model='{model}@{version}': confirm it exists and read its metrics and lineage.
2. Call ml_drift with model='{model}@{version}' and a sample of recent rows as `current` (at least 10):
   a check against its training data is recorded and satisfies the 'require_drift_check' gate.
   If drift_detected is true, stop and report the drifted features.
3. Call ml_compare with model='{model}' and the versions [{version}, <the current production version>]:
   the candidate must not be worse on the model's key metric.
4. Call ml_promote with model='{model}', version={version}, to='{to}'. Do not set force.
   If promoted is false, report every entry of failed_gates (actual value and threshold) and stop.
5. Report what moved: the version now serving {to}, the one archived, and the evidence from steps 2-3."""


def respond_to_incident(
    reason: Annotated[str, Field(description="What is going wrong, in a sentence; recorded with the halt.")],
    model: Annotated[
        str | None, Field(description="The model's name to halt; omit to halt all serving.")
    ] = None,
) -> str:
    """Stop the damage first (halt), then find out what happened and restore a known-good version."""
    target = f"model='{model}'" if model else "no model (this halts ALL serving)"
    name = model or "<the affected model>"
    return f"""Incident: {reason}

1. Halt now: call ml_halt with {target} and reason={reason!r}. Confirm halted is true.
2. Call ml_serving_status: list the active halts, the affected models and their queues and breakers.
3. Find out what ran: if ml_audit is listed, call it with model='{name}' and read the newest rows
   (who, which tool, which version and digest, outcome); otherwise ask the operator for
   `mlgate audit tail -n 50`. Note the version that was serving when the trouble started.
4. If a bad version is serving, call ml_rollback with model='{name}' (optionally the version to restore)
   and check that `production` in the result is a version that served before.
5. Only when the cause is understood and fixed, call ml_resume with the same model ({target}).
6. Report a timeline: halt time, what you found, the version rolled back from and to, and whether
   serving was resumed."""


def forecast_report(
    model: ModelRef,
    horizon: Annotated[str, Field(description="Steps ahead to forecast, e.g. '12'.")] = "12",
    levels: Annotated[
        str, Field(description="Interval levels, comma-separated, e.g. '0.8,0.95'.")
    ] = "0.8,0.95",
) -> str:
    """Produce a forecast report with prediction intervals from a pinned forecaster version."""
    return f"""Write a forecast report with '{model}'.

1. Call ml_model_info with model='{model}': confirm it is a forecaster, note its metrics and the
   `example` history (use the user's own history if they gave one; oldest first, evenly spaced).
2. Call ml_forecast with model='{model}', that history, horizon={horizon} and levels=[{levels}].
3. Optionally call ml_segment on the history (with a segmenter model from ml_list_models) to mark
   regime changes the forecast may not expect.
4. Report: a table of step, point forecast, and lower/upper bound for each level; the exact version and
   sha256 that produced it (from the result's `model`); the model's metrics; and a plain-language note on
   how wide the intervals are and what could make the forecast wrong."""


PROMPTS: list[tuple[Callable[..., str], str]] = [
    (investigate_model, "Investigate a model"),
    (promote_safely, "Promote a version safely"),
    (respond_to_incident, "Respond to an incident"),
    (forecast_report, "Forecast report"),
]


class _Prompt(Prompt):
    """A prompt whose missing argument is the client's error (invalid params, naming it), not a server error."""

    async def render(
        self, arguments: dict[str, Any] | None, context: Context[Any, Any]
    ) -> list[Message] | InputRequiredResult:
        app = context.request_context.lifespan_context
        if not isinstance(app, App):  # pragma: no cover - a server built without mlgate's graph
            return await self._render(arguments, context)
        rt = app.runtime
        call = Call(f"prompt:{self.name}", caller_of(rt), arguments or {}, passthrough=(MCPError, ValueError))
        try:
            return await audited(rt, call, lambda: self._render(arguments, context))
        except MlgateError as exc:
            raise MCPError(INTERNAL_ERROR, str(exc)) from None

    async def _render(
        self, arguments: dict[str, Any] | None, context: Context[Any, Any]
    ) -> list[Message] | InputRequiredResult:
        given = arguments or {}
        missing = [
            a.name for a in self.arguments or [] if a.required and not str(given.get(a.name) or "").strip()
        ]
        if missing:
            needed = ", ".join(a.name for a in self.arguments or [] if a.required)
            raise MCPError(
                INVALID_PARAMS,
                f"prompt {self.name!r} is missing the argument(s) "
                f"{', '.join(map(repr, missing))}; it needs: {needed}",
            )
        return await super().render(arguments, context)


def register_prompts(server: MCPServer[Any]) -> None:
    """Add mlgate's prompts to ``server``."""
    for fn, title in PROMPTS:
        server.add_prompt(_Prompt.from_function(fn, title=title, description=(fn.__doc__ or "").strip()))
