"""The model card resource (``mlgate://models/{name}/{version}``) and completion of its names and
versions: both read access (``ml:read``), both leave their ledger row."""

from __future__ import annotations

import time
from typing import Any

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError
from mcp_types import Completion, ResourceTemplateReference

from mlgate.errors import InsufficientScope, MlgateError
from mlgate.serving.runtime import Runtime
from mlgate.tools.context import caller_of


def add_cards(server: MCPServer[Runtime], runtime: Runtime) -> None:
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
