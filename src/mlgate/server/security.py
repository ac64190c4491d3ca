"""Which authentication layer the HTTP app gets, from the settings.

With OAuth (``MLGATE_AUTH_ISSUER`` + ``MLGATE_AUTH_JWKS``), dev auth (``MLGATE_DEV_AUTH``)
or static keys (``MLGATE_API_KEYS``) configured, every request to ``/mcp/ml`` must carry a
bearer token bound to ``MLGATE_RESOURCE_URL``; so must ``GET /metrics``, with ``ml:read`` (or
``ml:admin``): model names are in its labels (``MLGATE_METRICS_ADDR`` serves it without a token
on its own address). ``/healthz`` and the RFC 9728 metadata stay open. ``--no-auth`` is for
loopback only (the command line enforces it).

Under dev auth (and no ``MLGATE_AUTH_ISSUER``) a listener on a loopback address also serves
the development authorization server (``devauth``) at the issuer the metadata names.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from mcp.server.mcpserver import MCPServer
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from mlgate.config import Settings

logger = logging.getLogger("mlgate.auth")
METRICS_PATH = "/metrics"
METRICS_SCOPE = "ml:read"


def auth_layer(
    settings: Settings,
    server: MCPServer[Any],
    mcp_path: str,
    *,
    no_auth: bool,
    host: str = "127.0.0.1",
    port: int = 8000,
) -> Callable[[ASGIApp], ASGIApp] | None:
    """None when serving without tokens; else a wrapper that guards ``mcp_path`` with bearer auth.

    ``host`` and ``port`` are the listener's: the dev authorization server is served on loopback only,
    behind the same Host/Origin allow-list as ``/mcp/ml`` (``http.transport_security``)."""
    if no_auth:
        return None
    from mlgate.auth.verifier import build_verifier

    verifier = build_verifier(settings)
    if verifier is None:
        return None
    from mlgate.server.bearer import (
        CHALLENGE_SCOPES,
        BearerAuth,
        metadata_path,
        metadata_url,
        protected_resource_metadata,
    )

    if settings.dev_auth and not settings.auth_issuer:
        _mount_dev_authorization_server(settings, server, host, port)
    document = protected_resource_metadata(settings)
    refused = _ledger_refusals(server)

    async def metadata(_: Request) -> Response:
        return JSONResponse(
            document, headers={"Access-Control-Allow-Origin": "*", "Cache-Control": "max-age=300"}
        )

    server.custom_route(metadata_path(settings.resource_url), methods=["GET"])(metadata)

    def wrap(app: ASGIApp) -> ASGIApp:
        guarded = BearerAuth(
            app,
            verifier=verifier,
            resource_url=settings.resource_url,
            metadata_url=metadata_url(settings.resource_url),
            base_scope=CHALLENGE_SCOPES,
            refused=refused,
        )
        metrics = BearerAuth(
            app,
            verifier=verifier,
            resource_url=settings.resource_url,
            metadata_url=metadata_url(settings.resource_url),
            base_scope=METRICS_SCOPE,
            required_scope=METRICS_SCOPE,
            refused=refused,
        )

        async def dispatch(scope: Scope, receive: Receive, send: Send) -> None:
            path = scope.get("path", "") if scope["type"] in ("http", "websocket") else ""
            if path == mcp_path or path.startswith(mcp_path + "/"):
                await guarded(scope, receive, send)
            elif path.rstrip("/") == METRICS_PATH:
                await metrics(scope, receive, send)
            else:
                await app(scope, receive, send)

        return dispatch

    return wrap


def _ledger_refusals(server: MCPServer[Any]) -> Callable[[str, Any, Any], None] | None:
    """Each 401/403 as a ledger row, through the one audited path (None: a server without a runtime)."""
    from mlgate.serving import audited
    from mlgate.serving.runtime import Runtime

    rt = getattr(server, "runtime", None)
    if not isinstance(rt, Runtime):
        return None
    return lambda tool, caller, error: audited.refused(rt, audited.Call(tool, caller), error)


def _mount_dev_authorization_server(settings: Settings, server: MCPServer[Any], host: str, port: int) -> None:
    from authlib.common.security import is_secure_transport

    from mlgate.auth.devkeys import dev_issuer
    from mlgate.server.http import is_loopback, transport_security

    issuer = dev_issuer(settings.resource_url)
    if not is_loopback(host) or not is_secure_transport(issuer):
        logger.warning(
            "dev auth: the development authorization server is served on loopback only (listening on %s, "
            "issuer %s); mint tokens with `mlgate token`",
            host,
            issuer,
        )
        return
    from mlgate.server.devauth import dev_auth_routes

    for route in dev_auth_routes(settings, transport_security(settings, host, port)):
        server.custom_route(route.path, methods=sorted(route.methods or []))(route.endpoint)
    logger.info("dev auth: authorization server at %s/.well-known/oauth-authorization-server", issuer)
