"""Captured predictions, the actuals joined to them, and the quality alerts they raise.

``CaptureStore(db)`` adds three tables to a ``StateDB`` (created on open if missing, in the
same write-locked way as ``JobStore``) and uses its engine; only portable column types, so
SQLite and PostgreSQL both work.

- ``captures``: one row per captured prediction: its id (handed to the caller), the caller's
  ``key`` if any, model name, version, artifact digest, kind (predictor, classifier,
  forecaster), time (epoch seconds), the prediction (JSON: a number; ``{label, probabilities}``;
  ``{forecast, intervals}``), the inputs only when input capture is on, and the actual once
  recorded (``actual``, ``actual_at``, ``actual_count``: how many times one was recorded).
- ``quality_alerts``: the degradation rules that currently fail, per model, version and rule.

Every method blocks on I/O: call it from a worker thread in async code.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

import sqlalchemy as sa

from mlgate.state.db import StateDB

metadata = sa.MetaData()
captures = sa.Table(
    "captures",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("key", sa.String(200)),
    sa.Column("model", sa.String(300), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("digest", sa.String(64)),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("at", sa.Float, nullable=False),
    sa.Column("prediction", sa.JSON, nullable=False),
    sa.Column("inputs", sa.JSON),
    sa.Column("actual", sa.JSON),
    sa.Column("actual_at", sa.Float),
    sa.Column("actual_count", sa.Integer, nullable=False, default=0),
    sa.Index("ix_captures_model_at", "model", "at"),
    sa.Index("ix_captures_model_key", "model", "key"),
)
alerts = sa.Table(
    "quality_alerts",
    metadata,
    sa.Column("model", sa.String(300), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("rule", sa.String(100), primary_key=True),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("at", sa.Float, nullable=False),
)


_INSERT = (
    "INSERT INTO captures (id, key, model, version, digest, kind, at, prediction, inputs, actual_count) "
    "VALUES ({p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, 0)"
)


def _dumps(value: Any) -> str:
    """JSON that PostgreSQL accepts: a NaN or infinity (a model may answer one) becomes null."""
    try:
        return json.dumps(value, allow_nan=False)
    except ValueError:
        return json.dumps(_finite(value))


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


class Capture(NamedTuple):
    """One captured prediction, as the hot path hands it to the writer (a tuple: cheap to make)."""

    id: str
    key: str | None
    model: str
    version: int
    digest: str | None
    kind: str
    at: float
    prediction: Any
    inputs: Any = None


@dataclass(frozen=True, slots=True)
class Matched:
    """A captured prediction with its actual, for the quality metrics."""

    version: int
    kind: str
    at: float
    prediction: Any
    actual: Any
    inputs: Any


@dataclass(slots=True)
class ActualsOutcome:
    recorded: int = 0
    duplicates: int = 0  # actuals that replaced one recorded before (last write wins)
    unknown: list[str] | None = None
    versions: set[int] | None = None  # the versions that received an actual


class CaptureStore:
    """The capture tables of one state database."""

    def __init__(self, db: StateDB) -> None:
        self.db = db
        db.create_tables(metadata)
        self._insert = _INSERT.format(p=db.placeholder)

    # -- captures -----------------------------------------------------------------------
    def insert_many(self, rows: Iterable[Capture]) -> None:
        """One transaction, through the driver's executemany with JSON serialised here (half the CPU of a
        Core insert: this runs on the capture writer thread, beside the event loop)."""
        dumps = _dumps
        values = [
            (r.id, r.key, r.model, r.version, r.digest, r.kind, r.at, dumps(r.prediction),
             None if r.inputs is None else dumps(r.inputs))
            for r in rows
        ]  # fmt: skip
        if values:
            with self.db.write() as conn:
                conn.exec_driver_sql(self._insert, values)

    def record_actuals(
        self, model: str, actuals: Mapping[str, Any], at: float | None = None
    ) -> ActualsOutcome:
        """Join ``{prediction_id or key: actual}`` to ``model``'s captured predictions in one transaction.

        An entry matches a prediction id first, else the newest prediction carrying that key in each
        version (a key sent to two versions, as shadow traffic, gives both their actual). An actual for a
        prediction that already has one replaces it (last write wins) and counts as a duplicate.
        Entries that match nothing (never captured, another model's, or deleted by retention) are
        returned in ``unknown``."""
        when = time.time() if at is None else at
        out = ActualsOutcome(unknown=[], versions=set())
        c = captures.c
        with self.db.write() as conn:
            for ref, actual in actuals.items():
                rows = conn.execute(
                    sa.select(c.id, c.version, c.actual_count).where(c.model == model, c.id == ref)
                ).all()
                if not rows:  # a key: the newest prediction carrying it, per version (shadow traffic)
                    newest: dict[int, Any] = {}
                    for r in conn.execute(
                        sa.select(c.id, c.version, c.actual_count)
                        .where(c.model == model, c.key == ref)
                        .order_by(c.at.desc())
                    ):
                        newest.setdefault(int(r.version), r)
                    rows = list(newest.values())
                if not rows:
                    out.unknown.append(ref)  # type: ignore[union-attr]
                    continue
                conn.execute(
                    captures.update()
                    .where(c.id.in_([r.id for r in rows]))
                    .values(actual=actual, actual_at=when, actual_count=c.actual_count + 1)
                )
                out.recorded += 1
                out.versions.update(int(r.version) for r in rows)  # type: ignore[union-attr]
                out.duplicates += 1 if any(r.actual_count for r in rows) else 0
        return out

    def matched(
        self, model: str, since: float | None = None, versions: Iterable[int] | None = None
    ) -> list[Matched]:
        """``model``'s captured predictions that have an actual, oldest first (``since``: predicted at or after)."""
        c = captures.c
        q = sa.select(c.version, c.kind, c.at, c.prediction, c.actual, c.inputs).where(
            c.model == model, c.actual_count > 0
        )
        if since is not None:
            q = q.where(c.at >= since)
        if versions is not None:
            q = q.where(c.version.in_(list(versions)))
        with self.db.read() as conn:
            rows = conn.execute(q.order_by(c.at)).all()
        return [Matched(r.version, r.kind, r.at, r.prediction, r.actual, r.inputs) for r in rows]

    def counts(self, model: str, since: float | None = None) -> dict[int, int]:
        """Captured predictions per version (with or without an actual)."""
        c = captures.c
        q = sa.select(c.version, sa.func.count()).where(c.model == model).group_by(c.version)
        if since is not None:
            q = q.where(c.at >= since)
        with self.db.read() as conn:
            rows = conn.execute(q).all()
        return {int(r[0]): int(r[1]) for r in rows}

    def get(self, capture_id: str) -> dict[str, Any] | None:
        with self.db.read() as conn:
            row = conn.execute(sa.select(captures).where(captures.c.id == capture_id)).mappings().first()
        return dict(row) if row is not None else None

    def total(self) -> int:
        with self.db.read() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(captures)).scalar_one())

    def purge(self, older_than: float) -> int:
        """Delete captures made before ``older_than`` (epoch seconds), actuals and all; returns how many."""
        with self.db.write() as conn:
            return int(conn.execute(captures.delete().where(captures.c.at < older_than)).rowcount or 0)

    # -- alerts -------------------------------------------------------------------------
    def set_alerts(self, model: str, version: int, failing: Mapping[str, str]) -> list[str]:
        """Make ``failing`` (rule → message) the version's active alerts; returns the rules newly raised."""
        when = time.time()
        a = alerts.c
        with self.db.write() as conn:
            before = {
                r.rule for r in conn.execute(sa.select(a.rule).where(a.model == model, a.version == version))
            }
            gone = before - set(failing)
            if gone:
                conn.execute(alerts.delete().where(a.model == model, a.version == version, a.rule.in_(gone)))
            new = [rule for rule in failing if rule not in before]
            for rule, message in failing.items():
                if rule in before:
                    conn.execute(
                        alerts.update()
                        .where(a.model == model, a.version == version, a.rule == rule)
                        .values(message=message[:2000], at=when)
                    )
                else:
                    conn.execute(
                        alerts.insert().values(
                            model=model, version=version, rule=rule, message=message[:2000], at=when
                        )
                    )
        return new

    def active_alerts(self) -> dict[tuple[str, int], list[str]]:
        """Every active alert's message, by (model, version)."""
        a = alerts.c
        with self.db.read() as conn:
            rows = conn.execute(sa.select(a.model, a.version, a.message).order_by(a.rule)).all()
        out: dict[tuple[str, int], list[str]] = {}
        for r in rows:
            out.setdefault((str(r.model), int(r.version)), []).append(str(r.message))
        return out
