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
    outcome: str  # ok, error, or refused (an authorization refusal: scope, token)
    error_class: str | None
    error_message: str | None  # the error class and the offending fields, never argument values
    trace_id: str | None = None
    run_id: str | None = None  # the skill run a step's row (and the run's own row) belongs to


class AuditResult(BaseModel):
    rows: list[AuditEntry]
