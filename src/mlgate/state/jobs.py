"""Jobs in the state database: one row per long operation (pull, compile, retrain, multi-step skill run).

``JobStore(db)`` adds the ``jobs`` table to a ``StateDB`` (created on open if missing, in the
same write-locked way) and uses its engine. A row moves

    queued → running → succeeded | failed | cancelled | interrupted
    queued → cancelled

and only forward: every transition is one conditional UPDATE (``WHERE status IN …``), so
two processes cannot both claim, finish or reap a job. While a job is queued or running it
holds ``active_key`` (tool, subject, arguments digest) under a UNIQUE constraint: the same
work submitted again returns the job already there. Its arguments are kept only while it is
active (a worker in another process needs them), then cleared. A running job holds a lease
that its worker renews; a job whose lease ran out is ``interrupted`` by whoever reaps first.
A queued job holds a lease too, renewed by nobody: when it runs out the job was not claimed
in time — its broker message may be lost (Redis restarted without persistence) — and whoever
reaps first takes it (``resend``) to dispatch it again. A claim is one conditional UPDATE, so
a message delivered twice runs the job once.

Every method blocks on I/O: call it from a worker thread in async code.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from mlgate.clock import utcnow
from mlgate.schemas.jobs import ACTIVE, JobInfo, JobProgress, JobStatus
from mlgate.state.db import StateDB, printable

_MESSAGE_MAX = 500
_ERROR_MAX = 2000

metadata = sa.MetaData()
jobs = sa.Table(
    "jobs",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("tool", sa.String(64), nullable=False),
    sa.Column("subject", sa.String(255), nullable=False),
    sa.Column("caller", sa.JSON, nullable=False),  # client, transport, scopes: the worker acts as this caller
    sa.Column("args_digest", sa.String(64), nullable=False),
    sa.Column("args", sa.JSON),  # only while active
    sa.Column("active_key", sa.String(400), unique=True),  # tool|subject|digest while active, else NULL
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("done", sa.Float, nullable=False, default=0.0),
    sa.Column("total", sa.Float),
    sa.Column("message", sa.Text),
    sa.Column("result", sa.JSON),
    sa.Column("error", sa.Text),
    sa.Column("error_class", sa.String(64)),
    sa.Column("created_at", sa.String(40), nullable=False, index=True),
    sa.Column("started_at", sa.String(40)),
    sa.Column("finished_at", sa.String(40)),
    sa.Column("worker", sa.String(255)),
    sa.Column("lease_until", sa.Float),
    sa.Column("cancel_requested", sa.Boolean, nullable=False, default=False),
    sa.Index("ix_jobs_status_lease", "status", "lease_until"),
)
_ACTIVE = jobs.c.status.in_(ACTIVE)


@dataclass(frozen=True, slots=True)
class JobRecord:
    id: str
    tool: str
    subject: str
    caller: dict[str, Any]
    args_digest: str
    args: dict[str, Any] | None
    status: JobStatus
    done: float
    total: float | None
    message: str | None
    result: dict[str, Any] | None
    error: str | None
    error_class: str | None
    created_at: str
    started_at: str | None
    finished_at: str | None
    worker: str | None
    lease_until: float | None
    cancel_requested: bool

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    def info(self) -> JobInfo:
        return JobInfo(
            job_id=self.id, tool=self.tool, status=self.status, subject=self.subject,
            progress=JobProgress(done=self.done, total=self.total, message=self.message),
            result=self.result, error=self.error, created_at=self.created_at, started_at=self.started_at,
            finished_at=self.finished_at, worker=self.worker,
        )  # fmt: skip


def _record(row: sa.RowMapping) -> JobRecord:
    values = {k: row[k] for k in JobRecord.__slots__}
    values["cancel_requested"] = bool(values["cancel_requested"])
    return JobRecord(**values)


class JobStore:
    """The jobs table of one state database."""

    def __init__(self, db: StateDB) -> None:
        self.db = db
        # of the leases (wall seconds: other processes read them); a test moves it instead of sleeping
        self.clock: Callable[[], float] = time.time
        db.create_tables(metadata)

    def _one(self, job_id: str) -> JobRecord | None:
        with self.db.read() as conn:
            row = conn.execute(sa.select(jobs).where(jobs.c.id == job_id)).mappings().first()
        return _record(row) if row is not None else None

    def get(self, job_id: str) -> JobRecord | None:
        return self._one(job_id)

    def submit(
        self, tool: str, caller: dict[str, Any], args: dict[str, Any], digest: str, lease_s: float = 30.0
    ) -> tuple[JobRecord, bool]:
        """(the job, True) for new work; (the active job of the same work, False) for a duplicate."""
        subject = str(caller["subject"])
        key = f"{tool}|{subject}|{digest}"
        values = {
            "id": uuid.uuid4().hex, "tool": tool, "subject": subject, "caller": caller, "args_digest": digest,
            "args": args, "active_key": key, "status": "queued", "done": 0.0, "created_at": utcnow(),
            "cancel_requested": False, "lease_until": self.clock() + lease_s,
        }  # fmt: skip
        for _ in range(3):  # a duplicate may finish between our INSERT failing and our SELECT
            try:
                with self.db.write() as conn:
                    conn.execute(jobs.insert().values(**values))
                found = self._one(str(values["id"]))
                assert found is not None
                return found, True
            except IntegrityError:
                with self.db.read() as conn:
                    row = conn.execute(sa.select(jobs).where(jobs.c.active_key == key)).mappings().first()
                if row is not None:
                    return _record(row), False
        raise RuntimeError(f"could not submit {tool}: the same work kept finishing and restarting")

    def recent(
        self, subject: str | None = None, status: str | None = None, limit: int = 20
    ) -> list[JobRecord]:
        query = sa.select(jobs).order_by(jobs.c.created_at.desc()).limit(max(1, min(limit, 200)))
        if subject is not None:
            query = query.where(jobs.c.subject == subject)
        if status is not None:
            query = query.where(jobs.c.status == status)
        with self.db.read() as conn:
            return [_record(r) for r in conn.execute(query).mappings()]

    def claim(self, job_id: str, worker: str, lease_s: float) -> JobRecord | None:
        """queued → running for ``worker``; None when the job is no longer queued (cancelled, taken)."""
        with self.db.write() as conn:
            claimed = conn.execute(
                jobs.update().where(jobs.c.id == job_id, jobs.c.status == "queued")
                .values(status="running", worker=worker, started_at=utcnow(), lease_until=self.clock() + lease_s)
            ).rowcount  # fmt: skip
        return self._one(job_id) if claimed else None

    def heartbeat(self, job_id: str, worker: str, lease_s: float) -> tuple[bool, bool]:
        """Renew the lease: (still ours and running, cancel requested)."""
        with self.db.write() as conn:
            mine = sa.and_(jobs.c.id == job_id, jobs.c.status == "running", jobs.c.worker == worker)
            renewed = conn.execute(
                jobs.update().where(mine).values(lease_until=self.clock() + lease_s)
            ).rowcount
            flag = conn.execute(sa.select(jobs.c.cancel_requested).where(jobs.c.id == job_id)).scalar()
        return bool(renewed), bool(flag)

    def progress(self, job_id: str, done: float, total: float | None, message: str | None) -> bool:
        """Record progress; returns whether a cancel was requested."""
        text = printable(message)[:_MESSAGE_MAX] if message else None
        with self.db.write() as conn:
            conn.execute(
                jobs.update()
                .where(jobs.c.id == job_id, jobs.c.status == "running")
                .values(done=done, total=total, message=text)
            )
            flag = conn.execute(sa.select(jobs.c.cancel_requested).where(jobs.c.id == job_id)).scalar()
        return bool(flag)

    def finish(
        self,
        job_id: str,
        status: JobStatus,
        *,
        result: dict[str, Any] | None = None,
        error: str | None = None,
        error_class: str | None = None,
    ) -> bool:
        """An active job's end; False if it had already ended (reaped, cancelled while queued)."""
        values: dict[str, Any] = {
            "status": status,
            "result": result,
            "finished_at": utcnow(),
            "args": None,
            "active_key": None,
            "lease_until": None,
        }
        if error is not None:
            values.update(error=printable(error)[:_ERROR_MAX], error_class=error_class)
        with self.db.write() as conn:
            return bool(
                conn.execute(jobs.update().where(jobs.c.id == job_id, _ACTIVE).values(**values)).rowcount
            )

    def request_cancel(self, job_id: str) -> JobRecord | None:
        """A queued job is cancelled at once; a running one is flagged (its worker stops at the next step)."""
        with self.db.write() as conn:
            conn.execute(
                jobs.update()
                .where(jobs.c.id == job_id, jobs.c.status == "queued")
                .values(
                    status="cancelled",
                    finished_at=utcnow(),
                    args=None,
                    active_key=None,
                    cancel_requested=True,
                    error="cancelled before it started",
                    error_class="JobCancelled",
                )
            )
            conn.execute(
                jobs.update()
                .where(jobs.c.id == job_id, jobs.c.status == "running")
                .values(cancel_requested=True)
            )
        return self._one(job_id)

    def resend(self, lease_s: float) -> list[JobRecord]:
        """Queued jobs nobody claimed within their lease: each renewed for another lease and returned to
        exactly one caller, which dispatches it again (a lost broker message never leaves a job stuck)."""
        now = self.clock()
        stale = sa.and_(
            jobs.c.status == "queued", sa.or_(jobs.c.lease_until.is_(None), jobs.c.lease_until < now)
        )
        with self.db.read() as conn:
            ids = [r[0] for r in conn.execute(sa.select(jobs.c.id).where(stale))]
        taken = []
        for job_id in ids:
            with self.db.write() as conn:
                n = conn.execute(
                    jobs.update()
                    .where(jobs.c.id == job_id, stale)
                    .values(lease_until=now + lease_s, message="dispatched again: no worker took it in time")
                ).rowcount
            found = self._one(job_id) if n else None
            if found is not None:
                taken.append(found)
        return taken

    def reap(self) -> list[JobRecord]:
        """Running jobs whose lease ran out → interrupted (their worker died or hung). Returns them."""
        now = self.clock()
        expired = sa.and_(jobs.c.status == "running", jobs.c.lease_until < now)
        with self.db.read() as conn:
            ids = [r[0] for r in conn.execute(sa.select(jobs.c.id).where(expired))]
        reaped = []
        for job_id in ids:
            with self.db.write() as conn:
                n = conn.execute(
                    jobs.update()
                    .where(jobs.c.id == job_id, expired)
                    .values(
                        status="interrupted",
                        finished_at=utcnow(),
                        args=None,
                        active_key=None,
                        lease_until=None,
                        error="its worker stopped renewing the job's lease (the process died or hung)",
                        error_class="JobInterrupted",
                    )
                ).rowcount
            if n:
                found = self._one(job_id)
                if found is not None:
                    reaped.append(found)
        return reaped
