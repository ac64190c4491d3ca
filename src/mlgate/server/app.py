"""The MCP server: the one list of tools, each with its scope and annotations.

Every tool passes through ``guard``: the scope check (the same rule on every
transport), the domain-error → ``isError`` mapping, and one ledger row per call.
Tool modules never import this module; nothing registers itself by import.
"""

from __future__ import annotations

import functools
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.shared.exceptions import MCPError
from mcp_types import Completion, ResourceTemplateReference, ToolAnnotations

from mlgate import __version__
from mlgate.auth.scopes import check_registered, satisfies, scope_for
from mlgate.errors import InsufficientScope, MlgateError
from mlgate.serving.runtime import Runtime
from mlgate.tools import inference, lifecycle, models, serving, skills, supply
from mlgate.tools.context import caller_of

log = logging.getLogger("mlgate.tools")

READ = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False)
INFER = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False)
SWITCH = ToolAnnotations(read_only_hint=False, destructive_hint=True, idempotent_hint=True, open_world_hint=False)
STAGE = ToolAnnotations(read_only_hint=False, destructive_hint=True, idempotent_hint=True, open_world_hint=False)
RETRAIN = ToolAnnotations(read_only_hint=False, destructive_hint=True, idempotent_hint=False, open_world_hint=False)
PULL = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=True, open_world_hint=True)
BUILD = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=True, open_world_hint=False)


@dataclass(frozen=True)
class ToolSpec:
    name: str
    fn: Callable[..., Awaitable[Any]]
    title: str
    annotations: ToolAnnotations


TOOLS: list[ToolSpec] = [
    ToolSpec("ml.list_models", models.list_models, "List models", READ),
    ToolSpec("ml.model_info", models.model_info, "Describe a model version", READ),
    ToolSpec("ml.predict", inference.predict, "Predict", INFER),
    ToolSpec("ml.classify", inference.classify, "Classify", INFER),
    ToolSpec("ml.forecast", inference.forecast, "Forecast with intervals", INFER),
    ToolSpec("ml.segment", inference.segment, "Find change points", INFER),
    ToolSpec("ml.analyze", inference.analyze, "Analyze texts", INFER),
    ToolSpec("ml.halt", serving.halt, "Halt serving (kill switch)", SWITCH),
    ToolSpec("ml.resume", serving.resume, "Resume serving", SWITCH),
    ToolSpec("ml.serving_status", serving.serving_status, "Serving status", READ),
    ToolSpec("ml.list_skills", skills.list_skills, "List hash-locked skills", READ),
    ToolSpec("ml.run_skill", skills.run_skill, "Run a hash-locked skill", INFER),
    ToolSpec("ml.drift", lifecycle.check_drift, "Check data drift", READ),
    ToolSpec("ml.compare", lifecycle.compare, "Compare versions' metrics", READ),
    ToolSpec("ml.promote", lifecycle.promote, "Promote a version (gated)", STAGE),
    ToolSpec("ml.rollback", lifecycle.rollback, "Roll production back", STAGE),
    ToolSpec("ml.retrain", lifecycle.retrain, "Retrain and promote if better", RETRAIN),
    ToolSpec("ml.pull", supply.pull, "Pull a Hub model at an exact revision", PULL),
    ToolSpec("ml.compile", supply.compile, "Compile a version (ONNX, INT8, FP16, TorchScript)", BUILD),
]

INSTRUCTIONS = """mlgate serves an organisation's registered ML models.
Start with ml.list_models, then ml.model_info on a version to see its features and an example call.
Always pin a version ('name@3') or an alias ('name@production'); every result names the exact version that ran."""


def guard(spec: ToolSpec) -> Callable[..., Awaitable[Any]]:
    """Wrap a tool: scope check, error mapping, ledger row. Keeps the tool's signature."""
    scope = scope_for(spec.name)
    fn = spec.fn

    @functools.wraps(fn)
    async def call(**kwargs: Any) -> Any:
        ctx: Context[Any, Any] = kwargs["ctx"]
        rt: Runtime = ctx.request_context.lifespan_context
        caller = caller_of(rt)
        t0 = time.perf_counter()
        sync = rt.settings.ledger_sync  # MLGATE_LEDGER_SYNC: answer only once the ledger row is committed
        try:
            if not satisfies(caller.scopes, scope):
                raise InsufficientScope(spec.name, scope)
            result = await fn(**kwargs)
        except MlgateError as exc:
            seq = rt.record(spec.name, caller, kwargs, None, t0, exc)
            if sync:
                await _committed(rt, seq)
            raise ToolError(str(exc)) from None
        except (ToolError, MCPError):
            raise
        except Exception as exc:
            incident = uuid.uuid4().hex[:12]
            log.exception("%s failed unexpectedly (incident %s)", spec.name, incident)
            seq = rt.record(spec.name, caller, kwargs, None, t0, exc)
            if sync:
                await _committed(rt, seq)
            raise ToolError(
                f"{spec.name} failed inside the server (incident {incident}); the operator's log has details"
            ) from None
        seq = rt.record(spec.name, caller, kwargs, result, t0, None)
        if sync:
            await _committed(rt, seq)
        return result

    return call


async def _committed(rt: Runtime, seq: int) -> None:
    try:
        await rt.committed(seq)
    except MlgateError as exc:  # the row could not be written: the call must not look successful
        raise ToolError(str(exc)) from None


def build_server(runtime: Runtime) -> MCPServer[Runtime]:
    @asynccontextmanager
    async def lifespan(_: MCPServer[Runtime]) -> AsyncIterator[Runtime]:
        yield runtime

    server: MCPServer[Runtime] = MCPServer(
        "mlgate", title="mlgate", version=__version__, instructions=INSTRUCTIONS, lifespan=lifespan
    )
    for spec in TOOLS:
        server.add_tool(
            guard(spec),
            name=spec.name,
            title=spec.title,
            description=(spec.fn.__doc__ or "").strip(),
            annotations=spec.annotations,
            structured_output=True,
        )
    check_registered(spec.name for spec in TOOLS)
    _add_cards(server, runtime)
    return server


def _add_cards(server: MCPServer[Runtime], runtime: Runtime) -> None:
    from mlgate.lifecycle import catalog

    @server.resource(
        "mlgate://models/{name}/{version}",
        name="model-card",
        title="Model version card",
        description="Interfaces, features with training ranges, metrics, lineage and an example call.",
        mime_type="text/markdown",
    )
    async def model_card(name: str, version: str) -> str:
        caller = caller_of(runtime)
        if not satisfies(caller.scopes, "ml:read"):
            raise InsufficientScope("the model card", "ml:read")
        return await catalog.card(runtime, name, version)

    @server.completion()  # type: ignore[no-untyped-call, untyped-decorator]
    async def complete(ref: Any, argument: Any, context: Any) -> Completion | None:
        if not isinstance(ref, ResourceTemplateReference):
            return None
        versions = await runtime.models.list_versions_cached()
        prefix = argument.value or ""
        if argument.name == "name":
            values = sorted({v.name for v in versions if v.name.startswith(prefix)})
        elif argument.name == "version":
            chosen = ((context.arguments or {}) if context else {}).get("name")
            values = [str(v.version) for v in versions if v.name == chosen and str(v.version).startswith(prefix)]
        else:
            return None
        return Completion(values=values[:100], total=len(values), has_more=len(values) > 100)
