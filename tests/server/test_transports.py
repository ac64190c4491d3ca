"""The same tools and behaviour over stdio (a spawned `mlgate serve`) and streamable HTTP (real uvicorn)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from mcp import Client, StdioServerParameters

from tests._support import DIABETES_ROW, await_until, call, free_port, mlgate_env
from tests.tools.scenarios import exercise_all_tools

pytestmark = pytest.mark.anyio


async def test_every_tool_over_stdio(demo_home: Path) -> None:
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "mlgate", "serve"], env=mlgate_env(demo_home)
    )
    async with Client(params) as c:
        await exercise_all_tools(c)


async def test_every_tool_over_http(http_server: str) -> None:
    async with Client(http_server) as c:
        await exercise_all_tools(c)


async def test_http_legacy_session_mode(http_server: str) -> None:
    async with Client(http_server, mode="legacy") as c:
        err, out = await call(c, "ml_predict", {"model": "demo-regressor@1", "features": [DIABETES_ROW]})
    assert not err and out["model"]["version"] == 1


def test_health_and_metrics(http_server: str) -> None:
    base = http_server.removesuffix("/mcp/ml")
    health = httpx.get(base + "/healthz")
    assert health.status_code == 200 and health.json()["status"] == "ok"
    metrics = httpx.get(base + "/metrics")
    assert metrics.status_code == 200 and "mlgate_tool_calls_total" in metrics.text


def test_http_refuses_dns_rebinding_host(http_server: str) -> None:
    r = httpx.post(
        http_server,
        headers={
            "Host": "evil.example:80",
            "Content-Type": "application/json",
            "Accept": "application/json, text/event-stream",
        },
        json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
    )
    assert r.status_code in (403, 421), r.status_code


def test_no_auth_http_refuses_non_loopback(demo_home: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mlgate", "serve", "--http", "--host", "0.0.0.0", "--port", str(free_port())],
        env=mlgate_env(demo_home),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "only loopback addresses may run without OAuth" in done.stderr


def test_call_command_prints_json(demo_home: Path) -> None:
    import json

    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mlgate",
            "call",
            "ml_predict",
            json.dumps({"model": "demo-regressor@production", "features": [DIABETES_ROW]}),
        ],
        env=mlgate_env(demo_home),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["model"]["ref"] == "demo-regressor@production" and len(out["predictions"]) == 1
    bad = subprocess.run(
        [sys.executable, "-m", "mlgate", "call", "ml_predict", '{"model": "demo-regressor"}'],
        env=mlgate_env(demo_home),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 1 and "error" in json.loads(bad.stdout)


def test_call_command_over_http(http_server: str, demo_home: Path) -> None:
    import json

    done = subprocess.run(
        [sys.executable, "-m", "mlgate", "call", "--url", http_server, "ml_list_models"],
        env=mlgate_env(demo_home),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert any(m["name"] == "demo-classifier" for m in json.loads(done.stdout)["models"])


async def test_ledger_rows_carry_the_transport(demo_home: Path, http_server: str) -> None:
    """stdio and HTTP calls land in the ledger with their transport, and never with the raw inputs."""
    import json

    from mlgate.state.db import StateDB

    marker = 0.0424242
    row = {**DIABETES_ROW, "age": marker}
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "mlgate", "serve"], env=mlgate_env(demo_home)
    )
    async with Client(params) as c:
        assert not (
            await c.call_tool("ml_predict", {"model": "demo-regressor@1", "features": [row]})
        ).is_error
        assert (
            await c.call_tool("ml_predict", {"model": "demo-regressor@1", "features": [{"age": 1}]})
        ).is_error
    async with Client(http_server) as c:
        assert not (
            await c.call_tool("ml_predict", {"model": "demo-regressor@1", "features": [row]})
        ).is_error
    db = StateDB(f"sqlite:///{demo_home / 'state.db'}")
    try:

        def http_row() -> bool:
            return any(r.transport == "http" and r.tool == "ml_predict" for r in db.tail(500))

        # the HTTP server's ledger writes in the background (≤ 50 ms)
        await await_until(http_row, every=0.1, what="the HTTP server's ledger row")
        rows = db.tail(500)
    finally:
        db.close()
    kinds = {(r.transport, r.outcome, r.error_class) for r in rows if r.tool == "ml_predict"}
    assert (
        ("stdio", "ok", None) in kinds
        and ("stdio", "error", "InvalidInput") in kinds
        and ("http", "ok", None) in kinds
    )
    assert str(marker) not in json.dumps([r.to_dict() for r in rows])
