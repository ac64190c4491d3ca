"""The model card resource (``mlgate://models/{name}/{version}``) and completion of its names and
versions: both read access (``ml:read``), both through the one audited path (``serving.audited``):
the fail-closed ledger check first, one ledger row each."""

from __future__ import annotations

from typing import Any

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError
from mcp.shared.exceptions import MCPError
from mcp_types import INTERNAL_ERROR, Completion, ResourceTemplateReference

from mlgate.compose import App
from mlgate.errors import InsufficientScope, MlgateError
from mlgate.serving.audited import Call, audited
from mlgate.serving.runtime import Runtime
from mlgate.tools.context import caller_of

_NONE = Completion(values=[], total=0, has_more=False)


def add_cards(server: MCPServer[App], runtime: Runtime) -> None:
    from mlgate.lifecycle import catalog

    @server.resource(
        "mlgate://models/{name}/{version}",
        name="model-card",
        title="Model version card",
        description="Interfaces, features with training ranges, metrics, lineage and an example call.",
        mime_type="text/markdown",
    )
    async def model_card(name: str, version: str) -> str:
        call = Call("resource:model-card", caller_of(runtime), {"model": f"{name}@{version}"}, "ml:read",
                    what="the model card")  # fmt: skip
        try:
            return await audited(runtime, call, lambda: catalog.card(runtime, name, version))
        except MlgateError as exc:  # the reader sees why (an isError-like resource error), not a crash
            raise ResourceError(str(exc)) from None

    @server.completion()  # type: ignore[no-untyped-call, untyped-decorator]
    async def complete(ref: Any, argument: Any, context: Any) -> Completion | None:
        if not isinstance(ref, ResourceTemplateReference):
            return None
        if argument.name not in ("name", "version"):
            return None
        chosen = ((context.arguments or {}) if context else {}).get("name")
        args = {"argument": argument.name, "prefix": argument.value or "", "name": chosen}
        call = Call("completion", caller_of(runtime), args, "ml:read", what="completion")

        async def values() -> Completion:
            versions = await runtime.models.list_versions_cached()
            prefix = argument.value or ""
            if argument.name == "name":
                found = sorted({v.name for v in versions if v.name.startswith(prefix)})
            else:
                found = [
                    str(v.version) for v in versions if v.name == chosen and str(v.version).startswith(prefix)
                ]
            return Completion(values=found[:100], total=len(found), has_more=len(found) > 100)

        try:
            return await audited(runtime, call, values)
        except InsufficientScope:  # names and versions are read access: nothing to complete
            return _NONE
        except MlgateError as exc:  # the ledger is stalled: say so (the SDK would hide any other error)
            raise MCPError(INTERNAL_ERROR, str(exc)) from None
