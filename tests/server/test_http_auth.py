"""The real `mlgate serve --http` with dev auth: audience-bound tokens, a scope per tool, RFC 9728 metadata."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests._support import DIABETES_ROW, free_port, mlgate_env, spawn_server, wait_http
from tests._support.devauth import mint, rpc

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def authed(demo_home: Path) -> Iterator[tuple[str, dict[str, str]]]:
    port = free_port()
    resource = f"http://127.0.0.1:{port}/mcp/ml"
    env = mlgate_env(demo_home, MLGATE_DEV_AUTH="1", MLGATE_RESOURCE_URL=resource)
    proc = spawn_server(["--http", "--port", str(port), "--stateless"], env)
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", proc)
        yield resource, env
    finally:
        proc.terminate()
        proc.wait(10)


def test_metadata_and_open_endpoints(authed: tuple[str, dict[str, str]]) -> None:
    resource, _ = authed
    base = resource.removesuffix("/mcp/ml")
    doc = httpx.get(base + "/.well-known/oauth-protected-resource/mcp/ml").json()
    assert doc["resource"] == resource and "ml:infer" in doc["scopes_supported"]
    assert doc["bearer_methods_supported"] == ["header"] and doc["authorization_servers"]
    assert httpx.get(base + "/healthz").status_code == 200


def test_no_token_is_challenged_without_error_code(authed: tuple[str, dict[str, str]]) -> None:
    resource, _ = authed
    r = rpc(resource, None, "tools/list", {})
    assert r.status_code == 401
    challenge = r.headers["www-authenticate"]
    assert challenge.startswith("Bearer ") and "error=" not in challenge
    assert (
        'resource_metadata="' + resource.replace("/mcp/ml", "/.well-known/oauth-protected-resource/mcp/ml")
        in challenge
    )
    assert 'scope="ml:read ml:infer"' in challenge


def test_token_for_another_audience_is_rejected(authed: tuple[str, dict[str, str]]) -> None:
    resource, env = authed
    for other in ("http://127.0.0.1:9/mcp/ml", resource.removesuffix("/mcp/ml"), resource + "/other"):
        r = rpc(resource, mint(env, "ml:admin", audience=other), "tools/list", {})
        assert r.status_code == 401 and 'error="invalid_token"' in r.headers["www-authenticate"], other


def test_scope_per_tool_over_http(authed: tuple[str, dict[str, str]]) -> None:
    resource, env = authed
    reader = mint(env, "ml:read")
    call = {"name": "ml_predict", "arguments": {"model": "demo-regressor@1", "features": [DIABETES_ROW]}}
    r = rpc(resource, reader, "tools/call", call)
    assert r.status_code == 403
    challenge = r.headers["www-authenticate"]
    assert 'error="insufficient_scope"' in challenge and 'scope="ml:infer"' in challenge
    listed = rpc(resource, reader, "tools/list", {})
    assert listed.status_code == 200 and "ml_predict" in listed.text
    ok = rpc(resource, mint(env, "ml:infer"), "tools/call", call)
    assert ok.status_code == 200 and '"predictions"' in ok.text
    admin = rpc(resource, mint(env, "ml:admin"), "tools/call", call)
    assert admin.status_code == 200 and '"predictions"' in admin.text


async def test_sdk_client_with_token(authed: tuple[str, dict[str, str]]) -> None:
    import httpx2
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    resource, env = authed
    tok = mint(env, "ml:read ml:infer")
    transport = streamable_http_client(
        resource, http_client=httpx2.AsyncClient(headers={"Authorization": f"Bearer {tok}"}, timeout=30)
    )
    async with Client(transport) as c:
        result = await c.call_tool(
            "ml_classify",
            {
                "model": "demo-classifier@1",
                "features": [
                    {"sepal_length": 6.7, "sepal_width": 3.0, "petal_length": 5.2, "petal_width": 2.3}
                ],
            },
        )
    assert not result.is_error and result.structured_content["labels"] == ["virginica"]
