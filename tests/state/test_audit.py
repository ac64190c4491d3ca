"""ml_audit: the ledger newest first, filtered; its query in state/audit.py and the tool behind its scope."""

from __future__ import annotations

from pathlib import Path

import pytest
from mcp import Client

from mlgate.config import Settings
from mlgate.server.app import build_server
from mlgate.serving.runtime import Runtime
from mlgate.state.audit import AuditQuery, query
from mlgate.state.db import LedgerRow, StateDB
from tests._support import DIABETES_ROW, call

pytestmark = pytest.mark.anyio


def _rows() -> list[LedgerRow]:
    return [
        LedgerRow("ml_predict", "ok", subject="alice", model_ref="demo-regressor@1", version="1"),
        LedgerRow("ml_predict", "error", subject="bob", model_ref="demo-regressor@production"),
        LedgerRow("ml_classify", "ok", subject="alice", model_ref="demo-classifier@1"),
        LedgerRow("ml_predict", "ok", subject="alice", model_ref="demo_regressor@1"),  # '_' is no wildcard
        LedgerRow("ml_promote", "ok", subject="carol", model_ref="models:/demo-regressor/2"),
        LedgerRow("ml_halt", "ok", subject="carol"),
    ]


def test_query_filters_newest_first(tmp_path: Path) -> None:
    db = StateDB(f"sqlite:///{tmp_path / 'state.db'}")
    db.append_many(_rows())
    everything = query(db, AuditQuery(limit=100))
    assert [r.tool for r in everything] == [
        "ml_halt", "ml_promote", "ml_predict", "ml_classify", "ml_predict", "ml_predict",
    ]  # fmt: skip
    model = query(db, AuditQuery(model="demo-regressor"))
    assert [r.model_ref for r in model] == [
        "models:/demo-regressor/2", "demo-regressor@production", "demo-regressor@1",
    ]  # fmt: skip
    assert [r.model_ref for r in query(db, AuditQuery(model="demo-regressor@1"))] == ["demo-regressor@1"]
    assert [r.subject for r in query(db, AuditQuery(outcome="error"))] == ["bob"]
    both = query(db, AuditQuery(subject="alice", tool="ml_predict"))
    assert [r.model_ref for r in both] == ["demo_regressor@1", "demo-regressor@1"]
    assert len(query(db, AuditQuery(limit=2))) == 2
    assert query(db, AuditQuery(subject="nobody")) == []
    db.close()


async def test_ml_audit_tool_and_its_scope(demo_home: Path, tmp_path: Path) -> None:
    state = f"sqlite:///{tmp_path / 'state.db'}"
    auditor = Settings(home=demo_home, state_url=state, stdio_scopes=["ml:read", "ml:infer", "ml:audit"])
    async with Client(build_server(Runtime(auditor))) as c:
        err, _ = await call(c, "ml_predict", {"model": "demo-regressor@1", "features": [DIABETES_ROW]})
        assert not err
        await call(c, "ml_predict", {"model": "demo-regressor@1", "features": [{"age": "x"}]})
        err, out = await call(c, "ml_audit", {"model": "demo-regressor", "limit": 10})
        assert not err, out
        assert [(r["tool"], r["outcome"]) for r in out["rows"]] == [
            ("ml_predict", "error"),
            ("ml_predict", "ok"),
        ]
        assert out["rows"][1]["subject"] == "local" and out["rows"][1]["version"] == "1"
        err, out = await call(c, "ml_audit", {"outcome": "ok", "tool": "ml_predict"})
        assert not err and len(out["rows"]) == 1
    reader = Settings(home=demo_home, state_url=state, stdio_scopes=["ml:read", "ml:halt"])
    async with Client(build_server(Runtime(reader))) as c:
        err, text = await call(c, "ml_audit", {})
    assert err and "ml:audit" in text
