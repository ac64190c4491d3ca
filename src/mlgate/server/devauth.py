"""The development authorization server's HTTP endpoints (``MLGATE_DEV_AUTH=1``, loopback only).

    GET  /.well-known/oauth-authorization-server   RFC 8414 metadata
    POST /oauth/register                           RFC 7591 dynamic client registration
    GET  /oauth/authorize                          validates the request, shows the consent page
    POST /oauth/authorize                          Approve → 302 with ``code``; Deny → ``access_denied``
    POST /oauth/token                              authorization_code (+ PKCE), refresh_token, client_credentials

The issuer is the origin of ``MLGATE_RESOURCE_URL``, which the protected-resource metadata
names, so a client's discovery runs 401 → PRM → these endpoints → a token for ``/mcp/ml``.
Every endpoint answers loopback peers only (403 otherwise), and only requests whose Host and
Origin are on the listener's allow-list (the one ``/mcp/ml`` enforces, ``http.transport_security``):
a page that rebinds its own DNS name to 127.0.0.1 sends its own Host and is refused (421/403).
Registration takes a JSON body only (``Content-Type: application/json``: a browser cannot send
that cross-origin without a preflight nobody answers), and never grants ``ml:admin``: an operator
mints admin tokens with ``mlgate token --scope ml:admin``. The consent form carries a
one-time nonce the GET issued (a page on another origin cannot read it) and the page may
not be framed. The OAuth work itself is authlib's (``devauth_server``).
"""

from __future__ import annotations

import html
import json
import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from mcp.server.transport_security import TransportSecuritySettings
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from mlgate.config import Settings
from mlgate.server.devauth_requests import BodyRequest, FormRequest, requested_resource
from mlgate.server.devauth_server import (
    AUTHORIZE_PATH,
    DEV_SUBJECT,
    METADATA_PATH,
    REGISTER_PATH,
    TOKEN_PATH,
    DevAuthorizationServer,
)
from mlgate.server.devauth_store import PendingConsent
from mlgate.server.http import is_loopback, transport_security

logger = logging.getLogger("mlgate.auth")

Endpoint = Callable[[Request], Awaitable[Response]]
SCOPE_TEXT = {
    "ml:read": "list models and read their metadata, metrics, drift and serving status",
    "ml:infer": "run the models (predict, classify, forecast, segment, analyze) and skills",
    "ml:manage": "pull, compile, register, promote, roll back and retrain models",
    "ml:halt": "halt and resume serving",
    "ml:audit": "read the audit ledger: who called which tool on which model, and the outcome",
    "ml:admin": "everything above, including forced promotions",
}
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
}


def dev_auth_routes(settings: Settings, security: TransportSecuritySettings | None = None) -> list[Route]:
    """The routes of a fresh in-memory dev authorization server for ``settings``, behind the Host/Origin
    allow-list ``security`` (default: the one of a listener at ``MLGATE_RESOURCE_URL``)."""
    server = DevAuthorizationServer(settings)
    if security is None:
        url = urlsplit(settings.resource_url)
        security = transport_security(settings, url.hostname or "127.0.0.1", url.port or 80)

    async def metadata(_: Request) -> Response:
        return JSONResponse(
            server.metadata(), headers={"Access-Control-Allow-Origin": "*", "Cache-Control": "max-age=300"}
        )

    async def register(request: Request) -> Response:
        media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if media != "application/json":
            return _oauth_error(
                415, "invalid_request", "send the client metadata as JSON (Content-Type: application/json)"
            )
        try:
            data = json.loads(await request.body() or b"null")
        except ValueError:
            data = None
        if not isinstance(data, dict):
            return JSONResponse(
                {
                    "error": "invalid_client_metadata",
                    "error_description": "send the client metadata as a JSON object",
                },
                status_code=400,
            )
        body = BodyRequest(request.method, str(request.url), request.headers, data)
        response: Response = server.create_endpoint_response("client_registration", body)
        return response

    async def token(request: Request) -> Response:
        response: Response = server.create_token_response(await _form_request(server, request))
        return response

    async def authorize(request: Request) -> Response:
        if request.method == "POST":
            return await _decide(server, request)
        oauth = await _form_request(server, request)
        try:
            grant = server.get_consent_grant(oauth, end_user=DEV_SUBJECT)
        except Exception as error:  # authlib's OAuth2Error: back to the client when its redirect is known
            return _authorize_error(server, oauth, error)
        nonce = secrets.token_urlsafe(24)
        client = grant.client
        server.store.consents.put(
            nonce,
            PendingConsent(
                params=list(request.query_params.multi_items()),
                client_name=client.client_name,
                scope=oauth.scope or "",
                resource=requested_resource(oauth, server.resource),
            ),
        )
        return HTMLResponse(
            _consent_page(nonce, client.client_name, oauth.scope or "", server.resource, grant.redirect_uri),
            headers=PAGE_HEADERS,
        )

    routes = [
        Route(METADATA_PATH, metadata, methods=["GET"]),
        Route(REGISTER_PATH, register, methods=["POST"]),
        Route(AUTHORIZE_PATH, authorize, methods=["GET", "POST"]),
        Route(TOKEN_PATH, token, methods=["POST"]),
    ]
    return [
        Route(
            r.path,
            _guarded(r.endpoint, security, consent=r.path == AUTHORIZE_PATH),
            methods=sorted(r.methods or []),
        )
        for r in routes
    ]


async def _decide(server: DevAuthorizationServer, request: Request) -> Response:
    """The consent form's answer: the pending request it names, approved or denied, once."""
    origin = request.headers.get("origin")
    if origin not in (None, "null", server.issuer):
        return _page(403, "Refused", f"the consent form was posted from {origin}, not from {server.issuer}.")
    form = await request.form()
    nonce, decision = form.get("nonce"), form.get("decision")
    pending = server.store.take_consent(nonce) if isinstance(nonce, str) else None
    if pending is None:
        return _page(
            400,
            "This consent form has expired",
            "It was already answered, or it is too old, or the server restarted. "
            "Start the sign-in again from your client.",
        )
    if decision not in ("approve", "deny"):
        return _page(400, "No decision", "Press Approve or Deny.")
    oauth = FormRequest("GET", f"{server.issuer}{AUTHORIZE_PATH}", request.headers, pending.params, [])
    try:
        grant = server.get_consent_grant(oauth, end_user=DEV_SUBJECT)
    except Exception as error:
        return _authorize_error(server, oauth, error)
    logger.info(
        "dev authorization server: %s %s for scope %r",
        "approved" if decision == "approve" else "denied",
        pending.client_name,
        pending.scope,
    )
    user = DEV_SUBJECT if decision == "approve" else None
    response: Response = server.create_authorization_response(oauth, grant_user=user, grant=grant)
    return response


def _authorize_error(server: DevAuthorizationServer, oauth: FormRequest, error: Exception) -> Response:
    from authlib.oauth2.rfc6749 import OAuth2Error

    if not isinstance(error, OAuth2Error):
        raise error
    if error.redirect_uri:
        response: Response = server.handle_error_response(oauth, error)
        return response
    return _page(
        400,
        f"Authorization request refused: {error.error}",
        f"{error.description or error.error}. Fix the client's request and start again.",
    )


async def _form_request(server: DevAuthorizationServer, request: Request) -> FormRequest:
    form: list[tuple[str, str]] = []
    if request.method == "POST":
        parsed = await request.form()
        form = [(k, v) for k, v in parsed.multi_items() if not isinstance(v, UploadFile)]
    # the URI authlib sees is the issuer's (the Host header a client sent is not trusted for it)
    return FormRequest(
        request.method,
        server.issuer + request.url.path,
        request.headers,
        list(request.query_params.multi_items()),
        form,
    )


def _oauth_error(status: int, error: str, description: str) -> JSONResponse:
    return JSONResponse({"error": error, "error_description": description}, status_code=status)


def _listed(value: str, allowed: list[str]) -> bool:
    """``value`` is on the allow-list: exactly, or under a ``name:*`` (any port) entry, as on ``/mcp/ml``."""
    return value in allowed or any(a.endswith(":*") and value.startswith(a[:-1]) for a in allowed)


def _foreign(request: Request, security: TransportSecuritySettings, *, consent: bool) -> str | None:
    """What is not this listener's about the request (its Host, its Origin), or None."""
    host, origin = request.headers.get("host", ""), request.headers.get("origin")
    if not _listed(host, security.allowed_hosts):
        return "Host"
    if origin and not (consent and origin == "null") and not _listed(origin, security.allowed_origins):
        return "Origin"
    return None


def _guarded(endpoint: Callable[..., Any], security: TransportSecuritySettings, *, consent: bool) -> Endpoint:
    """Loopback peers only, with a Host and an Origin on the listener's allow-list. ``consent``: the
    consent form's POST may carry ``Origin: null`` (its page sends no referrer; its nonce guards it)."""

    async def guarded(request: Request) -> Response:
        peer = request.client.host if request.client else ""
        if not is_loopback(peer):
            logger.warning("dev authorization server: refused a request from %s", peer)
            return _oauth_error(
                403, "access_denied", "the development authorization server answers loopback clients only"
            )
        foreign = _foreign(request, security, consent=consent)
        if foreign is not None:
            logger.warning(
                "dev authorization server: refused Host %r / Origin %r (not this listener's)",
                request.headers.get("host"),
                request.headers.get("origin"),
            )
            return _oauth_error(
                421 if foreign == "Host" else 403,
                "access_denied",
                f"the {foreign} of this request is not this server's (a name of your own: "
                "MLGATE_ALLOWED_HOSTS, or MLGATE_CORS_ORIGINS for a browser client)",
            )
        response: Response = await endpoint(request)
        return response

    return guarded


def _page(status: int, title: str, text: str) -> HTMLResponse:
    body = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title></head>"
        f"<body style='font-family:sans-serif;max-width:40em;margin:3em auto'><h1>{html.escape(title)}</h1>"
        f"<p>{html.escape(text)}</p></body></html>"
    )
    return HTMLResponse(body, status_code=status, headers=PAGE_HEADERS)


def _consent_page(nonce: str, client_name: str, scope: str, resource: str, redirect_uri: str | None) -> str:
    esc = html.escape
    items = (
        "".join(
            f"<li><code>{esc(s)}</code> — {esc(SCOPE_TEXT.get(s, 'unknown scope'))}</li>"
            for s in scope.split()
        )
        or "<li>no scopes (the client's registered default)</li>"
    )
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>Authorize {esc(client_name)} — mlgate (development)</title></head>
<body style="font-family:sans-serif;max-width:40em;margin:3em auto">
<h1>Authorize <em>{esc(client_name)}</em>?</h1>
<p>This is mlgate's <strong>development</strong> authorization server (MLGATE_DEV_AUTH). The client asks for
a token for the resource <code id="resource">{esc(resource)}</code> with these scopes:</p>
<ul id="scopes">{items}</ul>
<p>After your answer the browser returns to <code>{esc(redirect_uri or "")}</code>.</p>
<form method="post" action="{AUTHORIZE_PATH}">
<input type="hidden" name="nonce" value="{esc(nonce)}">
<button type="submit" name="decision" value="approve">Approve</button>
<button type="submit" name="decision" value="deny">Deny</button>
</form></body></html>"""
