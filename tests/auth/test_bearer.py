"""BearerAuth in front of an echo app, in-process (httpx.ASGITransport)."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp.server.auth.provider import AccessToken

from mlgate.auth.apikeys import ApiKeyVerifier, generate_api_key
from mlgate.auth.jwks import AuthUnavailable, JwksFile, JwksUrl
from mlgate.auth.verifier import CompositeVerifier, JwtVerifier
from mlgate.config import ALL_SCOPES
from mlgate.server.app import TOOL_SCOPES
from mlgate.server.bearer import BearerAuth
from tests._support.auth import ALL, DROP, ISSUER, METADATA, RESOURCE, TestIssuer, protected, rsa_key

pytestmark = pytest.mark.anyio

NO_TOKEN = f'Bearer resource_metadata="{METADATA}", scope="ml:read"'
INVALID = (
    f'Bearer error="invalid_token", resource_metadata="{METADATA}", '
    'error_description="the access token is invalid, expired or not for this resource"'
)


def insufficient(scope: str, description: str) -> str:
    return (
        f'Bearer error="insufficient_scope", scope="{scope}", resource_metadata="{METADATA}", '
        f'error_description="{description}"'
    )


def call(tool: str, id_: int = 1) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": id_, "method": "tools/call", "params": {"name": tool, "arguments": {}}}


@pytest.fixture
def verifier(issuer: TestIssuer, tmp_path: Path) -> JwtVerifier:
    return JwtVerifier(
        issuer=ISSUER, audience=RESOURCE, jwks=JwksFile(issuer.write_jwks(tmp_path / "jwks.json"))
    )


@pytest.fixture
async def client(verifier: JwtVerifier) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=protected(verifier))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as c:
        yield c


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


async def test_no_token_challenge(client: httpx.AsyncClient) -> None:
    response = await client.post("/mcp/ml", json=call("ml_list_models"))
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == NO_TOKEN
    assert "error=" not in response.headers["www-authenticate"]
    assert (await client.get("/mcp/ml")).headers["www-authenticate"] == NO_TOKEN


@pytest.mark.parametrize("header", ["Basic YWxpY2U6c2VjcmV0", "Token abc", "bearertoken"])
async def test_other_schemes_get_the_no_token_challenge(client: httpx.AsyncClient, header: str) -> None:
    response = await client.post("/mcp/ml", json=call("ml_list_models"), headers={"authorization": header})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == NO_TOKEN


async def test_token_in_query_string_is_ignored(client: httpx.AsyncClient, issuer: TestIssuer) -> None:
    token = issuer.token(ALL)
    response = await client.post(f"/mcp/ml?access_token={token}", json=call("ml_list_models"))
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == NO_TOKEN


@pytest.mark.parametrize(
    "token",
    [
        pytest.param("garbage", id="garbage"),
        pytest.param("Bearer", id="scheme-twice"),
        pytest.param("a b", id="space-inside"),
        pytest.param("", id="empty"),
    ],
)
async def test_malformed_tokens(client: httpx.AsyncClient, token: str) -> None:
    response = await client.post("/mcp/ml", json=call("ml_list_models"), headers=bearer(token))
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == INVALID


@pytest.mark.parametrize(
    "claims",
    [
        pytest.param({"exp": 1}, id="expired"),
        pytest.param({"nbf": 4_000_000_000}, id="not-yet-valid"),
        pytest.param({"iss": "https://evil.example.test/tenant"}, id="wrong-issuer"),
        pytest.param({"aud": "http://127.0.0.1:8000/mcp/other"}, id="aud-other-mcp-server-same-host"),
        pytest.param({"aud": "http://127.0.0.1:8000/mcp"}, id="aud-parent-path"),
        pytest.param({"aud": DROP}, id="no-aud"),
    ],
)
async def test_invalid_tokens(client: httpx.AsyncClient, issuer: TestIssuer, claims: dict[str, Any]) -> None:
    response = await client.post(
        "/mcp/ml", json=call("ml_list_models"), headers=bearer(issuer.token(ALL, **claims))
    )
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == INVALID
    assert response.json() == {
        "error": "invalid_token",
        "error_description": "the access token is invalid, expired or not for this resource",
    }


async def test_forged_algorithms_refused(client: httpx.AsyncClient, issuer: TestIssuer) -> None:
    payload = issuer.token(ALL).split(".")[1]
    head = base64.urlsafe_b64encode(json.dumps({"alg": "none"}).encode()).rstrip(b"=").decode()
    response = await client.post("/mcp/ml", json=call("ml_list_models"), headers=bearer(f"{head}.{payload}."))
    assert (response.status_code, response.headers["www-authenticate"]) == (401, INVALID)
    other_key = issuer.token(ALL, key=rsa_key("impostor"))
    response = await client.post("/mcp/ml", json=call("ml_list_models"), headers=bearer(other_key))
    assert (response.status_code, response.headers["www-authenticate"]) == (401, INVALID)


async def test_valid_token_reaches_the_app_with_identity(
    client: httpx.AsyncClient, issuer: TestIssuer
) -> None:
    body = call("ml_list_models")
    response = await client.post("/mcp/ml", json=body, headers=bearer(issuer.token("ml:read")))
    assert response.status_code == 200
    seen = response.json()
    assert seen["subject"] == "alice"
    assert seen["client_id"] == "agent-1"
    assert seen["scopes"] == ["ml:read"]
    assert seen["resource"] == RESOURCE
    assert seen["user_is_authenticated"] is True
    assert seen["auth_scopes"] == ["ml:read"]
    assert json.loads(seen["body"]) == body, "the body is replayed intact"
    get = await client.get("/mcp/ml", headers=bearer(issuer.token("ml:read")))
    assert get.status_code == 200 and get.json()["subject"] == "alice"


@pytest.mark.parametrize("tool", sorted(TOOL_SCOPES))
async def test_scope_matrix(client: httpx.AsyncClient, issuer: TestIssuer, tool: str) -> None:
    needed = TOOL_SCOPES[tool]
    others = " ".join(s for s in ALL_SCOPES if s not in (needed, "ml:admin"))
    refused = await client.post("/mcp/ml", json=call(tool), headers=bearer(issuer.token(others)))
    assert refused.status_code == 403
    assert refused.headers["www-authenticate"] == insufficient(needed, f"{tool} needs the scope {needed}")
    assert refused.json()["error"] == "insufficient_scope"
    allowed = await client.post("/mcp/ml", json=call(tool), headers=bearer(issuer.token(needed)))
    assert allowed.status_code == 200
    admin = await client.post("/mcp/ml", json=call(tool), headers=bearer(issuer.token("ml:admin")))
    assert admin.status_code == 200, "ml:admin implies every scope"


async def test_scp_claim_counts_for_tool_scopes(client: httpx.AsyncClient, issuer: TestIssuer) -> None:
    token = issuer.token(DROP, scp=["ml:infer"])
    assert (await client.post("/mcp/ml", json=call("ml_predict"), headers=bearer(token))).status_code == 200


async def test_batch_names_every_scope_it_needs(client: httpx.AsyncClient, issuer: TestIssuer) -> None:
    batch = [call("ml_predict", 1), call("ml_halt", 2), {"jsonrpc": "2.0", "id": 3, "method": "tools/list"}]
    refused = await client.post("/mcp/ml", json=batch, headers=bearer(issuer.token("ml:read ml:infer")))
    assert refused.status_code == 403
    assert refused.headers["www-authenticate"] == insufficient(
        "ml:infer ml:halt", "ml_halt needs the scope ml:halt"
    )
    allowed = await client.post("/mcp/ml", json=batch, headers=bearer(issuer.token("ml:infer ml:halt")))
    assert allowed.status_code == 200
    assert json.loads(allowed.json()["body"]) == batch


async def test_other_methods_need_only_a_valid_token(client: httpx.AsyncClient, issuer: TestIssuer) -> None:
    token = issuer.token("ml:read")
    for method in ("initialize", "tools/list", "ping"):
        body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": {}}
        assert (await client.post("/mcp/ml", json=body, headers=bearer(token))).status_code == 200
    unknown_tool = await client.post("/mcp/ml", json=call("ml.nope"), headers=bearer(token))
    assert unknown_tool.status_code == 200, "an unknown tool is the SDK's to answer"


async def test_oversized_body_413(verifier: JwtVerifier, issuer: TestIssuer) -> None:
    app = protected(verifier, max_body=1024)
    big = json.dumps(call("ml_list_models") | {"pad": "x" * 2000}).encode()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8000"
    ) as c:
        declared = await c.post("/mcp/ml", content=big, headers=bearer(issuer.token()))
        assert declared.status_code == 413

        async def chunks() -> AsyncIterator[bytes]:
            for i in range(0, len(big), 100):
                yield big[i : i + 100]

        streamed = await c.post("/mcp/ml", content=chunks(), headers=bearer(issuer.token()))
        assert streamed.status_code == 413
        assert "content-length" not in streamed.request.headers
        small = await c.post("/mcp/ml", json=call("ml_list_models"), headers=bearer(issuer.token()))
        assert small.status_code == 200


async def test_unparsable_body_400(client: httpx.AsyncClient, issuer: TestIssuer) -> None:
    response = await client.post("/mcp/ml", content=b"{not json", headers=bearer(issuer.token()))
    assert response.status_code == 400
    assert response.json()["error"]["code"] == -32700


async def test_two_authorization_headers_400(client: httpx.AsyncClient, issuer: TestIssuer) -> None:
    headers = [("authorization", f"Bearer {issuer.token()}"), ("authorization", f"Bearer {issuer.token()}")]
    response = await client.post("/mcp/ml", json=call("ml_list_models"), headers=headers)
    assert response.status_code == 400
    assert response.headers["www-authenticate"].startswith('Bearer error="invalid_request"')


async def test_options_preflight_passes_without_token(client: httpx.AsyncClient) -> None:
    assert (await client.options("/mcp/ml")).status_code == 200


class FixedVerifier:
    def __init__(self, result: AccessToken | None = None, error: Exception | None = None) -> None:
        self.result, self.error = result, error

    async def verify_token(self, token: str) -> AccessToken | None:
        if self.error is not None:
            raise self.error
        return self.result


@pytest.mark.parametrize("error", [AuthUnavailable("jwks down"), RuntimeError("bug")])
async def test_verifier_failure_is_503_never_500_never_accepted(error: Exception) -> None:
    app = protected(FixedVerifier(error=error))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8000"
    ) as c:
        response = await c.post("/mcp/ml", json=call("ml_list_models"), headers=bearer("tok"))
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert response.json()["error"] == "temporarily_unavailable"
    assert "jwks" not in response.text and "bug" not in response.text


async def test_unreachable_jwks_url_is_503(issuer: TestIssuer) -> None:
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    source = JwksUrl("https://auth.example.test/jwks", transport=httpx.MockTransport(down))
    app = protected(JwtVerifier(issuer=ISSUER, audience=RESOURCE, jwks=source))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8000"
    ) as c:
        response = await c.post("/mcp/ml", json=call("ml_list_models"), headers=bearer(issuer.token()))
    assert response.status_code == 503


@pytest.mark.parametrize(
    "access",
    [
        AccessToken(token="t", client_id="c", scopes=["ml:admin"], resource="http://127.0.0.1:8000/mcp"),
        AccessToken(token="t", client_id="c", scopes=["ml:admin"], resource=None),
        AccessToken(token="t", client_id="c", scopes=["ml:admin"], resource=RESOURCE, expires_at=1),
    ],
)
async def test_middleware_rechecks_resource_and_expiry(access: AccessToken) -> None:
    app = protected(FixedVerifier(result=access))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8000"
    ) as c:
        response = await c.post("/mcp/ml", json=call("ml_list_models"), headers=bearer("tok"))
    assert (response.status_code, response.headers["www-authenticate"]) == (401, INVALID)


async def test_api_keys_beside_jwts(tmp_path: Path, verifier: JwtVerifier, issuer: TestIssuer) -> None:
    key, line = generate_api_key("ci-bot", ["ml:read"])
    (tmp_path / "keys").write_text(line + "\n")
    both = CompositeVerifier(
        api_keys=ApiKeyVerifier(tmp_path / "keys", audience=RESOURCE), jwt_verifier=verifier
    )
    app: BearerAuth = protected(both)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8000"
    ) as c:
        good = await c.post("/mcp/ml", json=call("ml_list_models"), headers=bearer(key))
        assert good.status_code == 200
        assert (good.json()["client_id"], good.json()["subject"]) == ("ci-bot", "apikey:ci-bot")
        scoped = await c.post("/mcp/ml", json=call("ml_predict"), headers=bearer(key))
        assert scoped.status_code == 403
        bad = await c.post("/mcp/ml", json=call("ml_list_models"), headers=bearer(key[:-1]))
        assert (bad.status_code, bad.headers["www-authenticate"]) == (401, INVALID)
        jwt_still = await c.post("/mcp/ml", json=call("ml_list_models"), headers=bearer(issuer.token()))
        assert jwt_still.status_code == 200
