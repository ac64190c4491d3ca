"""Open MCP sessions per principal, and the idle timeout, on a real `mlgate serve --http` (stateful).

Tokens are real JWTs from `mlgate token --subject …` (dev auth). One subject holding its cap is
refused with 429 and a JSON-RPC error saying what to do, while another subject still connects;
closing a session (DELETE) makes room; an idle session is closed and stops counting.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests._support import free_port, mlgate_env, spawn_server, wait_http, wait_until

pytestmark = pytest.mark.anyio
VERSION = "2025-06-18"
ACCEPT = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


def serve(home: Path, **extra: str) -> Iterator[tuple[str, dict[str, str]]]:
    port = free_port()
    resource = f"http://127.0.0.1:{port}/mcp/ml"
    env = mlgate_env(home, MLGATE_DEV_AUTH="1", MLGATE_RESOURCE_URL=resource, **extra)
    proc = spawn_server(["--http", "--port", str(port)], env)
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", proc)
        yield resource, env
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture(scope="module")
def capped(demo_home: Path) -> Iterator[tuple[str, dict[str, str]]]:
    yield from serve(demo_home, MLGATE_MAX_SESSIONS_PER_PRINCIPAL="2")


@pytest.fixture(scope="module")
def idling(demo_home: Path) -> Iterator[tuple[str, dict[str, str]]]:
    yield from serve(demo_home, MLGATE_MAX_SESSIONS_PER_PRINCIPAL="1", MLGATE_SESSION_IDLE_S="1.5")


def token(env: dict[str, str], subject: str, scope: str = "ml:read") -> str:
    args = [sys.executable, "-m", "mlgate", "token", "--scope", scope, "--subject", subject]
    return subprocess.run(
        args, env=env, capture_output=True, text=True, timeout=60, check=True
    ).stdout.strip()


def headers(tok: str, session: str | None = None) -> dict[str, str]:
    out = {**ACCEPT, "Authorization": f"Bearer {tok}"}
    if session:
        out |= {"Mcp-Session-Id": session, "Mcp-Protocol-Version": VERSION}
    return out


def open_session(url: str, tok: str) -> httpx.Response:
    """``initialize`` without a session id (plus ``notifications/initialized`` when it opened one)."""
    params = {
        "protocolVersion": VERSION,
        "capabilities": {},
        "clientInfo": {"name": "cap-test", "version": "1"},
    }
    body = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": params}
    r = httpx.post(url, headers=headers(tok), json=body, timeout=30)
    if r.status_code == 200:
        note = {"jsonrpc": "2.0", "method": "notifications/initialized"}
        done = httpx.post(url, headers=headers(tok, r.headers["mcp-session-id"]), json=note, timeout=30)
        assert done.status_code == 202, done.text
    return r


def list_tools(url: str, tok: str, session: str) -> httpx.Response:
    body = {"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {}}
    return httpx.post(url, headers=headers(tok, session), json=body, timeout=30)


def refused(r: httpx.Response) -> dict[str, Any]:
    assert r.status_code == 429, (r.status_code, r.text)
    error: dict[str, Any] = r.json()["error"]
    return error


def test_one_principal_at_its_cap_is_refused_and_others_still_connect(
    capped: tuple[str, dict[str, str]],
) -> None:
    url, env = capped
    alice, alice_again, bob = token(env, "alice"), token(env, "alice", "ml:read ml:infer"), token(env, "bob")
    first, second = open_session(url, alice), open_session(url, alice)
    assert first.status_code == second.status_code == 200
    s1, s2 = first.headers["mcp-session-id"], second.headers["mcp-session-id"]

    error = refused(open_session(url, alice))
    assert "2 of 2" in error["message"] and "Reuse an open session" in error["message"]
    assert "DELETE" in error["message"] and error["data"] == {
        "open_sessions": 2,
        "limit": 2,
        "idle_timeout_s": 900,
    }
    refused(open_session(url, alice_again))  # another token of the same subject: the same principal

    assert open_session(url, bob).status_code == 200  # others are not locked out
    assert list_tools(url, alice, s2).status_code == 200  # alice's open sessions still answer

    closed = httpx.delete(url, headers=headers(alice, s1), timeout=30)
    assert closed.status_code == 200, closed.text
    assert list_tools(url, alice, s1).status_code == 404
    assert open_session(url, alice).status_code == 200  # room again
    refused(open_session(url, alice))


async def test_the_sdk_client_of_another_principal_connects(capped: tuple[str, dict[str, str]]) -> None:
    import httpx2
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    url, env = capped
    carol = token(env, "carol")
    for _ in range(2):
        assert open_session(url, carol).status_code == 200
    refused(open_session(url, carol))
    dave = token(env, "dave")
    client = httpx2.AsyncClient(headers={"Authorization": f"Bearer {dave}"}, timeout=30)
    async with Client(streamable_http_client(url, http_client=client)) as c:
        listed = await c.list_tools()
    assert any(t.name == "ml_list_models" for t in listed.tools)


def test_an_idle_session_is_closed_and_stops_counting(idling: tuple[str, dict[str, str]]) -> None:
    url, env = idling
    erin = token(env, "erin")
    opened = open_session(url, erin)
    assert opened.status_code == 200
    session = opened.headers["mcp-session-id"]
    assert list_tools(url, erin, session).status_code == 200
    last_used = time.monotonic()
    assert refused(open_session(url, erin))["data"]["limit"] == 1

    def room_again() -> bool:  # a refused open touches no session: polling keeps the old one idle
        return open_session(url, erin).status_code == 200

    wait_until(room_again, 30, every=0.1, what="the idle session closed (MLGATE_SESSION_IDLE_S=1.5)")
    assert time.monotonic() - last_used >= 1.5  # not before it was idle that long
    assert list_tools(url, erin, session).status_code == 404
    assert refused(open_session(url, erin))["data"]["limit"] == 1  # the new one counts
