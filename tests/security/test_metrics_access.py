"""`/metrics` is not public on the MCP listener: a bearer token with `ml:read` (or `ml:admin`) is needed
there; `MLGATE_METRICS_ADDR` serves it without a token on its own address, and nothing else.

A real `mlgate serve --http` with dev auth; tokens from `mlgate token`.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests._support import free_port, mlgate_env, spawn_server, wait_http

ACCEPT = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


@pytest.fixture(scope="module")
def served(demo_home: Path) -> Iterator[tuple[str, str, dict[str, str]]]:
    """(base URL of the MCP listener, base URL of the metrics listener, env)."""
    port, mport = free_port(), free_port()
    base = f"http://127.0.0.1:{port}"
    env = mlgate_env(
        demo_home,
        MLGATE_DEV_AUTH="1",
        MLGATE_RESOURCE_URL=base + "/mcp/ml",
        MLGATE_METRICS_ADDR=f"127.0.0.1:{mport}",
    )
    proc = spawn_server(["--http", "--port", str(port), "--stateless"], env)
    try:
        wait_http(base + "/healthz", proc)
        yield base, f"http://127.0.0.1:{mport}", env
    finally:
        proc.terminate()
        proc.wait(10)


def token(env: dict[str, str], scope: str) -> str:
    args = [sys.executable, "-m", "mlgate", "token", "--scope", scope, "--subject", "metrics-test"]
    return subprocess.run(
        args, env=env, capture_output=True, text=True, timeout=60, check=True
    ).stdout.strip()


def scrape(url: str, tok: str | None = None) -> httpx.Response:
    return httpx.get(url, headers={"Authorization": f"Bearer {tok}"} if tok else {}, timeout=30)


def test_no_token_is_401_on_the_mcp_listener(served: tuple[str, str, dict[str, str]]) -> None:
    base, _, _ = served
    r = scrape(base + "/metrics")
    assert r.status_code == 401 and "mlgate_" not in r.text
    challenge = r.headers["www-authenticate"]
    assert (
        challenge.startswith("Bearer ")
        and 'scope="ml:read"' in challenge
        and "resource_metadata=" in challenge
    )
    bad = scrape(base + "/metrics", "not-a-valid-token")
    assert bad.status_code == 401 and 'error="invalid_token"' in bad.headers["www-authenticate"]
    assert scrape(base + "/healthz").status_code == 200  # liveness stays open


def test_a_token_without_read_is_403(served: tuple[str, str, dict[str, str]]) -> None:
    base, _, env = served
    for scope in ("ml:infer", "ml:halt ml:manage"):
        r = scrape(base + "/metrics", token(env, scope))
        assert r.status_code == 403 and "mlgate_" not in r.text, scope
        challenge = r.headers["www-authenticate"]
        assert 'error="insufficient_scope"' in challenge and 'scope="ml:read"' in challenge


def test_read_or_admin_gets_prometheus_text(served: tuple[str, str, dict[str, str]]) -> None:
    base, _, env = served
    for scope in ("ml:read", "ml:admin"):
        r = scrape(base + "/metrics", token(env, scope))
        assert r.status_code == 200, (scope, r.text)
        assert r.headers["content-type"].startswith("text/plain")
        assert "# TYPE mlgate_tool_calls_total counter" in r.text


def test_the_metrics_address_answers_without_a_token_and_serves_nothing_else(
    served: tuple[str, str, dict[str, str]],
) -> None:
    base, metrics, env = served
    call = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": "ml_list_models", "arguments": {}},
    }
    done = httpx.post(
        base + "/mcp/ml",
        headers={**ACCEPT, "Authorization": f"Bearer {token(env, 'ml:read')}"},
        json=call,
        timeout=60,
    )
    assert done.status_code == 200, done.text
    r = scrape(metrics + "/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    assert (
        'mlgate_tool_calls_total{model="",outcome="ok",tool="ml_list_models"} 1.0' in r.text
    )  # the same runtime's counters
    for path in ("/mcp/ml", "/healthz", "/.well-known/oauth-protected-resource/mcp/ml"):
        assert scrape(metrics + path).status_code == 404, path


def test_a_bad_metrics_address_stops_the_server_with_a_clear_error(demo_home: Path) -> None:
    port = free_port()
    env = mlgate_env(demo_home, MLGATE_DEV_AUTH="1", MLGATE_METRICS_ADDR="127.0.0.1")
    done = subprocess.run(
        [sys.executable, "-m", "mlgate", "serve", "--http", "--port", str(port)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0 and "MLGATE_METRICS_ADDR='127.0.0.1' must be host:port" in done.stderr
