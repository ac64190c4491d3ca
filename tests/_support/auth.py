"""Shared pieces of the auth tests: a test issuer with a real RSA key, real JWTs, an echo
app behind ``BearerAuth``, and a real uvicorn on 127.0.0.1 in a thread."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import uvicorn
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey
from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import TokenVerifier
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp

from mlgate.config import Settings
from mlgate.server.bearer import BearerAuth, metadata_url
from tests._support import free_port, wait_until

RESOURCE = "http://127.0.0.1:8000/mcp/ml"
ISSUER = "https://auth.example.test/tenant"
METADATA = "http://127.0.0.1:8000/.well-known/oauth-protected-resource/mcp/ml"
ALL = "ml:read ml:infer ml:manage ml:halt ml:admin"
DROP = object()
"""A claim override that removes the claim."""


def make_settings(home: Path, **values: Any) -> Settings:
    options: dict[str, Any] = {"_env_file": None, "home": home, **values}
    return Settings(**options)


_KEYS: dict[str, RSAKey] = {}


def rsa_key(name: str) -> RSAKey:
    """A 2048-bit RSA key made in this test run (cached by name for speed)."""
    if name not in _KEYS:
        key = RSAKey.generate_key(2048, private=True)
        key.ensure_kid()
        _KEYS[name] = key
    return _KEYS[name]


@dataclass
class TestIssuer:
    """An authorization server in miniature: keys, a JWKS and access tokens."""

    __test__ = False
    keys: list[RSAKey] = field(default_factory=lambda: [rsa_key("a")])
    issuer: str = ISSUER
    audience: str = RESOURCE

    def jwks(self) -> dict[str, Any]:
        return dict(KeySet(list(self.keys)).as_dict(private=False))

    def write_jwks(self, path: Path) -> Path:
        path.write_text(json.dumps(self.jwks()))
        return path

    def token(
        self,
        scope: object = "ml:read",
        *,
        key: RSAKey | None = None,
        header: dict[str, Any] | None = None,
        **overrides: Any,
    ) -> str:
        key = key or self.keys[0]
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": "alice",
            "aud": self.audience,
            "client_id": "agent-1",
            "iat": now,
            "exp": now + 600,
            "jti": f"t{now}",
        }
        if scope is not None and scope is not DROP:
            claims["scope"] = scope
        for name, value in overrides.items():
            if value is DROP:
                claims.pop(name, None)
            else:
                claims[name] = value
        head: dict[str, Any] = {"alg": "RS256", "typ": "at+jwt", "kid": key.kid}
        head.update(header or {})
        return jwt.encode(head, claims, key, algorithms=[head["alg"]])


async def echo(request: Request) -> JSONResponse:
    """What the inner app sees: the SDK's get_access_token(), scope["user"], the body."""
    token = get_access_token()
    user = request.scope.get("user")
    body = await request.body()
    return JSONResponse(
        {
            "subject": token.subject if token else None,
            "client_id": token.client_id if token else None,
            "scopes": token.scopes if token else None,
            "resource": token.resource if token else None,
            "user_is_authenticated": isinstance(user, AuthenticatedUser),
            "auth_scopes": sorted(request.auth.scopes) if "auth" in request.scope else None,
            "body": body.decode(),
        }
    )


def echo_app() -> Starlette:
    return Starlette(routes=[Route("/mcp/ml", echo, methods=["GET", "POST", "DELETE", "OPTIONS"])])


def protected(verifier: TokenVerifier, *, max_body: int = 4 * 1024 * 1024) -> BearerAuth:
    return BearerAuth(
        echo_app(),
        verifier=verifier,
        resource_url=RESOURCE,
        metadata_url=metadata_url(RESOURCE),
        max_body=max_body,
    )


class LiveServer:
    """``app`` served by a real uvicorn on 127.0.0.1, in a thread."""

    def __init__(
        self, app: ASGIApp, *, port: int | None = None, lifespan: Literal["auto", "on", "off"] = "off"
    ) -> None:
        self.port = port or free_port()
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan=lifespan)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> LiveServer:
        self.thread.start()

        def started() -> bool:
            assert self.thread.is_alive(), "uvicorn stopped before it started"
            return bool(self.server.started)

        wait_until(started, 10, what="uvicorn to start")
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
