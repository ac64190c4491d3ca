"""How a tool function reaches the runtime: through the MCP lifespan context."""

from __future__ import annotations

from typing import Annotated, Any

from mcp.server.mcpserver import Context
from pydantic import Field

from mlgate.serving.runtime import Runtime

ModelArg = Annotated[
    str,
    Field(
        description="A pinned model reference: 'name@3', 'models:/name/3' or 'name@production' (an alias). "
        "'latest' and bare names are refused.",
        examples=["demo-regressor@1", "demo-regressor@production"],
        max_length=300,
    ),
]


def runtime(ctx: Context[Any, Any]) -> Runtime:
    rt = ctx.request_context.lifespan_context
    if not isinstance(rt, Runtime):  # pragma: no cover - a wiring bug, not a caller error
        raise RuntimeError("the server was started without an mlgate Runtime")
    return rt
