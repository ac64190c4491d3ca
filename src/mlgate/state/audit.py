"""Reading the audit ledger: the newest rows first, filtered by subject, tool, model and outcome.

The ledger is append-only (``db.py``); this module only selects from it. A ``model`` filter
names a model (every ref of it: ``name@3``, ``name@production``, ``models:/name/3``) or one
exact ref (``name@3``, ``hf:org/repo@commit``).
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from mlgate.state.db import LedgerRow, StateDB, ledger

MAX_ROWS = 500


@dataclass(frozen=True, slots=True)
class AuditQuery:
    limit: int = 50
    subject: str | None = None
    tool: str | None = None
    model: str | None = None
    outcome: str | None = None


def _like_prefix(text: str) -> str:
    """``text`` as a LIKE prefix, its wildcards escaped (with ``\\``)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _model_clause(model: str) -> sa.ColumnElement[bool]:
    ref = ledger.c.model_ref
    if "@" in model or model.startswith("models:/"):
        return ref == model
    return sa.or_(
        ref == model,
        ref.like(_like_prefix(model + "@"), escape="\\"),
        ref.like(_like_prefix(f"models:/{model}/"), escape="\\"),
    )


def query(db: StateDB, q: AuditQuery) -> list[LedgerRow]:
    """The newest ``q.limit`` rows (at most ``MAX_ROWS``) matching every filter given, newest first."""
    select = sa.select(ledger)
    if q.subject:
        select = select.where(ledger.c.subject == q.subject)
    if q.tool:
        select = select.where(ledger.c.tool == q.tool)
    if q.model:
        select = select.where(_model_clause(q.model.strip()))
    if q.outcome:
        select = select.where(ledger.c.outcome == q.outcome)
    select = select.order_by(ledger.c.id.desc()).limit(max(1, min(q.limit, MAX_ROWS)))
    return [LedgerRow(**dict(row)) for row in db.rows(select)]
