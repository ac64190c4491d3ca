"""Which authentication layer the HTTP app gets, from the settings.

With OAuth (``MLGATE_AUTH_ISSUER`` + ``MLGATE_AUTH_JWKS``), dev auth (``MLGATE_DEV_AUTH``)
or static keys (``MLGATE_API_KEYS``) configured, every request to ``/mcp/ml`` must carry a
bearer token bound to ``MLGATE_RESOURCE_URL``; ``/healthz``, ``/metrics`` and the RFC 9728
metadata stay open. ``--no-auth`` is for loopback only (the command line enforces it).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mcp.server.mcpserver import MCPServer
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from mlgate.config import Settings


def auth_layer(
    settings: Settings, server: MCPServer[Any], mcp_path: str, *, no_auth: bool
) -> Callable[[ASGIApp], ASGIApp] | None:
    """None when serving without tokens; else a wrapper that guards ``mcp_path`` with bearer auth."""
    if no_auth:
        return None
    from mlgate.auth.verifier import build_verifier

    verifier = build_verifier(settings)
    if verifier is None:
        return None
    from mlgate.server.bearer import BearerAuth, metadata_path, metadata_url, protected_resource_metadata

    document = protected_resource_metadata(settings)

    async def metadata(_: Request) -> Response:
        return JSONResponse(document, headers={"Access-Control-Allow-Origin": "*", "Cache-Control": "max-age=300"})

    server.custom_route(metadata_path(settings.resource_url), methods=["GET"])(metadata)

    def wrap(app: ASGIApp) -> ASGIApp:
        guarded = BearerAuth(app, verifier=verifier, resource_url=settings.resource_url,
                             metadata_url=metadata_url(settings.resource_url))

        async def dispatch(scope: Scope, receive: Receive, send: Send) -> None:
            path = scope.get("path", "") if scope["type"] in ("http", "websocket") else ""
            if path == mcp_path or path.startswith(mcp_path + "/"):
                await guarded(scope, receive, send)
            else:
                await app(scope, receive, send)

        return dispatch

    return wrap
