"""The development authorization server on a real `mlgate serve --http --stateless` (dev auth, 127.0.0.1):
discovery from the 401, dynamic registration, authorization code + PKCE through the consent page,
refresh, client credentials, RFC 8707 resource binding, and the tokens on /mcp/ml.

The server runs without MLGATE_RESOURCE_URL, so `mlgate token` must find its URL by itself.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests._support import DIABETES_ROW
from tests._support.devauth import (
    REDIRECT,
    Dev,
    authorize_params,
    claims,
    consent,
    mint,
    pkce,
    public_client,
    redirect_query,
    register,
    rpc,
)


def decide(dev: Dev, page: httpx.Response, decision: str) -> httpx.Response:
    found = re.search(r'name="nonce" value="([^"]+)"', page.text)
    assert found, page.text
    return httpx.post(
        dev.base + "/oauth/authorize", data={"nonce": found.group(1), "decision": decision}, timeout=30
    )


def code_for(dev: Dev, client_id: str, challenge: str) -> str:
    page = consent(dev, authorize_params(dev, client_id, challenge))
    assert page.status_code == 200, page.text
    query = redirect_query(decide(dev, page, "approve"))
    assert query["state"] == "st-1"
    return query["code"]


def token_request(dev: Dev, **form: str) -> httpx.Response:
    return httpx.post(dev.base + "/oauth/token", data=form, timeout=30)


# -- discovery ----------------------------------------------------------------------------------


def test_discovery_from_the_401(dev: Dev) -> None:
    from authlib.oauth2.rfc8414 import AuthorizationServerMetadata

    r = rpc(dev.resource, None, "tools/list", {})
    assert r.status_code == 401
    challenge = r.headers["www-authenticate"]
    assert 'scope="ml:read ml:infer"' in challenge and "error=" not in challenge
    prm_url = re.search(r'resource_metadata="([^"]+)"', challenge)
    assert prm_url and prm_url.group(1) == dev.base + "/.well-known/oauth-protected-resource/mcp/ml"
    prm = httpx.get(prm_url.group(1)).json()
    assert prm["resource"] == dev.resource and prm["authorization_servers"] == [dev.base]
    meta = httpx.get(dev.base + "/.well-known/oauth-authorization-server").json()
    AuthorizationServerMetadata(meta).validate()
    assert meta["issuer"] == prm["authorization_servers"][0], "issuer byte for byte"
    assert meta["authorization_endpoint"] == dev.base + "/oauth/authorize"
    assert meta["token_endpoint"] == dev.base + "/oauth/token"
    assert meta["registration_endpoint"] == dev.base + "/oauth/register"
    assert meta["code_challenge_methods_supported"] == ["S256"]
    assert {"authorization_code", "client_credentials"} <= set(meta["grant_types_supported"])
    assert meta["scopes_supported"] == ["ml:read", "ml:infer", "ml:manage", "ml:halt", "ml:audit", "ml:admin"]


def test_mlgate_token_follows_the_running_server(dev: Dev) -> None:
    assert "MLGATE_RESOURCE_URL" not in dev.env
    token = mint(dev.env, "ml:read")
    assert claims(token)["aud"] == dev.resource and claims(token)["iss"] == dev.base
    assert rpc(dev.resource, token, "tools/list", {}).status_code == 200


# -- dynamic registration -----------------------------------------------------------------------


def test_registration_public_and_confidential(dev: Dev) -> None:
    public = register(dev, client_name="p", redirect_uris=[REDIRECT], token_endpoint_auth_method="none")
    assert public.status_code == 201, public.text
    body = public.json()
    assert body["client_id"] and "client_secret" not in body and body["token_endpoint_auth_method"] == "none"
    assert body["grant_types"] == ["authorization_code"] and body["scope"] == "ml:read ml:infer"
    secret = register(dev, client_name="c", grant_types=["client_credentials"], scope="ml:read")
    assert secret.status_code == 201 and secret.json()["client_secret"]
    assert secret.json()["token_endpoint_auth_method"] == "client_secret_basic"


@pytest.mark.parametrize(
    "metadata",
    [
        {"client_name": "no redirect"},  # authorization_code needs redirect_uris
        {"redirect_uris": [REDIRECT], "scope": "ml:read ml:everything"},  # not an mlgate scope
        {
            "grant_types": ["client_credentials"],
            "token_endpoint_auth_method": "none",
        },  # public + client_credentials
        {"redirect_uris": [REDIRECT], "grant_types": ["password"]},  # not a grant this server offers
        {"redirect_uris": ["not a url"]},
    ],
)
def test_registration_refusals(dev: Dev, metadata: dict[str, Any]) -> None:
    r = register(dev, **metadata)
    assert r.status_code == 400 and r.json()["error"] == "invalid_client_metadata", r.text


def test_registration_needs_a_json_object(dev: Dev) -> None:
    r = httpx.post(
        dev.base + "/oauth/register", content=b"[1, 2]", headers={"content-type": "application/json"}
    )
    assert r.status_code == 400 and r.json()["error"] == "invalid_client_metadata"


# -- authorization code + PKCE ------------------------------------------------------------------


def test_authorization_code_with_pkce_end_to_end(dev: Dev) -> None:
    client_id = public_client(dev)
    verifier, challenge = pkce()
    page = consent(dev, authorize_params(dev, client_id, challenge))
    assert page.status_code == 200 and page.headers["x-frame-options"] == "DENY"
    assert "Test Agent &lt;b&gt;" in page.text, "the client name is shown, escaped"
    assert "ml:read" in page.text and "ml:infer" in page.text and "ml:manage" not in page.text
    assert dev.resource in page.text and "Approve" in page.text and "Deny" in page.text
    query = redirect_query(decide(dev, page, "approve"))
    assert query["state"] == "st-1" and query["code"]

    wrong = token_request(
        dev,
        grant_type="authorization_code",
        code=query["code"],
        redirect_uri=REDIRECT,
        client_id=client_id,
        code_verifier=pkce()[0],
        resource=dev.resource,
    )
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant", wrong.text
    missing = token_request(
        dev,
        grant_type="authorization_code",
        code=query["code"],
        redirect_uri=REDIRECT,
        client_id=client_id,
        resource=dev.resource,
    )
    assert missing.status_code == 400 and missing.json()["error"] == "invalid_request", missing.text

    ok = token_request(
        dev,
        grant_type="authorization_code",
        code=query["code"],
        redirect_uri=REDIRECT,
        client_id=client_id,
        code_verifier=verifier,
        resource=dev.resource,
    )
    assert ok.status_code == 200, ok.text
    tokens = ok.json()
    assert ok.headers["cache-control"] == "no-store" and tokens["token_type"] == "Bearer"
    assert tokens["scope"] == "ml:read ml:infer" and tokens["refresh_token"]
    jwt_claims = claims(tokens["access_token"])
    assert jwt_claims["aud"] == dev.resource and jwt_claims["iss"] == dev.base
    assert jwt_claims["sub"] == "dev" and jwt_claims["client_id"] == client_id

    again = token_request(
        dev,
        grant_type="authorization_code",
        code=query["code"],
        redirect_uri=REDIRECT,
        client_id=client_id,
        code_verifier=verifier,
    )
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant", "a code is used once"

    access = tokens["access_token"]
    call = {
        "name": dev.tools["predict"],
        "arguments": {"model": "demo-regressor@1", "features": [DIABETES_ROW]},
    }
    predicted = rpc(dev.resource, access, "tools/call", call)
    assert predicted.status_code == 200 and '"predictions"' in predicted.text, predicted.text
    outside = rpc(dev.resource, access, "tools/call", {"name": dev.tools["pull"], "arguments": {}})
    assert outside.status_code == 403
    assert 'error="insufficient_scope"' in outside.headers["www-authenticate"]
    assert 'scope="ml:manage"' in outside.headers["www-authenticate"]

    refreshed = token_request(
        dev,
        grant_type="refresh_token",
        refresh_token=tokens["refresh_token"],
        client_id=client_id,
        resource=dev.resource,
    )
    assert refreshed.status_code == 200, refreshed.text
    assert claims(refreshed.json()["access_token"])["aud"] == dev.resource
    reused = token_request(
        dev, grant_type="refresh_token", refresh_token=tokens["refresh_token"], client_id=client_id
    )
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant", "refresh tokens rotate"


def test_denial_and_a_used_consent_form(dev: Dev) -> None:
    client_id = public_client(dev)
    page = consent(dev, authorize_params(dev, client_id, pkce()[1]))
    query = redirect_query(decide(dev, page, "deny"))
    assert query["error"] == "access_denied" and query["state"] == "st-1" and "code" not in query
    replay = decide(dev, page, "approve")
    assert replay.status_code == 400 and "expired" in replay.text, "a consent nonce answers once"


def test_consent_form_needs_its_nonce_and_origin(dev: Dev) -> None:
    client_id = public_client(dev)
    page = consent(dev, authorize_params(dev, client_id, pkce()[1]))
    forged = httpx.post(dev.base + "/oauth/authorize", data={"nonce": "guessed", "decision": "approve"})
    assert forged.status_code == 400 and "location" not in forged.headers
    nonce = re.search(r'name="nonce" value="([^"]+)"', page.text)
    assert nonce
    cross = httpx.post(
        dev.base + "/oauth/authorize",
        data={"nonce": nonce.group(1), "decision": "approve"},
        headers={"Origin": "http://evil.example"},
    )
    assert cross.status_code == 403 and "location" not in cross.headers


def test_wrong_resource_is_refused(dev: Dev) -> None:
    client_id = public_client(dev)
    verifier, challenge = pkce()
    other = "http://127.0.0.1:9/mcp/ml"
    for resource in (other, dev.base, dev.resource + "/"):
        refused = consent(dev, authorize_params(dev, client_id, challenge, resource=resource))
        query = redirect_query(refused)
        assert query["error"] == "invalid_target" and query["state"] == "st-1", resource

    code = code_for(dev, client_id, challenge)
    swapped = token_request(
        dev,
        grant_type="authorization_code",
        code=code,
        redirect_uri=REDIRECT,
        client_id=client_id,
        code_verifier=verifier,
        resource=other,
    )
    assert swapped.status_code == 400 and swapped.json()["error"] == "invalid_target", swapped.text


def test_pkce_is_required_and_s256_only(dev: Dev) -> None:
    client_id = public_client(dev)
    verifier, challenge = pkce()
    none = authorize_params(dev, client_id, challenge)
    del none["code_challenge"], none["code_challenge_method"]
    assert redirect_query(consent(dev, none))["error"] == "invalid_request"
    plain = authorize_params(dev, client_id, verifier, code_challenge_method="plain")
    assert redirect_query(consent(dev, plain))["error"] == "invalid_request"
    implicit = consent(dev, authorize_params(dev, client_id, challenge, response_type="token"))
    assert redirect_query(implicit)["error"] == "unsupported_response_type"


def test_authorization_request_refusals_without_a_redirect(dev: Dev) -> None:
    client_id = public_client(dev)
    challenge = pkce()[1]
    unknown = consent(dev, authorize_params(dev, "no-such-client", challenge))
    assert (
        unknown.status_code == 400 and "location" not in unknown.headers and "invalid_client" in unknown.text
    )
    elsewhere = consent(
        dev, authorize_params(dev, client_id, challenge, redirect_uri="http://evil.example/cb")
    )
    assert elsewhere.status_code == 400 and "location" not in elsewhere.headers
    scope = consent(dev, authorize_params(dev, client_id, challenge, scope="ml:read ml:everything"))
    assert redirect_query(scope)["error"] == "invalid_scope"


# -- client credentials -------------------------------------------------------------------------


def test_client_credentials(dev: Dev) -> None:
    reg = register(dev, client_name="worker", grant_types=["client_credentials"], scope="ml:read")
    client = reg.json()
    auth = (client["client_id"], client["client_secret"])
    ok = httpx.post(
        dev.base + "/oauth/token",
        auth=auth,
        data={"grant_type": "client_credentials", "scope": "ml:read", "resource": dev.resource},
    )
    assert ok.status_code == 200, ok.text
    access = ok.json()["access_token"]
    jwt_claims = claims(access)
    assert jwt_claims["aud"] == dev.resource and jwt_claims["sub"] == client["client_id"]
    assert "refresh_token" not in ok.json()

    listed = rpc(dev.resource, access, "tools/call", {"name": dev.tools["list_models"], "arguments": {}})
    assert listed.status_code == 200 and "demo-regressor" in listed.text, listed.text
    call = {
        "name": dev.tools["predict"],
        "arguments": {"model": "demo-regressor@1", "features": [DIABETES_ROW]},
    }
    refused = rpc(dev.resource, access, "tools/call", call)
    assert refused.status_code == 403 and 'scope="ml:infer"' in refused.headers["www-authenticate"]

    beyond = httpx.post(
        dev.base + "/oauth/token",
        auth=auth,
        data={"grant_type": "client_credentials", "scope": "ml:read ml:infer"},
    )
    assert beyond.status_code == 400 and beyond.json()["error"] == "invalid_scope", beyond.text
    target = httpx.post(
        dev.base + "/oauth/token",
        auth=auth,
        data={"grant_type": "client_credentials", "resource": "http://127.0.0.1:9/mcp/ml"},
    )
    assert target.status_code == 400 and target.json()["error"] == "invalid_target", target.text
    bad_secret = httpx.post(
        dev.base + "/oauth/token",
        auth=(client["client_id"], "wrong"),
        data={"grant_type": "client_credentials"},
    )
    assert bad_secret.status_code == 401 and bad_secret.json()["error"] == "invalid_client"
    public = public_client(dev)
    no_secret = token_request(dev, grant_type="client_credentials", client_id=public)
    assert no_secret.status_code in (400, 401) and no_secret.json()["error"] in (
        "invalid_client",
        "unauthorized_client",
    )


# -- transport ----------------------------------------------------------------------------------


def test_stateless_get_is_405(dev: Dev) -> None:
    token = mint(dev.env, "ml:read")
    r = httpx.get(
        dev.resource, headers={"Authorization": f"Bearer {token}", "Accept": "text/event-stream"}, timeout=10
    )
    assert r.status_code == 405 and r.headers["allow"] == "POST"
    assert httpx.get(dev.resource, timeout=10).status_code == 401, "auth still comes first"


# -- in process: what sockets on this machine cannot show ---------------------------------------


@pytest.mark.anyio
async def test_endpoints_refuse_non_loopback_peers(tmp_path: Path) -> None:
    from starlette.applications import Starlette

    from mlgate.config import Settings
    from mlgate.server.devauth import dev_auth_routes

    settings = Settings(home=tmp_path, dev_auth=True, resource_url="http://127.0.0.1:8000/mcp/ml")
    app = Starlette(routes=dev_auth_routes(settings))
    for peer, status in ((("192.0.2.7", 50000), 403), (("127.0.0.1", 50000), 200)):
        transport = httpx.ASGITransport(app=app, client=peer)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as http:
            r = await http.get("/.well-known/oauth-authorization-server")
            assert r.status_code == status, peer
            reg = await http.post("/oauth/register", json={"grant_types": ["client_credentials"]})
            assert reg.status_code == (403 if status == 403 else 201), peer


def test_running_server_record(tmp_path: Path) -> None:
    from mlgate.auth.devkeys import (
        RUNNING_FILE,
        for_running_server,
        record_running_server,
        running_resource_url,
    )
    from mlgate.config import Settings

    assert running_resource_url(Settings(home=tmp_path)) is None
    server = Settings(home=tmp_path, dev_auth=True, resource_url="http://127.0.0.1:8123/mcp/ml")
    path = record_running_server(server)  # this process plays the server: alive
    assert path.name == RUNNING_FILE and oct(path.stat().st_mode & 0o777) == "0o600"
    plain = Settings(home=tmp_path, dev_auth=True)
    assert for_running_server(plain).resource_url == "http://127.0.0.1:8123/mcp/ml"
    explicit = Settings(home=tmp_path, dev_auth=True, resource_url="http://127.0.0.1:9/mcp/ml")
    assert for_running_server(explicit).resource_url == "http://127.0.0.1:9/mcp/ml", "the setting wins"
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    record = json.loads(path.read_text())
    path.write_text(json.dumps({**record, "pid": int(dead.stdout)}))
    assert for_running_server(plain).resource_url == plain.resource_url, "a dead server's record is ignored"
    assert os.getpid() != int(dead.stdout)
