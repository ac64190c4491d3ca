"""CORS on a real `mlgate serve --http` (dev auth, 127.0.0.1) with MLGATE_CORS_ORIGINS set: preflights are
answered before bearer auth, the MCP and auth headers are exposed, and other origins get no CORS headers."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests._support import free_port, mlgate_env, spawn_server, wait_http

ALLOWED = "https://console.example.test"
OTHER = "https://evil.example.test"
INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "cors-test", "version": "1"},
    },
}


@pytest.fixture(scope="module")
def server(demo_home: Path) -> Iterator[tuple[str, str]]:
    port = free_port()
    resource = f"http://127.0.0.1:{port}/mcp/ml"
    env = mlgate_env(
        demo_home,
        MLGATE_DEV_AUTH="1",
        MLGATE_RESOURCE_URL=resource,
        MLGATE_CORS_ORIGINS=f"{ALLOWED}, http://localhost:5173",
    )
    proc = spawn_server(["--http", "--port", str(port)], env)
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", proc)
        token = subprocess.run(
            [sys.executable, "-m", "mlgate", "token", "--scope", "ml:read"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout.strip()
        yield resource, token
    finally:
        proc.terminate()
        proc.wait(10)


def preflight(url: str, origin: str) -> httpx.Response:
    return httpx.options(
        url,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type, mcp-protocol-version, mcp-session-id, "
            "last-event-id",
        },
    )


def test_preflight_is_answered_without_a_token(server: tuple[str, str]) -> None:
    resource, _ = server
    r = preflight(resource, ALLOWED)
    assert r.status_code == 200, r.text
    assert r.headers["access-control-allow-origin"] == ALLOWED
    allowed = {h.strip().lower() for h in r.headers["access-control-allow-headers"].split(",")}
    assert {
        "authorization",
        "content-type",
        "mcp-session-id",
        "mcp-protocol-version",
        "last-event-id",
    } <= allowed
    assert "POST" in r.headers["access-control-allow-methods"]
    assert "www-authenticate" not in r.headers, "a preflight is not challenged"


def test_other_origins_get_no_cors_headers(server: tuple[str, str]) -> None:
    resource, token = server
    r = preflight(resource, OTHER)
    assert "access-control-allow-origin" not in r.headers and r.status_code != 200
    post = httpx.post(
        resource,
        json=INIT,
        headers={
            "Origin": OTHER,
            "Authorization": f"Bearer {token}",
            "Accept": "application/json, text/event-stream",
        },
    )
    assert "access-control-allow-origin" not in post.headers
    assert post.status_code == 403, "the transport's Origin check still refuses origins nobody configured"


def test_challenge_is_readable_cross_origin(server: tuple[str, str]) -> None:
    resource, _ = server
    r = httpx.post(resource, json=INIT, headers={"Origin": ALLOWED})
    assert r.status_code == 401 and r.headers["access-control-allow-origin"] == ALLOWED
    exposed = {h.strip().lower() for h in r.headers["access-control-expose-headers"].split(",")}
    assert {"www-authenticate", "mcp-session-id", "mcp-protocol-version"} <= exposed


def test_allowed_origin_can_open_a_session(server: tuple[str, str]) -> None:
    resource, token = server
    r = httpx.post(
        resource,
        json=INIT,
        headers={
            "Origin": ALLOWED,
            "Authorization": f"Bearer {token}",
            "Accept": "application/json, text/event-stream",
        },
    )
    assert r.status_code == 200, r.text
    assert r.headers["access-control-allow-origin"] == ALLOWED
    assert r.headers["mcp-session-id"]
    assert "mcp-session-id" in r.headers["access-control-expose-headers"].lower()
    local = preflight(resource, "http://localhost:5173")
    assert local.headers["access-control-allow-origin"] == "http://localhost:5173"


def test_no_origins_no_layer() -> None:
    from starlette.responses import PlainTextResponse

    from mlgate.server.http import with_cors

    app = PlainTextResponse("x")
    assert with_cors(app, []) is app
    assert with_cors(app, [ALLOWED]) is not app
