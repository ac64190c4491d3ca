"""The MCP server: the one list of tools, each with its annotations and a valid example.

Every tool passes through ``gate.guard`` (scope, fail-closed ledger, error mapping, one
ledger row) and the ``GateServer`` (legacy names, argument advice, the lean listing).
Tool modules never import this module; nothing registers itself by import.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from mcp.server.mcpserver import MCPServer
from mcp_types import ToolAnnotations

from mlgate import __version__
from mlgate.auth.scopes import AUDIT, HALT, INFER, MANAGE, READ
from mlgate.compose import App, compose
from mlgate.config import ALL_SCOPES
from mlgate.schemas.interfaces import INTERFACE_TABLE
from mlgate.server.apps import build_apps, stamp_caller, tool_meta
from mlgate.server.cards import add_cards
from mlgate.server.gate import ToolSpec, guard
from mlgate.server.instructions import INSTRUCTIONS
from mlgate.server.model_tools import ModelToolsServer, publish_model_tools
from mlgate.server.prompts import register_prompts
from mlgate.serving.runtime import Runtime
from mlgate.tools import audit, inference, jobs, lifecycle, models, monitoring, serving, skills, supply

READ_ONLY = ToolAnnotations(
    read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False
)
INFERENCE = ToolAnnotations(
    read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False
)
KILL_SWITCH = ToolAnnotations(
    read_only_hint=False, destructive_hint=True, idempotent_hint=True, open_world_hint=False
)
STAGE_CHANGE = ToolAnnotations(
    read_only_hint=False, destructive_hint=True, idempotent_hint=True, open_world_hint=False
)
REFIT = ToolAnnotations(
    read_only_hint=False, destructive_hint=True, idempotent_hint=False, open_world_hint=False
)
FETCH = ToolAnnotations(
    read_only_hint=False, destructive_hint=False, idempotent_hint=True, open_world_hint=True
)
BUILD = ToolAnnotations(
    read_only_hint=False, destructive_hint=False, idempotent_hint=True, open_world_hint=False
)
RECORD = ToolAnnotations(
    read_only_hint=False, destructive_hint=False, idempotent_hint=True, open_world_hint=False
)
CANCEL = ToolAnnotations(
    read_only_hint=False, destructive_hint=True, idempotent_hint=True, open_world_hint=False
)


_DIABETES = {
    "age": 0.04,
    "sex": 0.05,
    "bmi": 0.06,
    "bp": 0.02,
    "s1": -0.04,
    "s2": -0.03,
    "s3": -0.04,
    "s4": 0.0,
    "s5": 0.02,
    "s6": -0.02,
}
_INFERENCE: dict[str, tuple[Callable[..., Awaitable[Any]], dict[str, Any]]] = {
    "predictor": (inference.predict, {"model": "demo-regressor@1", "features": [_DIABETES]}),
    "classifier": (
        inference.classify,
        {
            "model": "demo-classifier@production",
            "features": [{"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}],
        },
    ),
    "forecaster": (
        inference.forecast,
        {
            "model": "demo-forecaster@1",
            "history": [112.0, 118.0, 132.0, 129.0],
            "horizon": 12,
            "levels": [0.8, 0.95],
        },
    ),
    "segmenter": (inference.segment, {"model": "demo-segmenter@1", "series": [0.1, 0.0, 0.2, 5.2, 5.1, 5.3]}),
    "analyzer": (inference.analyze, {"model": "demo-sentiment@1", "texts": ["Great battery life"]}),
}

TOOLS: list[ToolSpec] = [
    ToolSpec("ml_list_models", models.list_models, "List models", READ, READ_ONLY),
    ToolSpec(
        "ml_model_info",
        models.model_info,
        "Describe a model version",
        READ,
        READ_ONLY,
        {"model": "demo-regressor@production"},
    ),
    *(
        ToolSpec(i.tool, _INFERENCE[i.name][0], i.title, i.scope, INFERENCE, _INFERENCE[i.name][1])
        for i in INTERFACE_TABLE
    ),
    ToolSpec(
        "ml_halt",
        serving.halt,
        "Halt serving (kill switch)",
        HALT,
        KILL_SWITCH,
        {"model": "demo-regressor", "reason": "bad outputs after deploy"},
    ),
    ToolSpec("ml_resume", serving.resume, "Resume serving", HALT, KILL_SWITCH, {"model": "demo-regressor"}),
    ToolSpec("ml_serving_status", serving.serving_status, "Serving status", READ, READ_ONLY),
    ToolSpec("ml_list_skills", skills.list_skills, "List hash-locked skills", READ, READ_ONLY),
    ToolSpec(
        "ml_run_skill",
        skills.run_skill,
        "Run a hash-locked skill",
        INFER,
        INFERENCE,
        {"skill": "multi_horizon_forecast@1", "inputs": {"history": [1.0, 2.0, 3.0]}},
    ),
    ToolSpec(
        "ml_drift",
        lifecycle.check_drift,
        "Check data drift",
        READ,
        READ_ONLY,
        {"model": "demo-regressor@production", "current": [_DIABETES]},
    ),
    ToolSpec(
        "ml_compare",
        lifecycle.compare,
        "Compare versions' metrics",
        READ,
        READ_ONLY,
        {"model": "demo-regressor", "versions": [1, 2]},
    ),
    ToolSpec(
        "ml_promote",
        lifecycle.promote,
        "Promote a version (gated)",
        MANAGE,
        STAGE_CHANGE,
        {"model": "demo-regressor", "version": 2, "to": "production", "gates": {"min_r2": 0.4}},
    ),
    ToolSpec(
        "ml_rollback",
        lifecycle.rollback,
        "Roll production back",
        MANAGE,
        STAGE_CHANGE,
        {"model": "demo-regressor", "version": 1},
    ),
    ToolSpec(
        "ml_retrain",
        lifecycle.retrain,
        "Retrain and promote if better",
        MANAGE,
        REFIT,
        {"model": "demo-regressor@production", "data": "batches/2026-11.csv", "target": "progression"},
    ),
    ToolSpec(
        "ml_pull",
        supply.pull,
        "Pull a Hub model at an exact revision",
        MANAGE,
        FETCH,
        {"repo_id": "acme/iris-onnx", "revision": "0123456789abcdef0123456789abcdef01234567"},
    ),
    ToolSpec(
        "ml_compile",
        supply.compile,
        "Compile a version (ONNX, INT8, FP16, TorchScript)",
        MANAGE,
        BUILD,
        {"model": "demo-classifier@1", "target": "onnx"},
    ),
    ToolSpec(
        "ml_job", jobs.job, "Job status", READ, READ_ONLY, {"job_id": "3f2a9c0d4b5e6f708192a3b4c5d6e7f8"}
    ),
    ToolSpec(
        "ml_job_cancel",
        jobs.job_cancel,
        "Cancel a job",
        READ,
        CANCEL,
        {"job_id": "3f2a9c0d4b5e6f708192a3b4c5d6e7f8"},
    ),
    ToolSpec(
        "ml_list_jobs", jobs.list_jobs, "List jobs", READ, READ_ONLY, {"status": "running", "limit": 10}
    ),
    ToolSpec(
        "ml_audit", audit.audit, "Audit ledger", AUDIT, READ_ONLY, {"model": "demo-regressor", "limit": 20}
    ),
    ToolSpec(
        "ml_record_actuals",
        monitoring.record_actuals,
        "Record actuals",
        MANAGE,
        RECORD,
        {
            "model": "demo-regressor",
            "actuals": [{"prediction_id": "3f2a9c0d4b5e6f708192a3b4c5d6e7f8", "value": 151.0}],
        },
    ),
    ToolSpec(
        "ml_performance",
        monitoring.performance,
        "Live quality",
        READ,
        READ_ONLY,
        {"model": "demo-regressor", "window": "7d"},
    ),
]
SPECS: dict[str, ToolSpec] = {spec.name: spec for spec in TOOLS}
# the one map from tool to scope, derived from the list (the HTTP layer answers 403 with it before a call)
TOOL_SCOPES: dict[str, str] = {spec.name: spec.scope for spec in TOOLS}
assert len(SPECS) == len(TOOLS) and set(TOOL_SCOPES.values()) <= set(ALL_SCOPES), (
    "tool names unique, scopes known"
)
# the first release's dotted names (ml.predict …): still answered, never listed; the ledger records the new name
LEGACY_NAMES: dict[str, str] = {spec.name.replace("ml_", "ml.", 1): spec.name for spec in TOOLS}


class ViewServer(ModelToolsServer):
    """``ModelToolsServer`` (a ``GateServer``) with the MCP Apps views (server/apps.py): for a host with the extension, a view's
    tool result also says who is calling (its ``_meta``); its JSON is the same for every host."""

    async def call_tool(self, name: str, arguments: dict[str, Any], context: Any = None) -> Any:
        result = await super().call_tool(name, arguments, context)
        return stamp_caller(result, self.legacy.get(name, name), context, self.runtime)


def build_server(graph: App | Runtime) -> MCPServer[App]:
    """The MCP server on ``graph`` (``mlgate.compose.build_runtime``); a bare ``Runtime`` (tests) is
    composed here by the same root. The lifespan yields the ``App``: tools reach it through
    ``tools/context.py``."""
    app = compose(graph) if isinstance(graph, Runtime) else graph
    runtime = app.runtime

    @asynccontextmanager
    async def lifespan(_: MCPServer[App]) -> AsyncIterator[App]:
        await publish_model_tools(server)  # MLGATE_MODEL_TOOLS; says what tools/list weighs
        yield app

    server = ViewServer(
        "mlgate",
        title="mlgate",
        version=__version__,
        instructions=INSTRUCTIONS,
        lifespan=lifespan,
        extensions=[build_apps()],
    )
    server.use(app, TOOLS)
    server.use_model_tools(runtime.settings.model_tools, SPECS)
    for spec in TOOLS:
        server.add_tool(
            guard(spec),
            name=spec.name,
            title=spec.title,
            description=(spec.fn.__doc__ or "").strip(),
            annotations=spec.annotations,
            structured_output=True,
            meta=tool_meta(spec.name),  # its view, for hosts with MCP Apps
        )
    register_prompts(server)
    add_cards(server, runtime)
    return server
