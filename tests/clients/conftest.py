"""Fixtures of the real-client tests: Node 22 with the pinned clients, the Inspector CLI, a dev-auth HTTP server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests._support import free_port, mlgate_env, spawn_server, wait_http
from tests._support.clients import Inspector
from tests._support.node import INSPECTOR_PACKAGE, ensure_clients, node_env


@pytest.fixture(scope="session")
def node_modules() -> Path:
    return ensure_clients()


@pytest.fixture(scope="session")
def inspector(node_modules: Path, tmp_path_factory: pytest.TempPathFactory) -> Inspector:
    home = tmp_path_factory.mktemp("inspector-home")
    env = {
        **node_env(),
        "HOME": str(home),
        "MCP_CATALOG_PATH": str(home / "mcp.json"),
        "MCP_CLIENT_CONFIG_PATH": str(home / "client.json"),
    }
    cli = node_modules / INSPECTOR_PACKAGE / "clients" / "launcher" / "build" / "index.js"
    return Inspector(cli, home, env)


@pytest.fixture(scope="module")
def authed_http(demo_home: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """``mlgate serve --http`` with dev auth (as ``make serve``) on the demo home; yields (MCP URL, env for tokens)."""
    port = free_port()
    resource = f"http://127.0.0.1:{port}/mcp/ml"
    env = mlgate_env(demo_home, MLGATE_DEV_AUTH="1", MLGATE_RESOURCE_URL=resource)
    proc = spawn_server(["--http", "--host", "127.0.0.1", "--port", str(port)], env)
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", proc)
        yield resource, env
    finally:
        proc.terminate()
        proc.wait(10)
