"""Captured predictions, the actuals joined to them, and the quality alerts they raise.

``CaptureStore(db)`` adds three tables to a ``StateDB`` (created on open if missing, in the
same write-locked way as ``JobStore``) and uses its engine; only portable column types, so
SQLite and PostgreSQL both work.

- ``captures``: one row per captured prediction: its id (handed to the caller), the caller's
  ``key`` if any, the token ``subject`` that made it (NULL on rows captured before subjects were
  kept: the column is added to an older table on open), model name, version, artifact digest, kind (predictor, classifier,
  forecaster), time (epoch seconds), the prediction (JSON: a number; ``{label, probabilities}``;
  ``{forecast, intervals}``), the inputs only when input capture is on, and the actual once
  recorded (``actual``, ``actual_at``, ``actual_count``: how many times one was recorded).
- ``quality_alerts``: the degradation rules that currently fail, per model, version and rule.

Ids and keys join only within a set of subjects (the caller's own, or its operator-declared
group, ``MLGATE_CAPTURE_GROUPS``): one subject cannot attach actuals to another's predictions,
nor learn that they exist (they come back as unknown).

Every method blocks on I/O: call it from a worker thread in async code.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import sqlalchemy as sa

from mlgate.state import quality_sums
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
    sa.Column("subject", sa.String(255)),
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

_SET_ACTUAL = (
    captures.update()
    .where(captures.c.id == sa.bindparam("rid"))
    .values(
        actual=sa.bindparam("a", type_=sa.JSON),
        actual_at=sa.bindparam("t"),
        actual_count=captures.c.actual_count + sa.bindparam("n"),
    )
)

_INSERT = (
    "INSERT INTO captures (id, key, model, version, digest, kind, at, prediction, inputs, subject, actual_count) "
    "VALUES ({p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, 0)"
)
_CHUNK = 500  # ids or keys per lookup query (well under every driver's parameter limit)


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
    subject: str | None = None  # the token subject that made the prediction


@dataclass(frozen=True, slots=True)
class Subjects:
    """Whose captured rows a caller may join actuals to: its own subject's, its group's, and with
    ``legacy`` also the rows captured before subjects were kept (NULL; an administrator's only)."""

    names: frozenset[str]
    legacy: bool = False

    def clause(self) -> sa.ColumnElement[bool]:
        own = captures.c.subject.in_(sorted(self.names))
        return sa.or_(own, captures.c.subject.is_(None)) if self.legacy else own


@dataclass(frozen=True, slots=True)
class Matched:
    """A captured prediction with its actual, for the quality metrics."""

    version: int
    kind: str
    at: float
    prediction: Any
    actual: Any
    inputs: Any


class Change(NamedTuple):
    """One captured prediction an actual was just recorded for (``before``: the actual it replaced)."""

    version: int
    kind: str
    at: float
    prediction: Any
    before: Any
    actual: Any


@dataclass(slots=True)
class ActualsOutcome:
    recorded: int = 0
    duplicates: int = 0  # actuals that replaced one recorded before (last write wins)
    unknown: list[str] | None = None
    versions: set[int] | None = None  # the versions that received an actual
    changes: list[Change] = field(default_factory=list)


def _chunks(items: list[str]) -> Iterator[list[str]]:
    for i in range(0, len(items), _CHUNK):
        yield items[i : i + _CHUNK]


class CaptureStore:
    """The capture tables of one state database."""

    def __init__(self, db: StateDB) -> None:
        self.db = db
        with db.write(lock=True) as conn:
            metadata.create_all(conn, checkfirst=True)
            columns = {c["name"] for c in sa.inspect(conn).get_columns("captures")}
            if "subject" not in columns:  # a table from before subjects were kept: its rows stay, unbound
                conn.execute(sa.text("ALTER TABLE captures ADD COLUMN subject VARCHAR(255)"))
            quality_sums.create(conn, captures)
        self._insert = _INSERT.format(p=db.placeholder)

    # -- captures -----------------------------------------------------------------------
    def insert_many(self, rows: Iterable[Capture]) -> None:
        """One transaction, through the driver's executemany with JSON serialised here (half the CPU of a
        Core insert: this runs on the capture writer thread, beside the event loop)."""
        dumps = _dumps
        values = [
            (r.id, r.key, r.model, r.version, r.digest, r.kind, r.at, dumps(r.prediction),
             None if r.inputs is None else dumps(r.inputs), r.subject)
            for r in rows
        ]  # fmt: skip
        if values:
            with self.db.write() as conn:
                conn.exec_driver_sql(self._insert, values)

    def record_actuals(
        self, model: str, actuals: Mapping[str, Any], subjects: Subjects, at: float | None = None
    ) -> ActualsOutcome:
        """Join ``{prediction_id or key: actual}`` to ``model``'s predictions made by ``subjects``, in one
        transaction.

        An entry matches a prediction id first, else the newest prediction carrying that key in each
        version (a key sent to two versions, as shadow traffic, gives both their actual). An actual for a
        prediction that already has one replaces it (last write wins) and counts as a duplicate.
        Entries that match nothing (never captured, another subject's or model's, or deleted by
        retention) are returned in ``unknown``."""
        when = time.time() if at is None else at
        out = ActualsOutcome(unknown=[], versions=set())
        c = captures.c
        cols = (c.id, c.key, c.version, c.kind, c.at, c.prediction, c.actual, c.actual_count)
        refs = list(actuals)
        mine = sa.and_(c.model == model, subjects.clause())
        with self.db.write() as conn:
            by_id: dict[str, Any] = {}
            for part in _chunks(refs):
                query = sa.select(*cols).where(mine, c.id.in_(part)).with_for_update()
                by_id.update((r.id, r) for r in conn.execute(query))
            by_key: dict[str, dict[int, Any]] = {}
            for part in _chunks([ref for ref in refs if ref not in by_id]):
                query = sa.select(*cols).where(mine, c.key.in_(part)).order_by(c.at.desc()).with_for_update()
                for r in conn.execute(query):  # newest first: the first row per (key, version) wins
                    by_key.setdefault(str(r.key), {}).setdefault(int(r.version), r)
            # row id -> (its actual, times recorded, of those by this call)
            now: dict[str, tuple[Any, int, int]] = {}
            for ref in refs:
                rows = [by_id[ref]] if ref in by_id else list(by_key.get(ref, {}).values())
                if not rows:
                    out.unknown.append(ref)  # type: ignore[union-attr]
                    continue
                actual = actuals[ref]
                dup = False
                for r in rows:
                    before, count, added = now.get(r.id, (r.actual, int(r.actual_count), 0))
                    dup = dup or count > 0
                    out.changes.append(Change(int(r.version), str(r.kind), float(r.at), r.prediction,
                                              before if count > 0 else None, actual))  # fmt: skip
                    now[r.id] = (actual, count + 1, added + 1)
                out.recorded += 1
                out.versions.update(int(r.version) for r in rows)  # type: ignore[union-attr]
                out.duplicates += 1 if dup else 0
            if now:
                conn.execute(_SET_ACTUAL, [
                    {"rid": rid, "a": actual, "t": when, "n": added} for rid, (actual, _, added) in now.items()
                ])  # fmt: skip
                quality_sums.apply(conn, quality_sums.deltas(model, out.changes))
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

    def counts(self, model: str, since: float | None = None) -> dict[int, tuple[int, str]]:
        """Captured predictions per version (with or without an actual), and the version's interface."""
        c = captures.c
        q = sa.select(c.version, c.kind, sa.func.count()).where(c.model == model).group_by(c.version, c.kind)
        if since is not None:
            q = q.where(c.at >= since)
        with self.db.read() as conn:
            rows: list[Any] = list(conn.execute(q).all())
        out: dict[int, tuple[int, str]] = {}
        for version, kind, n in rows:
            prev = out.get(int(version), (0, str(kind)))
            out[int(version)] = (prev[0] + int(n), str(kind) if int(n) > prev[0] else prev[1])
        return out

    def get(self, capture_id: str) -> dict[str, Any] | None:
        with self.db.read() as conn:
            row = conn.execute(sa.select(captures).where(captures.c.id == capture_id)).mappings().first()
        return dict(row) if row is not None else None

    def has_model(self, model: str) -> bool:
        """Whether any prediction of ``model`` is captured (by anyone)."""
        q = sa.select(captures.c.id).where(captures.c.model == model).limit(1)
        with self.db.read() as conn:
            return conn.execute(q).first() is not None

    def total(self) -> int:
        with self.db.read() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(captures)).scalar_one())

    def purge(self, older_than: float) -> int:
        """Delete captures made before the hour of ``older_than`` (epoch seconds), actuals and all, and their
        hours of quality sums; returns how many."""
        hour = quality_sums.bucket_of(older_than)
        with self.db.write() as conn:
            quality_sums.purge_hours(conn, hour)
            cut = captures.delete().where(captures.c.at < hour * quality_sums.BUCKET_S)
            return int(conn.execute(cut).rowcount or 0)

    def quality(
        self, model: str, since: float | None = None, versions: Iterable[int] | None = None
    ) -> dict[tuple[int, str], dict[str, float]]:
        """Summed quality statistics per (version, kind) of ``model``'s matched predictions made at or after
        ``since`` (default: all retained): whole hours from the running sums, the rows of the window's partial
        first hour read directly."""
        with self.db.read() as conn:
            return quality_sums.summed(conn, captures, model, since, versions)

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
