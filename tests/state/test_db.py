"""The state database on real SQLite files, with a second OS process writing at once."""

from __future__ import annotations

import hashlib
import sqlite3
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.schema import CreateTable

from mlgate.artifacts import json_sha256 as input_digest
from mlgate.errors import ConfigError, InvalidInput
from mlgate.state import db as state
from mlgate.state.db import LedgerRow, SkillRun, StateDB


def url(path: Path) -> str:
    return f"sqlite:///{path}"


def spawn(code: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def finish(proc: subprocess.Popen[str]) -> str:
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    return out


def test_schema_is_created_once_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "home" / "state.db"  # the folder is made on first use
    db = StateDB(url(path))
    assert db.schema_version() == state.SCHEMA_VERSION
    db.close()
    db = StateDB(url(path))  # idempotent: opening again changes nothing
    assert db.schema_version() == state.SCHEMA_VERSION
    db.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("SELECT count(*) FROM schema_version").fetchone()[0] == 1
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"schema_version", "halts", "ledger", "skill_runs"} <= tables


def test_two_processes_create_a_fresh_database_at_once(tmp_path: Path) -> None:
    code = """
        import sys
        from mlgate.state.db import LedgerRow, StateDB
        db = StateDB(sys.argv[1])
        db.append(LedgerRow(tool="ml_predict", outcome="ok", subject=sys.argv[2]))
        db.halt(sys.argv[2], "opened", sys.argv[2])
        db.close()
    """
    target = url(tmp_path / "fresh.db")
    procs = [spawn(code, target, name) for name in ("a", "b", "c")]
    for proc in procs:
        finish(proc)
    db = StateDB(target)
    assert db.schema_version() == state.SCHEMA_VERSION
    assert sorted(h.scope for h in db.active_halts()) == ["a", "b", "c"]
    assert sorted(r.subject for r in db.tail(10)) == ["a", "b", "c"]
    db.close()


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    StateDB(url(path)).close()
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE schema_version SET version = 99")
    with pytest.raises(ConfigError, match="schema version 99"):
        StateDB(url(path))


def test_halt_resume_and_history(tmp_path: Path) -> None:
    db = StateDB(url(tmp_path / "state.db"))
    first = db.halt("iris", "drifting", "alice")
    assert (first.scope, first.reason, first.by, first.active) == ("iris", "drifting", "alice", True)
    everything = db.halt(None, "incident 42", "bob")
    assert everything.scope == "*"
    newer = db.halt("iris", "worse", "carol")  # supersedes the first halt of the same scope
    assert [(h.scope, h.reason) for h in db.active_halts()] == [("*", "incident 42"), ("iris", "worse")]
    assert db.resume("iris", "dave") is True
    assert db.resume("iris", "dave") is False
    assert [h.scope for h in db.active_halts()] == ["*"]
    history = {h.id: h for h in db.halt_history()}
    assert history[first.id].resumed_by == "carol" and not history[first.id].active
    assert history[newer.id].resumed_by == "dave" and history[newer.id].resumed_at is not None
    assert db.resume(None, "erin") is True
    assert db.active_halts() == []
    db.close()


def test_halt_needs_a_reason_and_a_real_name(tmp_path: Path) -> None:
    db = StateDB(url(tmp_path / "state.db"))
    with pytest.raises(InvalidInput):
        db.halt("iris", "  ", "alice")
    with pytest.raises(InvalidInput):
        db.halt("", "why", "alice")
    db.close()


def test_a_halt_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    db = StateDB(url(path))
    db.halt("iris", "bad release", "alice")
    db.close()
    again = StateDB(url(path))
    [halt] = again.active_halts()
    assert (halt.scope, halt.reason, halt.by) == ("iris", "bad release", "alice")
    assert halt.to_dict()["by"] == "alice"
    again.close()


def test_ledger_appends_and_tails_in_order(tmp_path: Path) -> None:
    db = StateDB(url(tmp_path / "state.db"))
    db.append(LedgerRow(tool="ml_predict", outcome="ok", model_ref="iris@3", version="3", duration_ms=1.5))
    db.append_many(LedgerRow(tool="ml_classify", outcome="ok", subject=f"s{i}") for i in range(5))
    db.append(LedgerRow(tool="ml_predict", outcome="error", error_class="Halted", error_message="x" * 5000))
    rows = db.tail(3)
    assert [r.subject for r in rows[:2]] == ["s3", "s4"]
    last = rows[-1]
    assert last.outcome == "error" and last.error_class == "Halted"
    assert last.error_message is not None and len(last.error_message) == 2000
    assert [r.id for r in rows] == sorted(r.id for r in rows if r.id is not None)
    assert db.tail(100)[0].model_ref == "iris@3"
    assert db.count() == 7
    assert not any(hasattr(db, name) for name in ("update", "delete", "update_row", "delete_rows"))
    db.close()


def test_ledger_rows_must_say_ok_or_error() -> None:
    with pytest.raises(ValueError):
        LedgerRow(tool="ml_predict", outcome="maybe")  # type: ignore[arg-type]


def test_input_digest_is_canonical() -> None:
    expected = hashlib.sha256(b'{"a":[1,2],"b":"\xc3\xa9"}').hexdigest()
    assert input_digest({"b": "é", "a": [1, 2]}) == expected
    assert input_digest({"a": np.array([1, 2]), "b": "é"}) == expected
    assert input_digest({"a": [1, 2]}) != input_digest({"a": [2, 1]})


def test_skill_runs_are_recorded_and_replaced(tmp_path: Path) -> None:
    db = StateDB(url(tmp_path / "state.db"))
    run = SkillRun("run-1", "triage@1", "d" * 64, "running", input_digest="i" * 64)
    db.record_run(run)
    assert db.get_run("run-1") == run
    done = SkillRun(
        "run-1", "triage@1", "d" * 64, "ok", input_digest="i" * 64, steps=[{"tool": "ml_predict", "ms": 1.0}],
        outputs_digest="o" * 64, started_at=run.started_at, finished_at=state.utcnow(),
    )  # fmt: skip
    db.record_run(done)
    assert db.get_run("run-1") == done
    assert db.get_run("missing") is None
    db.close()


def test_two_processes_write_and_halt_concurrently(tmp_path: Path) -> None:
    target = url(tmp_path / "state.db")
    StateDB(target).close()
    code = """
        import sys
        from mlgate.state.db import LedgerRow, StateDB
        db = StateDB(sys.argv[1])
        for i in range(300):
            db.append(LedgerRow(tool="ml_predict", outcome="ok", subject="other", duration_ms=i))
            if i % 50 == 0:
                db.halt(f"other-{i}", "from the other process", "other")
        db.close()
    """
    proc = spawn(code, target)
    db = StateDB(target)

    def write(name: str) -> None:
        for i in range(150):
            db.append(LedgerRow(tool="ml_predict", outcome="ok", subject=name, duration_ms=i))
            if i % 50 == 0:
                db.halt(f"{name}-{i}", "from this process", name)

    threads = [threading.Thread(target=write, args=(name,)) for name in ("t1", "t2")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    finish(proc)
    rows = db.tail(10_000)
    assert len(rows) == 600
    for subject in ("other", "t1", "t2"):
        mine = [r.duration_ms for r in rows if r.subject == subject]
        assert mine == sorted(mine) and len(mine) == (300 if subject == "other" else 150)
    assert len(db.active_halts()) == 6 + 3 + 3
    db.close()


def test_postgres_urls_use_portable_types() -> None:
    for table in state.metadata.sorted_tables:
        ddl = str(CreateTable(table).compile(dialect=postgresql.dialect()))
        assert "CREATE TABLE" in ddl
    ledger_ddl = str(CreateTable(state.ledger).compile(dialect=postgresql.dialect()))
    assert "BIGSERIAL" in ledger_ddl
    # psycopg is not installed here: the error says which driver to install
    try:
        import psycopg  # noqa: F401
    except ImportError:
        with pytest.raises(ConfigError, match="psycopg"):
            StateDB("postgresql://mlgate@localhost/mlgate")
    assert sa.__version__ >= "2"
