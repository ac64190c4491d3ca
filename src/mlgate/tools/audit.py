"""ml_audit: the audit ledger, newest first. Thin: the query is in state/audit.py."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import anyio
from mcp.server.mcpserver import Context
from pydantic import Field, WithJsonSchema

from mlgate.schemas.audit import AuditEntry, AuditResult
from mlgate.state.audit import MAX_ROWS, AuditQuery, query
from mlgate.tools.context import runtime

_TEXT = {"type": ["string", "null"], "maxLength": 300}
Text = Annotated[str | None, Field(max_length=300), WithJsonSchema(_TEXT)]


async def audit(
    ctx: Context[Any, Any],
    limit: Annotated[int, Field(ge=1, le=MAX_ROWS)] = 50,
    subject: Text = None,
    tool: Text = None,
    model: Annotated[
        str | None, Field(max_length=300), WithJsonSchema({**_TEXT, "description": "A name, or one ref."})
    ] = None,
    outcome: Annotated[
        Literal["ok", "error", "refused"] | None, WithJsonSchema({"enum": ["ok", "error", "refused", None]})
    ] = None,
) -> AuditResult:
    """Audit ledger rows, newest first; every filter given must match."""
    rt = runtime(ctx)
    await rt.ledger.flush()  # rows of calls that already answered are in the result
    q = AuditQuery(limit=limit, subject=subject, tool=tool, model=model, outcome=outcome)
    rows = await anyio.to_thread.run_sync(query, rt.state, q)
    return AuditResult(rows=[AuditEntry.model_validate(r.to_dict()) for r in rows])
