"""A spawned `mlgate serve --http` with dev auth, from outside: tokens minted by `mlgate token`, JSON-RPC posts
with them, and the steps of its development authorization server's OAuth flows (registration, PKCE, consent)."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import subprocess
import sys
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

ACCEPT = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
REDIRECT = "http://127.0.0.1:33418/callback"


@dataclass
class Dev:
    base: str
    resource: str
    env: dict[str, str]
    tools: dict[str, str]  # canonical tool name by short name: "predict" -> "ml_predict" (or "ml_predict")


def mint(env: dict[str, str], scope: str, audience: str | None = None) -> str:
    """A token from `mlgate token` run with a server's environment (its home, hence its dev key)."""
    args = [sys.executable, "-m", "mlgate", "token", "--scope", scope]
    if audience:
        args += ["--audience", audience]
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=60, check=True)
    return done.stdout.strip()


def rpc(url: str, token: str | None, method: str, params: dict[str, Any]) -> httpx.Response:
    headers = dict(ACCEPT)
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return httpx.post(
        url, headers=headers, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params}, timeout=60
    )


def claims(token: str) -> dict[str, Any]:
    part = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))))


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def register(dev: Dev, **metadata: Any) -> httpx.Response:
    return httpx.post(dev.base + "/oauth/register", json=metadata, timeout=30)


def public_client(dev: Dev) -> str:
    r = register(
        dev,
        client_name="Test Agent <b>",
        redirect_uris=[REDIRECT],
        token_endpoint_auth_method="none",
        grant_types=["authorization_code", "refresh_token"],
        scope="ml:read ml:infer ml:manage",
    )
    assert r.status_code == 201, r.text
    return str(r.json()["client_id"])


def authorize_params(dev: Dev, client_id: str, challenge: str, **extra: str) -> dict[str, str]:
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": REDIRECT,
        "state": "st-1",
        "scope": "ml:read ml:infer",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "resource": dev.resource,
    }
    params.update(extra)
    return params


def consent(dev: Dev, params: dict[str, str]) -> httpx.Response:
    """GET the authorization endpoint; the consent page (200) or a redirect with an error (302)."""
    return httpx.get(dev.base + "/oauth/authorize", params=params, timeout=30)


def redirect_query(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 302, response.text
    location = urlsplit(response.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT
    return {k: v[0] for k, v in parse_qs(location.query).items()}
