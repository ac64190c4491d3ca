"""The official MCP TypeScript SDK (`@modelcontextprotocol/sdk`) as an OAuth client of the development
authorization server: discovery from the 401, RFC 7591 registration, then its ClientCredentialsProvider
gets a token with `resource=`, lists the tools, calls one, and is refused (403) outside its scope.

Node 22 comes from the conformance suite's cache (``tests._support.node.ensure_suite``); the SDK,
pinned in ``oauth_client/package.json``, is installed with npm beside it in ``.conformance/oauth-client/``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests._support import free_port, mlgate_env, spawn_server, wait_http
from tests._support.node import CACHE, ensure_suite, node_bin

HERE = Path(__file__).resolve().parent / "oauth_client"
WORK = CACHE / "oauth-client"


def ensure_client() -> Path:
    """Node 22 and the pinned SDK installed; the path of the client script beside its node_modules."""
    if shutil.which("npm") is None:
        pytest.skip(
            "npm is not installed: cannot fetch Node 22 and the MCP TypeScript SDK from the npm registry"
        )
    ensure_suite()  # Node 22 (and the conformance suite) in .conformance/
    manifest = (HERE / "package.json").read_text()
    wanted = json.loads(manifest)["dependencies"]["@modelcontextprotocol/sdk"]
    installed = WORK / "node_modules" / "@modelcontextprotocol" / "sdk" / "package.json"
    current = json.loads(installed.read_text())["version"] if installed.exists() else None
    if current != wanted or (WORK / "package.json").read_text() != manifest:
        WORK.mkdir(parents=True, exist_ok=True)
        (WORK / "package.json").write_text(manifest)
        done = subprocess.run(
            [str(shutil.which("npm")), "install", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=WORK,
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert done.returncode == 0, f"npm install in {WORK} failed:\n{done.stdout}\n{done.stderr}"
    shutil.copyfile(HERE / "client.mjs", WORK / "client.mjs")
    return WORK / "client.mjs"


@pytest.fixture(scope="module")
def resource(demo_home: Path) -> Iterator[str]:
    port = free_port()
    proc = spawn_server(["--http", "--port", str(port)], mlgate_env(demo_home, MLGATE_DEV_AUTH="1"))
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", proc)
        yield f"http://127.0.0.1:{port}/mcp/ml"
    finally:
        proc.terminate()
        proc.wait(10)


def test_typescript_sdk_client_credentials(resource: str) -> None:
    script = ensure_client()
    from mlgate.server.app import TOOL_SCOPES as tools

    list_models = next(n for n in ("ml_list_models", "ml_list_models") if n in tools)
    pull = next(n for n in ("ml_pull", "ml_pull") if n in tools)
    done = subprocess.run(
        [str(node_bin() / "node"), str(script), resource, "ml:read ml:infer", list_models, pull],
        cwd=WORK,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.stdout.strip(), f"no report from the client (exit {done.returncode}):\n{done.stderr}"
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["ok"] and done.returncode == 0, f"{report.get('error')}\n{done.stderr}"
    base = resource.removesuffix("/mcp/ml")
    assert (
        report["challenge"]["status"] == 401 and 'scope="ml:read ml:infer"' in report["challenge"]["header"]
    )
    assert report["authorizationServers"] == [base] and report["issuer"] == base
    assert report["resource"] == resource and report["registeredScope"] == "ml:read ml:infer"
    assert list_models in report["tools"] and len(report["tools"]) >= 19
    assert report["call"]["isError"] is False and "models" in report["call"]["structured"]
    assert report["tokenScope"] == "ml:read ml:infer"
    assert report["outside"]["refused"] and "403" in report["outside"]["message"], report["outside"]
