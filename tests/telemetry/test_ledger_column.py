"""The ledger's ``trace_id`` column: a database made by an earlier mlgate (schema 1, no such column)
gains it when opened, keeps its rows, and takes rows with a trace id from then on."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from mlgate.state.db import SCHEMA_VERSION, LedgerRow, StateDB

V1_LEDGER = """CREATE TABLE ledger (id INTEGER PRIMARY KEY, at VARCHAR(40) NOT NULL, subject VARCHAR(255) NOT NULL,
client VARCHAR(255), transport VARCHAR(32) NOT NULL, tool VARCHAR(64) NOT NULL, model_ref VARCHAR(512),
version VARCHAR(64), digest VARCHAR(128), input_digest VARCHAR(128), duration_ms FLOAT NOT NULL,
outcome VARCHAR(8) NOT NULL, error_class VARCHAR(128), error_message TEXT)"""


def test_a_schema_1_database_gains_the_trace_column(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        conn.exec_driver_sql("INSERT INTO schema_version VALUES (1)")
        conn.exec_driver_sql(V1_LEDGER)
        conn.exec_driver_sql(
            "INSERT INTO ledger (at, subject, transport, tool, duration_ms, outcome) "
            "VALUES ('2026-01-01T00:00:00Z', 'old', 'stdio', 'ml_predict', 1.0, 'ok')"
        )
    engine.dispose()
    db = StateDB(url)
    try:
        assert db.schema_version() == SCHEMA_VERSION >= 2
        db.append(LedgerRow(tool="ml_predict", outcome="ok", subject="new", trace_id="ab" * 16))
        old, new = db.tail(2)
        assert (old.subject, old.trace_id) == ("old", None)
        assert (new.subject, new.trace_id) == ("new", "ab" * 16)
    finally:
        db.close()
