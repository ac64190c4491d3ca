"""The server tests' fixtures shared by more than one module."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests._support import free_port, mlgate_env, spawn_server, wait_http
from tests._support.devauth import Dev, mint, rpc


@pytest.fixture(scope="module")
def dev(demo_home: Path) -> Iterator[Dev]:
    port = free_port()
    env = mlgate_env(demo_home, MLGATE_DEV_AUTH="1")
    proc = spawn_server(["--http", "--port", str(port), "--stateless"], env)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http(base + "/healthz", proc)
        resource = base + "/mcp/ml"
        listed = rpc(resource, mint(env, "ml:read"), "tools/list", {})
        assert listed.status_code == 200, listed.text
        names = [t["name"] for t in listed.json()["result"]["tools"]]
        tools = {n[3:]: n for n in names if n[:3] in ("ml_", "ml.")}  # the names move from ml.x to ml_x
        yield Dev(base, resource, env, tools)
    finally:
        proc.terminate()
        proc.wait(10)
