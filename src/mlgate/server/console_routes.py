"""``/console``: the operator console's static files, shipped in the package (``server/console/``).

The page is an MCP client: every read and action is a tool call to ``/mcp/ml`` with the
operator's own bearer token (authorization code + PKCE from the authorization server the
protected-resource metadata names, or a pasted token), so scopes, halts and the ledger apply
as for any agent. These routes serve files only and need no token; nothing here reads or
changes state. The Content-Security-Policy allows this origin alone and no inline script; the
one exception is ``connect-src`` for the authorization server's origin (``MLGATE_AUTH_ISSUER``),
which the sign-in must reach (its metadata, registration and token endpoints need CORS for the
console's origin).

What the page must agree on with the server is not copied into the JavaScript: ``index.html`` is a
template whose ``<meta name="mlgate-config">`` carries ``page_values()`` (the MCP protocol version
the console offers at ``initialize``, the scope names from ``mlgate.config.ALL_SCOPES``), and
``js/config.js`` reads it. The MCP Apps views get the same values the same way (``apps.py``).
"""

from __future__ import annotations

import html
import json
from collections.abc import Awaitable, Callable
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from mlgate.auth.devkeys import effective_issuer
from mlgate.config import ALL_SCOPES, Settings

CONSOLE_PATH = "/console"
CONFIG_PLACEHOLDER = (
    "{{config}}"  # in index.html and the views' templates: the content of the mlgate-config meta
)
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src {connect}; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",  # the authorization code in the URL goes nowhere
    "Cache-Control": "no-cache",
}
TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}


def _asset(name: str) -> bytes | None:
    """The bytes of ``console/<name>``, or None for anything that is not a shipped file."""
    parts = name.split("/")
    if not name or any(p in ("", ".", "..") or p.startswith(".") for p in parts):
        return None
    node = resources.files("mlgate.server").joinpath("console", *parts)
    if not node.is_file() or not any(name.endswith(ext) for ext in TYPES):
        return None
    return node.read_bytes()


def page_values(**extra: Any) -> dict[str, Any]:
    """What the console's and the views' scripts read from the page (``js/config.js``): the protocol
    version to offer at ``initialize`` (the newest the MCP SDK negotiates by that handshake), every
    scope in the order the sign-in lists them, and each by its short name (``scope.halt``)."""
    from mcp_types.version import LATEST_HANDSHAKE_VERSION

    return {
        "protocolVersion": LATEST_HANDSHAKE_VERSION,
        "scopes": list(ALL_SCOPES),
        "scope": {name.split(":", 1)[-1]: name for name in ALL_SCOPES},
        **extra,
    }


def with_values(page: str, values: dict[str, Any]) -> str:
    """``page`` with its ``{{config}}`` placeholder (an attribute value) replaced by ``values`` as JSON."""
    if CONFIG_PLACEHOLDER not in page:
        raise ValueError(f"the page has no {CONFIG_PLACEHOLDER} placeholder for its mlgate-config meta")
    return page.replace(
        CONFIG_PLACEHOLDER, html.escape(json.dumps(values, separators=(",", ":")), quote=True)
    )


def policy(settings: Settings) -> str:
    """The CSP: this origin, plus the authorization server's origin for ``connect-src`` when it is another."""
    connect = ["'self'"]
    issuer = effective_issuer(settings)
    parts = urlsplit(issuer or "")
    if parts.scheme in ("http", "https") and parts.netloc and not settings.dev_auth:
        connect.append(f"{parts.scheme}://{parts.netloc}")
    return CSP.format(connect=" ".join(connect))


def console_routes(settings: Settings) -> list[Route]:
    headers = {**HEADERS, "Content-Security-Policy": policy(settings)}
    page = with_values((_asset("index.html") or b"").decode(), page_values()).encode()

    async def index(request: Request) -> Response:
        if not request.url.path.endswith("/"):  # relative module paths resolve under /console/
            query = f"?{request.url.query}" if request.url.query else ""
            return RedirectResponse(CONSOLE_PATH + "/" + query, status_code=307, headers=headers)
        return Response(page, media_type=TYPES[".html"], headers=headers)

    async def file(request: Request) -> Response:
        name = str(request.path_params["name"])
        body = page if name == "index.html" else _asset(name)
        if body is None:
            return Response("not found", status_code=404, media_type="text/plain", headers=headers)
        return Response(body, media_type=TYPES["." + name.rsplit(".", 1)[-1]], headers=headers)

    endpoints: list[tuple[str, Callable[[Request], Awaitable[Response]]]] = [
        (CONSOLE_PATH, index),
        (CONSOLE_PATH + "/", index),
        (CONSOLE_PATH + "/{name:path}", file),
    ]
    return [Route(path, endpoint, methods=["GET"]) for path, endpoint in endpoints]
