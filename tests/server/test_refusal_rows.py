"""Over real HTTP with real dev-auth JWTs: every 401 and 403 leaves a ledger row (outcome refused).

A verified token without the tool's scope → 403 and a row with its subject and the tool's name; a
token that does not verify → 401 and a row without a subject. The rows are read from the server's
own state database.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx

from mlgate.state.db import LedgerRow, StateDB
from tests._support import DIABETES_ROW, free_port, mlgate_env, spawn_server, wait_http, wait_until

ACCEPT = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
SRC = str(Path(__file__).resolve().parents[2] / "src")


def _post(url: str, auth: str | None, name: str) -> httpx.Response:
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": name, "arguments": {"model": "demo-regressor@1", "features": [DIABETES_ROW]}},
    }
    headers = {**ACCEPT, **({"Authorization": auth} if auth else {})}
    return httpx.post(url, headers=headers, json=body, timeout=60)


def _rows(db: StateDB, n: int) -> list[LedgerRow]:
    """The last rows, once there are ``n`` (written in the background by the server process)."""
    wait_until(lambda: len(db.tail(50)) >= n, 30, every=0.05, what=f"{n} ledger rows")
    return db.tail(50)


def test_http_refusals_leave_rows(demo_home: Path, tmp_path: Path) -> None:
    port = free_port()
    resource = f"http://127.0.0.1:{port}/mcp/ml"
    state = f"sqlite:///{tmp_path / 'state.db'}"
    env = mlgate_env(demo_home, MLGATE_DEV_AUTH="1", MLGATE_RESOURCE_URL=resource, MLGATE_STATE_URL=state)
    env["PYTHONPATH"] = SRC + os.pathsep + env.get("PYTHONPATH", "")
    mint = [sys.executable, "-m", "mlgate", "token", "--scope", "ml:read", "--subject", "alice"]
    reader = subprocess.run(
        mint, env=env, capture_output=True, text=True, timeout=60, check=True
    ).stdout.strip()
    proc = spawn_server(["--http", "--port", str(port), "--stateless"], env)
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", proc)
        refused = _post(resource, f"Bearer {reader}", "ml_predict")
        assert refused.status_code == 403 and 'scope="ml:infer"' in refused.headers["www-authenticate"]
        forged = reader[:-4] + ("AAAA" if not reader.endswith("AAAA") else "BBBB")
        assert _post(resource, f"Bearer {forged}", "ml_predict").status_code == 401
        assert _post(resource, None, "ml_predict").status_code == 401
        rows = _rows(StateDB(state), 3)
    finally:
        proc.terminate()
        proc.wait(15)
    found = [(r.tool, r.subject, r.outcome, r.error_class, r.transport) for r in rows]
    assert found == [
        ("ml_predict", "alice", "refused", "InsufficientScope", "http"),
        ("http", "", "refused", "InvalidToken", "http"),
        ("http", "", "refused", "InvalidToken", "http"),
    ]
    assert "ml:infer" in (rows[0].error_message or "") and rows[0].client
    assert rows[1].client in (None, "")
