"""The result of ``ml_audit``: ledger rows, newest first."""

from __future__ import annotations

from pydantic import BaseModel


class AuditEntry(BaseModel):
    id: int | None
    at: str
    subject: str
    client: str | None
    transport: str
    tool: str
    model_ref: str | None
    version: str | None
    digest: str | None
    duration_ms: float
    outcome: str
    error_class: str | None
    error_message: str | None
    trace_id: str | None = None


class AuditResult(BaseModel):
    rows: list[AuditEntry]
