"""Real sockets: BearerAuth and the issuer's JWKS each on a real uvicorn on 127.0.0.1,
and the SDK's own streamable HTTP app behind BearerAuth, driven by the SDK's client."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.mcpserver import MCPServer
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from mlgate.auth.jwks import JwksFile, JwksUrl
from mlgate.auth.verifier import JwtVerifier
from mlgate.server.bearer import BearerAuth, metadata_url
from tests._support import free_port
from tests._support.auth import ISSUER, LiveServer, TestIssuer, protected, rsa_key

pytestmark = pytest.mark.anyio


def call(tool: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": tool, "arguments": {}}}


def jwks_app(issuer: TestIssuer, hits: list[int]) -> Starlette:
    async def jwks(request: Request) -> JSONResponse:
        hits.append(1)
        return JSONResponse(issuer.jwks())

    return Starlette(routes=[Route("/jwks.json", jwks)])


def test_real_sockets_accept_refuse_and_refetch(issuer: TestIssuer) -> None:
    hits: list[int] = []
    with LiveServer(jwks_app(issuer, hits)) as idp:
        port = free_port()
        resource = f"http://127.0.0.1:{port}/mcp/ml"
        issuer.audience = resource
        source = JwksUrl(f"{idp.url}/jwks.json", min_refresh_interval=0)
        verifier = JwtVerifier(issuer=ISSUER, audience=resource, jwks=source)
        app = BearerAuth(
            protected(verifier).app,
            verifier=verifier,
            resource_url=resource,
            metadata_url=metadata_url(resource),
        )
        with LiveServer(app, port=port) as server, httpx.Client(base_url=server.url) as http:
            ok = http.post(
                "/mcp/ml", json=call("ml_list_models"), headers={"authorization": f"Bearer {issuer.token()}"}
            )
            assert ok.status_code == 200 and ok.json()["subject"] == "alice"
            none = http.post("/mcp/ml", json=call("ml_list_models"))
            assert none.status_code == 401
            assert none.headers["www-authenticate"] == (
                f'Bearer resource_metadata="http://127.0.0.1:{port}/.well-known/oauth-protected-resource/mcp/ml", '
                'scope="ml:read"'
            )
            parent = issuer.token(aud=f"http://127.0.0.1:{port}/mcp")
            refused = http.post(
                "/mcp/ml", json=call("ml_list_models"), headers={"authorization": f"Bearer {parent}"}
            )
            assert (
                refused.status_code == 401 and 'error="invalid_token"' in refused.headers["www-authenticate"]
            )
            assert len(hits) == 1
            rotated = rsa_key("b")
            issuer.keys.append(rotated)
            fresh = issuer.token(key=rotated)
            ok = http.post(
                "/mcp/ml", json=call("ml_list_models"), headers={"authorization": f"Bearer {fresh}"}
            )
            assert ok.status_code == 200
            assert len(hits) == 2, "the unknown kid caused exactly one refetch"


def test_real_socket_unreachable_jwks_fails_closed(issuer: TestIssuer) -> None:
    dead = free_port()  # nothing listens here
    verifier = JwtVerifier(
        issuer=ISSUER, audience=issuer.audience, jwks=JwksUrl(f"http://127.0.0.1:{dead}/jwks.json")
    )
    with LiveServer(protected(verifier)) as server, httpx.Client(base_url=server.url) as http:
        response = http.post(
            "/mcp/ml", json=call("ml_list_models"), headers={"authorization": f"Bearer {issuer.token()}"}
        )
        assert response.status_code == 503
        assert response.headers["retry-after"] == "5"


def sdk_app(verifier: JwtVerifier, resource: str, stateless: bool) -> BearerAuth:
    mcp = MCPServer("mlgate-test")

    @mcp.tool(name="ml_serving_status")
    def serving_status() -> dict[str, Any]:
        token = get_access_token()
        return {"subject": token.subject if token else None, "client": token.client_id if token else None}

    @mcp.tool(name="ml_halt")
    def halt() -> str:
        return "halted"

    inner = mcp.streamable_http_app(
        streamable_http_path="/mcp/ml", host="127.0.0.1", stateless_http=stateless
    )
    return BearerAuth(inner, verifier=verifier, resource_url=resource, metadata_url=metadata_url(resource))


@pytest.mark.parametrize(
    ("mode", "stateless"), [("legacy", False), ("auto", False), ("legacy", True), ("auto", True)]
)
async def test_sdk_tools_see_the_identity(
    issuer: TestIssuer, tmp_path: Path, mode: str, stateless: bool
) -> None:
    port = free_port()
    resource = f"http://127.0.0.1:{port}/mcp/ml"
    issuer.audience = resource
    verifier = JwtVerifier(
        issuer=ISSUER, audience=resource, jwks=JwksFile(issuer.write_jwks(tmp_path / "jwks.json"))
    )
    with LiveServer(sdk_app(verifier, resource, stateless), port=port, lifespan="on"):
        headers = {"authorization": f"Bearer {issuer.token('ml:read', sub='carol')}"}
        async with (
            httpx2.AsyncClient(headers=headers) as http,
            Client(streamable_http_client(resource, http_client=http), mode=mode) as client,
        ):
            result = await client.call_tool("ml_serving_status", {})
            assert not result.is_error
            assert result.structured_content == {"subject": "carol", "client": "agent-1"}
        async with httpx.AsyncClient() as raw:
            denied = await raw.post(
                resource,
                json=call("ml_halt"),
                headers={**headers, "accept": "application/json, text/event-stream"},
            )
        assert denied.status_code == 403
        assert 'error="insufficient_scope", scope="ml:halt"' in denied.headers["www-authenticate"]
