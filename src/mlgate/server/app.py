"""The MCP server: the one list of tools, each with its annotations and a valid example.

Every tool passes through ``guard``: the scope check (the same rule on every transport),
the domain-error → ``isError`` mapping, and one ledger row per call. ``GateServer`` adds
what happens before a tool runs: the dotted names of the first release answer as their
canonical ``ml_*`` names, and arguments that fail validation come back as advice (the
argument, what was expected, a valid example) with their own ledger row.
Tool modules never import this module; nothing registers itself by import.
"""

from __future__ import annotations

import functools
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import anyio
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ToolError
from mcp.shared.exceptions import MCPError
from mcp_types import Completion, ResourceTemplateReference, ToolAnnotations
from mcp_types import Tool as MCPTool
from pydantic import ValidationError

from mlgate import __version__
from mlgate.auth.scopes import check_registered, scope_for
from mlgate.errors import InsufficientScope, InvalidInput, MlgateError
from mlgate.schemas.interfaces import INTERFACE_TABLE
from mlgate.server.advice import argument_advice
from mlgate.server.listing import lean_tool
from mlgate.server.prompts import register_prompts
from mlgate.serving.runtime import Runtime
from mlgate.supply.hub import HubResolver
from mlgate.tools import inference, jobs, lifecycle, models, serving, skills, supply
from mlgate.tools.context import caller_of

log = logging.getLogger("mlgate.tools")

READ = ToolAnnotations(
    read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False
)
INFER = ToolAnnotations(
    read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False
)
SWITCH = ToolAnnotations(
    read_only_hint=False, destructive_hint=True, idempotent_hint=True, open_world_hint=False
)
STAGE = ToolAnnotations(
    read_only_hint=False, destructive_hint=True, idempotent_hint=True, open_world_hint=False
)
RETRAIN = ToolAnnotations(
    read_only_hint=False, destructive_hint=True, idempotent_hint=False, open_world_hint=False
)
PULL = ToolAnnotations(
    read_only_hint=False, destructive_hint=False, idempotent_hint=True, open_world_hint=True
)
BUILD = ToolAnnotations(
    read_only_hint=False, destructive_hint=False, idempotent_hint=True, open_world_hint=False
)
CANCEL = ToolAnnotations(
    read_only_hint=False, destructive_hint=True, idempotent_hint=True, open_world_hint=False
)


@dataclass(frozen=True)
class ToolSpec:
    name: str
    fn: Callable[..., Awaitable[Any]]
    title: str
    annotations: ToolAnnotations
    example: dict[str, Any] = field(default_factory=dict)  # valid arguments (a test checks each validates)


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
    ToolSpec("ml_list_models", models.list_models, "List models", READ),
    ToolSpec(
        "ml_model_info",
        models.model_info,
        "Describe a model version",
        READ,
        {"model": "demo-regressor@production"},
    ),
    *(
        ToolSpec(i.tool, _INFERENCE[i.name][0], i.title, INFER, _INFERENCE[i.name][1])
        for i in INTERFACE_TABLE
    ),
    ToolSpec(
        "ml_halt",
        serving.halt,
        "Halt serving (kill switch)",
        SWITCH,
        {"model": "demo-regressor", "reason": "bad outputs after deploy"},
    ),
    ToolSpec("ml_resume", serving.resume, "Resume serving", SWITCH, {"model": "demo-regressor"}),
    ToolSpec("ml_serving_status", serving.serving_status, "Serving status", READ),
    ToolSpec("ml_list_skills", skills.list_skills, "List hash-locked skills", READ),
    ToolSpec(
        "ml_run_skill",
        skills.run_skill,
        "Run a hash-locked skill",
        INFER,
        {"skill": "multi_horizon_forecast@1", "inputs": {"history": [1.0, 2.0, 3.0]}},
    ),
    ToolSpec(
        "ml_drift",
        lifecycle.check_drift,
        "Check data drift",
        READ,
        {"model": "demo-regressor@production", "current": [_DIABETES]},
    ),
    ToolSpec(
        "ml_compare",
        lifecycle.compare,
        "Compare versions' metrics",
        READ,
        {"model": "demo-regressor", "versions": [1, 2]},
    ),
    ToolSpec(
        "ml_promote",
        lifecycle.promote,
        "Promote a version (gated)",
        STAGE,
        {"model": "demo-regressor", "version": 2, "to": "production", "gates": {"min_r2": 0.4}},
    ),
    ToolSpec(
        "ml_rollback",
        lifecycle.rollback,
        "Roll production back",
        STAGE,
        {"model": "demo-regressor", "version": 1},
    ),
    ToolSpec(
        "ml_retrain",
        lifecycle.retrain,
        "Retrain and promote if better",
        RETRAIN,
        {"model": "demo-regressor@production", "data": "batches/2026-11.csv", "target": "progression"},
    ),
    ToolSpec(
        "ml_pull",
        supply.pull,
        "Pull a Hub model at an exact revision",
        PULL,
        {"repo_id": "acme/iris-onnx", "revision": "0123456789abcdef0123456789abcdef01234567"},
    ),
    ToolSpec(
        "ml_compile",
        supply.compile,
        "Compile a version (ONNX, INT8, FP16, TorchScript)",
        BUILD,
        {"model": "demo-classifier@1", "target": "onnx"},
    ),
    ToolSpec("ml_job", jobs.job, "Job status", READ, {"job_id": "3f2a9c0d4b5e6f708192a3b4c5d6e7f8"}),
    ToolSpec(
        "ml_job_cancel",
        jobs.job_cancel,
        "Cancel a job",
        CANCEL,
        {"job_id": "3f2a9c0d4b5e6f708192a3b4c5d6e7f8"},
    ),
    ToolSpec("ml_list_jobs", jobs.list_jobs, "List jobs", READ, {"status": "running", "limit": 10}),
]
SPECS: dict[str, ToolSpec] = {spec.name: spec for spec in TOOLS}
# the first release's dotted names (ml.predict …): still answered, never listed; the ledger records the new name
LEGACY_NAMES: dict[str, str] = {spec.name.replace("ml_", "ml.", 1): spec.name for spec in TOOLS}

INSTRUCTIONS = """mlgate serves an organisation's registered ML models.
Start with ml_list_models, then ml_model_info on a version to see its features and an example call.
Always pin a version ('name@3') or an alias ('name@production'); every result's `model` is the exact version that
ran: {name, version, ref, sha256}. Long calls (pull, compile, retrain, skills) may answer with a `job`: poll ml_job."""


class Cancelled(MlgateError):
    """The ledger's error of a call its client cancelled (or left) before it finished."""

    code = "cancelled"

    def __init__(self) -> None:
        super().__init__("the call was cancelled by its client (or the client went away) before it finished")


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
        result: Any = None
        failure: BaseException | None = None
        message = ""
        try:
            if not caller.may(scope):
                raise InsufficientScope(spec.name, scope)
            rt.ledger.check()  # a call that could not leave its row does nothing (fail closed)
            result = await fn(**kwargs)
        except anyio.get_cancelled_exc_class():
            # cancelled (notifications/cancelled, or the client went away): the row is written all the same
            with anyio.CancelScope(shield=True):
                try:
                    await _recorded(rt, spec, rt.record(spec.name, caller, kwargs, None, t0, Cancelled()))
                except MlgateError as exc:
                    log.error("%s was cancelled and its ledger row could not be written: %s", spec.name, exc)
            raise
        except MlgateError as exc:
            failure, message = exc, str(exc)
        except (ToolError, MCPError):
            raise
        except Exception as exc:
            incident = uuid.uuid4().hex[:12]
            log.exception("%s failed unexpectedly (incident %s)", spec.name, incident)
            failure = exc
            message = (
                f"{spec.name} failed inside the server (incident {incident}); the operator's log has details"
            )
        try:
            await _recorded(rt, spec, rt.record(spec.name, caller, kwargs, result, t0, failure))
        except MlgateError as exc:  # the row could not be written: the call must not look successful
            raise ToolError(str(exc)) from None
        if failure is not None:
            raise ToolError(message) from None
        return result

    return call


async def _recorded(rt: Runtime, spec: ToolSpec, seq: int) -> None:
    """With MLGATE_LEDGER_SYNC, or for a tool that changes state, answer only once the row is committed."""
    if rt.settings.ledger_sync or not spec.annotations.read_only_hint:
        await rt.committed(seq)


class GateServer(MCPServer[Runtime]):
    """``MCPServer`` plus legacy names and argument advice, before any tool body runs."""

    runtime: Runtime
    _listing: list[MCPTool] | None = None

    async def list_tools(self) -> list[MCPTool]:
        if self._listing is None:  # tools are fixed once the server is built
            self._listing = [lean_tool(t) for t in await super().list_tools()]
        return self._listing

    async def call_tool(self, name: str, arguments: dict[str, Any], context: Any = None) -> Any:
        name = LEGACY_NAMES.get(name, name)
        t0 = time.perf_counter()
        try:
            return await super().call_tool(name, arguments, context)
        except ToolError as exc:
            spec = SPECS.get(name)
            if spec is None or not isinstance(exc.__cause__, ValidationError):
                raise
            advice = InvalidInput(*argument_advice(name, exc.__cause__, spec.example))
            rt = self.runtime
            try:
                await _recorded(rt, spec, rt.record(name, caller_of(rt), arguments, None, t0, advice))
            except MlgateError as exc:
                raise ToolError(str(exc)) from None
            raise ToolError(str(advice)) from None


def build_server(runtime: Runtime) -> MCPServer[Runtime]:
    @asynccontextmanager
    async def lifespan(_: MCPServer[Runtime]) -> AsyncIterator[Runtime]:
        yield runtime

    server = GateServer(
        "mlgate", title="mlgate", version=__version__, instructions=INSTRUCTIONS, lifespan=lifespan
    )
    server.runtime = runtime
    runtime.models.add_source(
        "hf", lambda: HubResolver(runtime.settings)
    )  # pulled snapshots: hf:org/repo@commit
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
    register_prompts(server)
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
        t0 = time.perf_counter()
        args = {"model": f"{name}@{version}"}
        try:
            if not caller.may("ml:read"):
                raise InsufficientScope("the model card", "ml:read")
            card = await catalog.card(runtime, name, version)
        except MlgateError as exc:  # the reader sees why (an isError-like resource error), not a crash
            runtime.record("resource:model-card", caller, args, None, t0, exc)
            raise ResourceError(str(exc)) from None
        runtime.record("resource:model-card", caller, args, None, t0, None)
        return card

    @server.completion()  # type: ignore[no-untyped-call, untyped-decorator]
    async def complete(ref: Any, argument: Any, context: Any) -> Completion | None:
        if not isinstance(ref, ResourceTemplateReference):
            return None
        caller = caller_of(runtime)
        if not caller.may("ml:read"):  # names and versions are read access
            runtime.record(
                "completion",
                caller,
                {},
                None,
                time.perf_counter(),
                InsufficientScope("completion", "ml:read"),
            )
            return Completion(values=[], total=0, has_more=False)
        versions = await runtime.models.list_versions_cached()
        prefix = argument.value or ""
        if argument.name == "name":
            values = sorted({v.name for v in versions if v.name.startswith(prefix)})
        elif argument.name == "version":
            chosen = ((context.arguments or {}) if context else {}).get("name")
            values = [
                str(v.version) for v in versions if v.name == chosen and str(v.version).startswith(prefix)
            ]
        else:
            return None
        return Completion(values=values[:100], total=len(values), has_more=len(values) > 100)
