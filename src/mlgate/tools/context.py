"""How a tool function reaches the runtime, its services and learns who is calling: from the MCP
request context, whose lifespan yields the process's graph (``mlgate.compose.App``).

This is the only place below the server that reads the MCP auth context; everything under
the tools receives the ``Caller`` as an argument.
"""

from __future__ import annotations

from typing import Annotated, Any

from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.mcpserver import Context
from pydantic import Discriminator, Field, Tag, WithJsonSchema

from mlgate.auth.caller import Caller
from mlgate.compose import App
from mlgate.jobs.service import JobService
from mlgate.serving.runtime import Runtime

ModelArg = Annotated[
    str,
    Field(
        description="'name@3' or 'name@production'.",
        examples=["demo-regressor@1", "demo-regressor@production"],
        max_length=300,
    ),
]


def app(ctx: Context[Any, Any]) -> App:
    """The graph the server was built on (``mlgate.compose.build_runtime``)."""
    found = ctx.request_context.lifespan_context
    if not isinstance(found, App):  # pragma: no cover - a wiring bug, not a caller error
        raise RuntimeError("the server was started without an mlgate App (mlgate.compose.build_runtime)")
    return found


def runtime(ctx: Context[Any, Any]) -> Runtime:
    return app(ctx).runtime


def jobs(ctx: Context[Any, Any]) -> JobService:
    return app(ctx).jobs


def caller_of(rt: Runtime) -> Caller:
    """The bearer token's subject, client and scopes over HTTP; the local user on stdio."""
    token = get_access_token()
    if token is not None:
        return Caller(token.subject or token.client_id, token.client_id, "http", frozenset(token.scopes))
    return rt.local_caller()


def caller(ctx: Context[Any, Any]) -> Caller:
    return caller_of(runtime(ctx))


# Records, or the same rows in columns (MLflow's ``dataframe_split``: each name once; records/columns.py)
_COLUMNS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "columns": {"type": "array", "items": {"type": "string"}},
        "rows": {"type": "array"},  # one list of values per row (the description says so; bytes count)
    },
    "required": ["columns", "rows"],
}

BATCH_SCHEMA: dict[str, Any] = {"anyOf": [{"type": "array", "items": {"type": "object"}}, _COLUMNS_SCHEMA]}


def _form(value: Any) -> str:
    """Which form a batch is in: an object is the columnar form, anything else is judged as records
    (so a bad call meets one form's complaint, not both; argument advice leaves the ``-form`` tag out)."""
    return "columns-form" if isinstance(value, dict) else "records-form"


_Forms = Annotated[
    Annotated[list[dict[str, Any]], Tag("records-form")] | Annotated[dict[str, Any], Tag("columns-form")],
    Discriminator(_form),
]
Batch = Annotated[_Forms, WithJsonSchema(BATCH_SCHEMA)]
OptionalBatch = Annotated[
    _Forms | None, WithJsonSchema({"anyOf": [*BATCH_SCHEMA["anyOf"], {"type": "null"}]})
]
