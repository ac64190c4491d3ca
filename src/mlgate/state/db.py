"""The state database: halts, the audit ledger and skill runs (SQLAlchemy Core).

``StateDB(url)`` opens any SQLAlchemy URL (``settings.state``). It creates and
migrates its own schema on open, inside one write-locked transaction, so two
processes may open a fresh database at the same moment. SQLite runs in WAL mode
with a busy timeout, and every write transaction starts with ``BEGIN IMMEDIATE``
so writers from several processes queue instead of failing. Only portable column
types are used, so a PostgreSQL URL (``postgresql+psycopg://…``) works as well;
there an advisory lock serialises migrations and halts.

Every method blocks on I/O: call it from a worker thread in async code.
"""

from __future__ import annotations

import dataclasses
import unicodedata
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.pool import StaticPool

from mlgate.clock import utcnow as utcnow
from mlgate.errors import ConfigError, InvalidInput

SCHEMA_VERSION = 3
ALL = "*"  # the halt scope that covers every model
_PG_LOCK = 0x6D6C6761  # "mlga": the advisory lock key on PostgreSQL
_ERROR_MAX = 2000
_TEXT_FIELDS = (
    "subject",
    "client",
    "transport",
    "tool",
    "model_ref",
    "version",
    "digest",
    "input_digest",
    "error_class",
    "error_message",
    "run_id",
)

Outcome = Literal["ok", "error", "refused"]  # refused: an authorization refusal (scope, token)
OUTCOMES = ("ok", "error", "refused")


def printable(text: str) -> str:
    """``text`` with control and format characters escaped (``\\x1b``, ``\\n``, ``\\u202e``): one line, no
    terminal escapes, no bidi overrides. Idempotent; other characters (and backslashes) are kept."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() or c == " " else _escape(c) for c in text)


def _escape(c: str) -> str:
    if unicodedata.category(c) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"):
        return c.encode("unicode_escape", "backslashreplace").decode("ascii")
    return c  # other non-printables (e.g. non-breaking spaces) cannot move the cursor


@dataclass(frozen=True, slots=True)
class Halt:
    scope: str  # what the operator named: a model name, hf:org/repo, sha256:<hex>, or "*" for all serving
    reason: str
    by: str
    at: str
    active: bool = True
    resumed_by: str | None = None
    resumed_at: str | None = None
    id: int | None = None
    covers: tuple[str, ...] = ()  # further scopes reaching the same bytes (digests), read when it was set

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True, slots=True)
class LedgerRow:
    tool: str
    outcome: Outcome
    subject: str = "local"
    client: str | None = None
    transport: str = "stdio"
    model_ref: str | None = None
    version: str | None = None
    digest: str | None = None
    input_digest: str | None = None
    duration_ms: float = 0.0
    error_class: str | None = None
    error_message: str | None = None
    trace_id: str | None = None  # the call's OpenTelemetry trace (32 hex digits), when it was in one
    at: str = field(default_factory=utcnow)
    id: int | None = None
    run_id: str | None = None  # the skill run a step's row belongs to (and the run's own row)

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {', '.join(OUTCOMES)}, not {self.outcome!r}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True, slots=True)
class SkillRun:
    run_id: str
    skill: str  # name@version
    digest: str
    status: str  # running | ok | error | halted
    subject: str = "local"
    input_digest: str | None = None
    steps: list[dict[str, Any]] = field(default_factory=list)
    outputs_digest: str | None = None
    started_at: str = field(default_factory=utcnow)
    finished_at: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")  # INTEGER PRIMARY KEY is the rowid on SQLite
metadata = sa.MetaData()
schema_version = sa.Table("schema_version", metadata, sa.Column("version", sa.Integer, nullable=False))
halts = sa.Table(
    "halts",
    metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("scope", sa.String(255), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("halted_by", sa.String(255), nullable=False),
    sa.Column("halted_at", sa.String(40), nullable=False),
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("resumed_by", sa.String(255)),
    sa.Column("resumed_at", sa.String(40)),
    sa.Index("ix_halts_active_scope", "active", "scope"),
)
ledger = sa.Table(
    "ledger",
    metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("at", sa.String(40), nullable=False, index=True),
    sa.Column("subject", sa.String(255), nullable=False),
    sa.Column("client", sa.String(255)),
    sa.Column("transport", sa.String(32), nullable=False),
    sa.Column("tool", sa.String(64), nullable=False),
    sa.Column("model_ref", sa.String(512)),
    sa.Column("version", sa.String(64)),
    sa.Column("digest", sa.String(128)),
    sa.Column("input_digest", sa.String(128)),
    sa.Column("duration_ms", sa.Float, nullable=False),
    sa.Column("outcome", sa.String(8), nullable=False),
    sa.Column("error_class", sa.String(128)),
    sa.Column("error_message", sa.Text),
    sa.Column("trace_id", sa.String(32)),
    sa.Column("run_id", sa.String(64), index=True),
)
skill_runs = sa.Table(
    "skill_runs",
    metadata,
    sa.Column("run_id", sa.String(64), primary_key=True),
    sa.Column("skill", sa.String(255), nullable=False),
    sa.Column("digest", sa.String(128), nullable=False),
    sa.Column("subject", sa.String(255), nullable=False),
    sa.Column("input_digest", sa.String(128)),
    sa.Column("steps", sa.JSON, nullable=False),
    sa.Column("outputs_digest", sa.String(128)),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("started_at", sa.String(40), nullable=False),
    sa.Column("finished_at", sa.String(40)),
)
# the scopes a halt covers beyond the one it names (a new table: create_all adds it to older databases)
halt_covers = sa.Table(
    "halt_covers",
    metadata,
    sa.Column("halt_id", _ID, nullable=False, index=True),
    sa.Column("scope", sa.String(255), nullable=False),
)
_ACTIVE = halts.c.active == sa.true()

# version -> statements that bring a database from version-1 to version. Version 1 is
# the tables above, made by create_all; later versions add ALTERs here.
MIGRATIONS: dict[int, list[str]] = {
    2: ["ALTER TABLE ledger ADD COLUMN trace_id VARCHAR(32)"],
    3: [
        "ALTER TABLE ledger ADD COLUMN run_id VARCHAR(64)",
        "CREATE INDEX ix_ledger_run_id ON ledger (run_id)",
    ],
}


def _scope(model: str | None) -> str:
    if model is None:
        return ALL
    scope = model.strip()
    if not scope:
        raise InvalidInput("the model name is empty", "name a model, or leave it out to cover all serving")
    return scope


def _halt(row: sa.RowMapping, covers: dict[int, list[str]] | None = None) -> Halt:
    return Halt(
        scope=row["scope"], reason=row["reason"], by=row["halted_by"], at=row["halted_at"],
        active=bool(row["active"]), resumed_by=row["resumed_by"], resumed_at=row["resumed_at"], id=row["id"],
        covers=tuple((covers or {}).get(row["id"], ())),
    )  # fmt: skip


_LEDGER_FIELDS = tuple(f.name for f in dataclasses.fields(LedgerRow) if f.name != "id")
_TEXT_LIMITS = tuple((key, getattr(ledger.c[key].type, "length", None) or _ERROR_MAX) for key in _TEXT_FIELDS)


def _ledger_values(row: LedgerRow) -> dict[str, Any]:
    # a shallow copy (every field is a scalar): dataclasses.asdict deep-copies each value, which was most of
    # the ledger writer's CPU per batch, held under the GIL while calls waited (bench/tail_sources.py)
    values = {key: getattr(row, key) for key in _LEDGER_FIELDS}
    if values["error_message"] is not None:
        values["error_message"] = values["error_message"][:_ERROR_MAX]
    for (
        key,
        limit,
    ) in _TEXT_LIMITS:  # stored escaped: a model argument cannot forge lines in `mlgate audit tail`
        if isinstance(values[key], str):
            # and cut to the column: an overlong value must not make PostgreSQL refuse (and stall) the ledger
            values[key] = printable(values[key])[:limit]
    return values


class StateDB:
    """Halts, the append-only ledger and skill runs in one database."""

    def __init__(self, url: str, *, busy_timeout_s: float = 30.0) -> None:
        parsed = make_url(url)
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")  # the `postgres` extra installs psycopg 3
        self.url: URL = parsed
        self.sqlite = parsed.get_backend_name() == "sqlite"
        self.postgres = parsed.get_backend_name() == "postgresql"
        try:
            self._engine = self._create_engine(parsed, busy_timeout_s)
        except ModuleNotFoundError as exc:
            raise ConfigError(
                f"the state database URL {parsed.render_as_string()} needs the driver '{exc.name}': "
                "install it (pip install 'mlgate[postgres]' for PostgreSQL)"
            ) from exc
        self._writer = self._engine.execution_options(mlgate_write=True)
        self._migrate()

    def _create_engine(self, url: URL, busy_timeout_s: float) -> Engine:
        if not self.sqlite:
            return sa.create_engine(url, pool_pre_ping=True)
        memory = url.database in (None, "", ":memory:")  # one shared connection: single-threaded tests only
        if not memory and url.database is not None:
            Path(url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": busy_timeout_s},
            poolclass=StaticPool if memory else None,
        )
        ms = int(busy_timeout_s * 1000)

        @sa.event.listens_for(engine, "connect")
        def _connect(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # SQLAlchemy emits BEGIN itself (see _begin)
            cur = dbapi_conn.cursor()
            cur.execute(f"PRAGMA busy_timeout={ms}")
            # WAL is a property of the file: set it once; asking again takes a lock that concurrent
            # openers (replicas, workers starting together) can be refused with "database is locked"
            if cur.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")
            cur.close()

        @sa.event.listens_for(engine, "begin")
        def _begin(conn: Connection) -> None:
            write = conn.get_execution_options().get("mlgate_write", False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

        return engine

    # -- the public API the other state modules build on --------------------------------
    @contextmanager
    def write(self, *, lock: bool = False) -> Iterator[Connection]:
        """A write transaction: the SQLite write lock up front; ``lock`` adds the PG advisory lock
        (schema changes, halts: serialised across processes)."""
        with self._writer.begin() as conn:
            if lock and self.postgres:
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK})
            yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A connection for reads (no write lock taken)."""
        with self._engine.connect() as conn:
            yield conn

    def rows(self, query: sa.Select[Any]) -> list[sa.RowMapping]:
        """The rows of one select, as mappings."""
        with self.read() as conn:
            return list(conn.execute(query).mappings())

    def create_tables(self, tables: sa.MetaData) -> None:
        """Create a sibling module's tables if missing, under the migration lock (several processes
        may open a fresh database at once)."""
        with self.write(lock=True) as conn:
            tables.create_all(conn, checkfirst=True)

    @property
    def placeholder(self) -> str:
        """The driver's parameter marker for raw SQL (``?`` on SQLite, ``%s`` on psycopg)."""
        return "?" if self._engine.dialect.paramstyle == "qmark" else "%s"

    def _migrate(self) -> None:
        with self.write(lock=True) as conn:
            metadata.create_all(conn, checkfirst=True)
            found = conn.execute(sa.select(schema_version.c.version)).scalar_one_or_none()
            if found is None:
                conn.execute(schema_version.insert().values(version=SCHEMA_VERSION))
                return
            if found > SCHEMA_VERSION:
                raise ConfigError(
                    f"the state database {self.url.render_as_string()} has schema version {found}, "
                    f"newer than this mlgate understands ({SCHEMA_VERSION}): upgrade mlgate"
                )
            for version in range(found + 1, SCHEMA_VERSION + 1):
                for statement in MIGRATIONS.get(version, []):
                    conn.execute(sa.text(statement))
            if found != SCHEMA_VERSION:
                conn.execute(schema_version.update().values(version=SCHEMA_VERSION))

    def schema_version(self) -> int:
        return int(self.rows(sa.select(schema_version.c.version))[0]["version"])

    # -- halts -------------------------------------------------------------------
    def halt(self, model: str | None, reason: str, by: str, covers: Iterable[str] = ()) -> Halt:
        """Halt one model (or all serving with ``None``). A newer halt of a scope supersedes the old one.
        ``covers``: further scopes the halt reaches (the digests of what the named scope serves)."""
        scope = _scope(model)
        if not reason.strip():
            raise InvalidInput("a halt needs a reason", "say why serving stops; operators read it")
        now = utcnow()
        with self.write(lock=True) as conn:
            active = sa.and_(halts.c.scope == scope, _ACTIVE)
            conn.execute(halts.update().where(active).values(active=False, resumed_by=by, resumed_at=now))
            values = {"scope": scope, "reason": reason, "halted_by": by, "halted_at": now, "active": True}
            key = conn.execute(halts.insert().values(**values)).inserted_primary_key
            halt_id = int(key[0]) if key else None
            extra = tuple(dict.fromkeys(c for c in covers if c and c != scope))
            if extra and halt_id is not None:
                conn.execute(halt_covers.insert(), [{"halt_id": halt_id, "scope": c} for c in extra])
        return Halt(scope, reason, by, now, True, id=halt_id, covers=extra)

    def resume(self, model: str | None, by: str) -> bool:
        """Lift the active halt of one scope (``None`` is the all-serving halt only); False if none."""
        scope = _scope(model)
        with self.write(lock=True) as conn:
            active = sa.and_(halts.c.scope == scope, _ACTIVE)
            result = conn.execute(
                halts.update().where(active).values(active=False, resumed_by=by, resumed_at=utcnow())
            )
            return result.rowcount > 0

    def active_halts(self) -> list[Halt]:
        with self._engine.connect() as conn:  # one snapshot of both tables
            rows = list(conn.execute(sa.select(halts).where(_ACTIVE).order_by(halts.c.id)).mappings())
            covers: dict[int, list[str]] = {}
            if rows:
                ids = [r["id"] for r in rows]
                query = sa.select(halt_covers).where(halt_covers.c.halt_id.in_(ids))
                for c in conn.execute(query).mappings():
                    covers.setdefault(c["halt_id"], []).append(c["scope"])
        return [_halt(r, covers) for r in rows]

    def halt_history(self, n: int = 50) -> list[Halt]:
        return [_halt(r) for r in self.rows(sa.select(halts).order_by(halts.c.id.desc()).limit(n))][::-1]

    # -- ledger (append-only: there is no update or delete) ------------------------
    def append(self, row: LedgerRow) -> None:
        self.append_many([row])

    def append_many(self, rows: Iterable[LedgerRow]) -> None:
        values = [_ledger_values(row) for row in rows]
        if values:
            with self.write() as conn:
                conn.execute(ledger.insert(), values)

    def tail(self, n: int = 20) -> list[LedgerRow]:
        """The newest ``n`` rows, oldest first."""
        rows = self.rows(sa.select(ledger).order_by(ledger.c.id.desc()).limit(max(n, 0)))
        return [LedgerRow(**dict(row)) for row in rows][::-1]

    def count(self) -> int:
        return int(self.rows(sa.select(sa.func.count().label("n")).select_from(ledger))[0]["n"])

    # -- skill runs ----------------------------------------------------------------
    def record_run(self, run: SkillRun) -> None:
        """Insert a run, or replace the record of the same ``run_id`` (start, then finish)."""
        values = run.to_dict()
        with self.write() as conn:
            where = skill_runs.c.run_id == run.run_id
            if conn.execute(skill_runs.update().where(where).values(**values)).rowcount == 0:
                conn.execute(skill_runs.insert().values(**values))

    def get_run(self, run_id: str) -> SkillRun | None:
        rows = self.rows(sa.select(skill_runs).where(skill_runs.c.run_id == run_id))
        return SkillRun(**dict(rows[0])) if rows else None

    def close(self) -> None:
        self._engine.dispose()
