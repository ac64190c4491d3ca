"""The development authorization server against a DNS-rebinding page and self-granted admin, over real HTTP.

A page on ``evil.example`` that rebinds its name to 127.0.0.1 reaches the loopback listener with its own
Host and Origin and can only send "simple" requests (``text/plain``) without a preflight: the dev
authorization server refuses that Host and Origin as ``/mcp/ml`` does, takes registration metadata as JSON
only, and no registered client gets ``ml:admin`` by any grant (an operator mints it with ``mlgate token``).
"""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import httpx

from tests._support.devauth import (
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

ADMIN_CLIENT = {"client_name": "x", "grant_types": ["client_credentials"], "scope": "ml:read ml:admin"}


def _raw_register(dev: Dev, headers: dict[str, str], body: bytes) -> httpx.Response:
    return httpx.post(dev.base + "/oauth/register", content=body, headers=headers, timeout=30)


def test_rebinding_page_cannot_register(dev: Dev) -> None:
    port = urlsplit(dev.base).port
    body = json.dumps(ADMIN_CLIENT | {"scope": "ml:read"}).encode()
    evil = {"Host": f"evil.example:{port}", "Origin": f"http://evil.example:{port}"}
    # what a rebinding page sends: its own Host and Origin, text/plain (no preflight)
    r = _raw_register(dev, {**evil, "Content-Type": "text/plain"}, body)
    assert r.status_code == 421 and r.json()["error"] == "access_denied", r.text
    assert "client_id" not in r.text and "Host" in r.json()["error_description"]
    # the same with a JSON content type: the Host alone refuses it
    assert _raw_register(dev, {**evil, "Content-Type": "application/json"}, body).status_code == 421
    # the right Host but a foreign Origin (a cross-site page posting to 127.0.0.1)
    foreign = {"Origin": "http://evil.example", "Content-Type": "application/json"}
    r = _raw_register(dev, foreign, body)
    assert r.status_code == 403 and "Origin" in r.json()["error_description"], r.text
    # text/plain from this listener's own Host: the metadata must be JSON
    r = _raw_register(dev, {"Content-Type": "text/plain"}, body)
    assert r.status_code == 415 and "application/json" in r.json()["error_description"], r.text
    # every endpoint refuses the foreign Host: metadata, authorize, token
    for method, path in (("GET", "/.well-known/oauth-authorization-server"), ("GET", "/oauth/authorize"),
                         ("POST", "/oauth/token")):  # fmt: skip
        r = httpx.request(method, dev.base + path, headers=evil, timeout=30)
        assert r.status_code == 421, (path, r.text)
    # the listener's own Host and Origin still work
    own = {"Origin": dev.base, "Content-Type": "application/json"}
    r = _raw_register(dev, own, body)
    assert r.status_code == 201 and r.json()["client_secret"], r.text


def test_registration_never_grants_admin(dev: Dev) -> None:
    r = register(dev, **ADMIN_CLIENT)
    assert r.status_code == 400 and r.json()["error"] == "invalid_client_metadata", r.text
    assert "mlgate token --scope ml:admin" in r.json()["error_description"]
    # a client registered for less cannot widen to admin with client_credentials
    reg = register(dev, client_name="w", grant_types=["client_credentials"], scope="ml:read")
    assert reg.status_code == 201, reg.text
    cid, secret = reg.json()["client_id"], reg.json()["client_secret"]
    form = {"grant_type": "client_credentials", "scope": "ml:admin"}
    t = httpx.post(dev.base + "/oauth/token", data=form, auth=(cid, secret), timeout=30)
    assert t.status_code == 400 and t.json()["error"] == "invalid_scope", t.text
    assert "access_token" not in t.text
    # nor through the consent page: the authorization request is refused before any consent
    _, challenge = pkce()
    client = public_client(dev)
    page = consent(dev, authorize_params(dev, client, challenge, scope="ml:read ml:admin"))
    query = redirect_query(page)
    assert query["error"] == "invalid_scope" and "mlgate token" in query["error_description"], query
    # the documented operator step: `mlgate token --scope ml:admin` mints a token /mcp/ml accepts
    admin = mint(dev.env, "ml:admin")
    assert claims(admin)["scope"] == "ml:admin"
    assert rpc(dev.resource, admin, "tools/list", {}).status_code == 200
