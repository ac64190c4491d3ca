"""The bearer-token gate in front of the SDK's MCP app, and the RFC 9728 metadata.

``BearerAuth`` is pure ASGI. For every HTTP request it:

1. takes the token from ``Authorization: Bearer`` only (never the query string);
   none, or another scheme → 401 ``Bearer resource_metadata="…", scope="<base_scope>"``
   (``CHALLENGE_SCOPES`` on the product's listener);
2. verifies it (``TokenVerifier``); refused, expired, or not bound to this resource →
   401 ``Bearer error="invalid_token", …``; verification unavailable → 503 (fail closed);
3. with ``required_scope`` (``/metrics``: ``ml:read``), refuses a token without it → 403;
   for a POST, reads the JSON-RPC body (≤ ``max_body``, else 413) and, for each
   ``tools/call`` in it (single message or batch), checks the tool's scope; lacking any →
   403 ``Bearer error="insufficient_scope", scope="<all scopes the request needs>", …``;
4. replays the body to the inner app with the identity where the SDK looks for it:
   ``scope["user"]`` (an ``AuthenticatedUser``, which also binds SDK sessions to it),
   ``scope["auth"]``, and the SDK's ``auth_context_var`` so tool code can call
   ``mcp.server.auth.middleware.auth_context.get_access_token()``.

``OPTIONS`` (CORS preflight, which never carries credentials) and ``lifespan`` pass through.

Every 401 and 403 leaves a ledger row (``refused``, wired to ``serving.audited.refused`` by
``server/security.py``): outcome ``refused``, the token's subject and client when it verified
(a 403), none when it did not (a 401, subject empty), the tool's name when the JSON-RPC body
names one, else ``http`` (``metrics`` for ``/metrics``).
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

from mcp.server.auth.middleware.auth_context import auth_context_var
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken, TokenVerifier
from starlette.authentication import AuthCredentials
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mlgate.auth.caller import Caller
from mlgate.auth.devkeys import effective_issuer
from mlgate.auth.jwks import AuthUnavailable
from mlgate.auth.scopes import BASE_SCOPE, satisfies
from mlgate.config import ALL_SCOPES, Settings
from mlgate.errors import ConfigError, InsufficientScope, InvalidToken, MlgateError
from mlgate.server.app import LEGACY_NAMES, TOOL_SCOPES

logger = logging.getLogger("mlgate.auth")

WELL_KNOWN = "/.well-known/oauth-protected-resource"
MAX_BODY = 4 * 1024 * 1024
RESOURCE_NAME = "mlgate"
CHALLENGE_SCOPES = "ml:read ml:infer"
"""The ``scope`` of the no-token 401 on the product's listener: what a typical agent needs to
list and run models (``BearerAuth``'s own default stays ``BASE_SCOPE``)."""
_B64TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
Refusal = Callable[[str, Caller, MlgateError], None]
"""``(tool, caller, error)``: records one refused request (a ledger row); must not block."""
_NOBODY = Caller("", "", "http", frozenset())  # a request whose token did not verify: no subject


def metadata_path(resource_url: str) -> str:
    """RFC 9728 §3.1: ``https://h/mcp/ml`` → ``/.well-known/oauth-protected-resource/mcp/ml``."""
    parts = urlsplit(resource_url)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.fragment:
        raise ConfigError(
            f"MLGATE_RESOURCE_URL={resource_url!r} must be an absolute http(s) URL without fragment"
        )
    path = parts.path.rstrip("/")
    return WELL_KNOWN + path + (f"?{parts.query}" if parts.query else "")


def metadata_url(resource_url: str) -> str:
    """The absolute URL of the metadata document, as put in ``resource_metadata=``."""
    parts = urlsplit(resource_url)
    return f"{parts.scheme}://{parts.netloc}{metadata_path(resource_url)}"


def protected_resource_metadata(settings: Settings) -> dict[str, Any]:
    """The RFC 9728 document; the issuer is copied byte for byte (no trailing slash added)."""
    doc: dict[str, Any] = {"resource": settings.resource_url}
    issuer = effective_issuer(settings)
    if issuer:
        doc["authorization_servers"] = [issuer]
    doc["scopes_supported"] = list(ALL_SCOPES)
    doc["bearer_methods_supported"] = ["header"]
    doc["resource_name"] = RESOURCE_NAME
    return doc


def metadata_route(settings: Settings) -> Route:
    """``GET /.well-known/oauth-protected-resource/<resource path>``, no auth, CORS open."""
    doc = protected_resource_metadata(settings)
    headers = {"access-control-allow-origin": "*", "cache-control": "public, max-age=3600"}

    async def endpoint(request: Request) -> JSONResponse:
        return JSONResponse(doc, headers=headers)

    return Route(
        metadata_path(settings.resource_url), endpoint, methods=["GET"], name="oauth-protected-resource"
    )


def ordered(scopes: Iterable[str]) -> list[str]:
    """Scopes in the canonical order of ``ALL_SCOPES`` (unknown ones last, sorted)."""
    rank = {s: i for i, s in enumerate(ALL_SCOPES)}
    return sorted(set(scopes), key=lambda s: (rank.get(s, len(rank)), s))


# the first release's dotted names need the same scope as their canonical names
HTTP_TOOL_SCOPES: dict[str, str] = {
    **TOOL_SCOPES,
    **{old: TOOL_SCOPES[new] for old, new in LEGACY_NAMES.items()},
}


class _BodyTooLarge(Exception):
    pass


class _Disconnected(Exception):
    pass


class BearerAuth:
    def __init__(
        self,
        app: ASGIApp,
        *,
        verifier: TokenVerifier,
        resource_url: str,
        metadata_url: str,
        tool_scopes: Mapping[str, str] = HTTP_TOOL_SCOPES,
        base_scope: str = BASE_SCOPE,
        max_body: int = MAX_BODY,
        required_scope: str | None = None,
        refused: Refusal | None = None,
    ) -> None:
        self.app, self.verifier, self.required_scope = app, verifier, required_scope
        self.refused = refused
        self.resource_url, self.metadata_url = resource_url, metadata_url
        self.tool_scopes, self.base_scope, self.max_body = tool_scopes, base_scope, max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan" or (scope["type"] == "http" and scope["method"] == "OPTIONS"):
            await self.app(scope, receive, send)
            return
        if scope["type"] != "http":
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008})
            return
        values = [v for k, v in scope["headers"] if k.lower() == b"authorization"]
        if len(values) > 1:
            await self._challenge(send, 400, "invalid_request", "send one Authorization header")
            return
        scheme, _, token = values[0].decode("latin-1").strip().partition(" ") if values else ("", "", "")
        if scheme.lower() != "bearer":
            self._record(
                scope, _NOBODY, InvalidToken("no bearer token", "send Authorization: Bearer <token>")
            )
            await self._challenge(send, 401, None, "a bearer token is required")
            return
        token = token.strip()
        try:
            access = await self._verify(token) if _B64TOKEN.fullmatch(token) else None
        except AuthUnavailable as exc:
            logger.warning("token verification unavailable, answering 503: %s", exc)
            await self._unavailable(send)
            return
        if access is None:
            self._record(scope, _NOBODY, InvalidToken("the bearer token was refused", "get a new token"))
            await self._challenge(
                send, 401, "invalid_token", "the access token is invalid, expired or not for this resource"
            )
            return
        if self.required_scope and not satisfies(access.scopes, self.required_scope):
            need = self.required_scope
            logger.info("insufficient scope: %s needs %s; client %s", scope["path"], need, access.client_id)
            self._record(scope, _caller(access), InsufficientScope(scope["path"], need))
            await self._challenge(
                send, 403, "insufficient_scope", f"this needs the scope {need}", scope=[need]
            )
            return
        if scope["method"] == "POST":
            replay = await self._check_body(scope, receive, send, access)
            if replay is None:
                return
            receive = replay
        user = AuthenticatedUser(access)
        inner = dict(scope, user=user, auth=AuthCredentials(access.scopes))
        reset = auth_context_var.set(user)
        try:
            await self.app(inner, receive, send)
        finally:
            auth_context_var.reset(reset)

    def _record(self, scope: Scope, caller: Caller, error: MlgateError, tool: str | None = None) -> None:
        if self.refused is None:
            return
        if tool is None:
            tool = "metrics" if self.required_scope else "http"
        try:
            self.refused(tool, caller, error)
        except Exception:  # the refusal is answered all the same; the operator's log says why no row
            logger.exception("the ledger row of a refused request could not be written (%s)", scope["path"])

    async def _verify(self, token: str) -> AccessToken | None:
        """The token's identity, or None when refused; ``AuthUnavailable`` when no one can tell."""
        try:
            access = await self.verifier.verify_token(token)
        except AuthUnavailable:
            raise
        except Exception as exc:
            logger.exception("token verifier failed")
            raise AuthUnavailable(f"verifier error: {exc.__class__.__name__}") from exc
        if access is None:
            return None
        if access.expires_at is not None and access.expires_at < int(time.time()):
            logger.info("bearer token refused: expired (client %s)", access.client_id)
            return None
        if access.resource != self.resource_url:
            logger.info("bearer token refused: resource %r is not %r", access.resource, self.resource_url)
            return None
        return access

    async def _check_body(
        self, scope: Scope, receive: Receive, send: Send, access: AccessToken
    ) -> Receive | None:
        """The replaying ``receive`` when the body may go on; None once a response was sent."""
        try:
            body = await self._read_body(scope, receive)
        except _BodyTooLarge:
            await _json(send, 413, _rpc_error(-32600, f"request body larger than {self.max_body} bytes"))
            return None
        except _Disconnected:
            return None
        try:
            needed = self.scopes_needed(body)
        except (ValueError, RecursionError):
            await _json(send, 400, _rpc_error(-32700, "Parse error: the body is not JSON"))
            return None
        missing = [s for s in needed if not satisfies(access.scopes, s)]
        if missing:
            tools = ", ".join(sorted(needed[s] for s in missing))
            logger.info(
                "insufficient scope: %s needs %s; client %s has %s",
                tools,
                missing,
                access.client_id,
                access.scopes,
            )
            for s in missing:
                self._record(scope, _caller(access), InsufficientScope(needed[s], s), tool=needed[s])
            description = f"{tools} needs the scope {' '.join(ordered(missing))}"
            await self._challenge(send, 403, "insufficient_scope", description, scope=ordered(needed))
            return None
        return _replaying(body, receive)

    def scopes_needed(self, body: bytes) -> dict[str, str]:
        """``{scope: tool}`` for the ``tools/call`` messages of a JSON-RPC body (or batch)."""
        if not body.strip():
            return {}
        doc = json.loads(body)
        needed: dict[str, str] = {}
        for message in doc if isinstance(doc, list) else [doc]:
            if not isinstance(message, dict) or message.get("method") != "tools/call":
                continue
            params = message.get("params")
            name = params.get("name") if isinstance(params, dict) else None
            if isinstance(name, str) and name in self.tool_scopes:
                needed.setdefault(self.tool_scopes[name], name)
        return needed

    async def _read_body(self, scope: Scope, receive: Receive) -> bytes:
        for key, value in scope["headers"]:
            if key.lower() == b"content-length" and value.strip().isdigit() and int(value) > self.max_body:
                raise _BodyTooLarge
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _Disconnected
            body += message.get("body", b"")
            if len(body) > self.max_body:
                raise _BodyTooLarge
            if not message.get("more_body", False):
                return bytes(body)

    async def _challenge(
        self, send: Send, status: int, error: str | None, description: str, *, scope: list[str] | None = None
    ) -> None:
        if error is None:  # RFC 6750 §3.1: no error code when no credentials were sent
            params = [("resource_metadata", self.metadata_url), ("scope", self.base_scope)]
        else:
            params = [("error", error)]
            if scope:
                params.append(("scope", " ".join(scope)))
            params += [("resource_metadata", self.metadata_url), ("error_description", description)]
        header = "Bearer " + ", ".join(f'{k}="{_quote(v)}"' for k, v in params)
        payload = {"error": error or "unauthorized", "error_description": description}
        await _json(send, status, payload, [(b"www-authenticate", header.encode("latin-1", "replace"))])

    async def _unavailable(self, send: Send) -> None:
        payload = {
            "error": "temporarily_unavailable",
            "error_description": "token verification is unavailable",
        }
        await _json(send, 503, payload, [(b"retry-after", b"5")])


def _caller(access: AccessToken) -> Caller:
    """The verified token's identity, as ``tools.context.caller_of`` reads it inside a tool call."""
    return Caller(access.subject or access.client_id, access.client_id, "http", frozenset(access.scopes))


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def _rpc_error(code: int, message: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": None, "error": {"code": code, "message": message}}


async def _json(
    send: Send, status: int, payload: dict[str, Any], headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    body = json.dumps(payload).encode()
    start: Message = {
        "type": "http.response.start",
        "status": status,
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"cache-control", b"no-store"),
            *(headers or []),
        ],
    }
    await send(start)
    await send({"type": "http.response.body", "body": body})


def _replaying(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that yields ``body`` once, then defers to the real one (disconnects)."""
    pending = True

    async def replay() -> Message:
        nonlocal pending
        if pending:
            pending = False
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
