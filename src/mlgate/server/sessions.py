"""A per-principal cap on open MCP sessions (streamable HTTP, stateful mode).

The SDK's session manager owns the sessions: it opens them, closes them on ``DELETE`` and
after ``MLGATE_SESSION_IDLE_S`` without a request in flight, and caps their total. Alone,
that total lets one token open sessions until everyone else is locked out. ``SessionCap``
sits between bearer auth (which put the token's identity in ``scope["user"]``) and the SDK
app. It remembers which principal opened each session and refuses a request that would open
one more than ``MLGATE_MAX_SESSIONS_PER_PRINCIPAL`` with ``429`` and a JSON-RPC error saying
what to do; other principals are not affected.

A principal is the token's issuer and subject (an API key's subject is ``apikey:<id>``), or
its client id when it has no subject. Whether a session is still open is asked of the SDK
(``alive``), so a session that ended in any way (DELETE, idle timeout, crash) stops
counting at once. Requests without an identity (``--no-auth``, loopback only) are not capped
here; the SDK's global cap still holds.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import principal_components
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

logger = logging.getLogger("mlgate.sessions")

Principal = tuple[str | None, str]
SESSION_HEADER = b"mcp-session-id"
VERSION_HEADER = b"mcp-protocol-version"
TOO_MANY_SESSIONS = -32029
"""JSON-RPC error code of the 429 (implementation-defined server error range)."""


def principal_of(scope: Scope) -> Principal | None:
    """``(issuer, subject)`` of the request's token (``(issuer, "client:<id>")`` without a subject)."""
    user = scope.get("user")
    if not isinstance(user, AuthenticatedUser):
        return None
    client_id, issuer, subject = principal_components(user.access_token)
    return issuer, subject if subject else f"client:{client_id}"


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key.lower() == name:
            return str(value.decode("latin-1"))
    return None


class SessionCap:
    """ASGI layer: at most ``limit`` open sessions per principal on ``path``."""

    def __init__(
        self, app: ASGIApp, *, path: str, limit: int, idle_s: float, alive: Callable[[str], bool]
    ) -> None:
        self.app, self.path, self.limit, self.idle_s, self.alive = app, path.rstrip("/"), limit, idle_s, alive
        self._owned: dict[Principal, set[str]] = {}
        self._opening: dict[Principal, int] = {}

    def open_sessions(self, principal: Principal) -> int:
        """Sessions of ``principal`` the SDK still has open (forgetting the ones it closed)."""
        owned = self._owned.get(principal)
        if not owned:
            return 0
        owned.intersection_update({sid for sid in owned if self.alive(sid)})
        if not owned:
            del self._owned[principal]
        return len(owned)

    def opens_session(self, scope: Scope) -> bool:
        """A POST without a session id that the SDK would answer by opening a stateful session."""
        if scope["type"] != "http" or scope["method"] != "POST":
            return False
        if scope["path"].rstrip("/") != self.path or _header(scope, SESSION_HEADER) is not None:
            return False
        version = _header(scope, VERSION_HEADER)
        return version is None or version in HANDSHAKE_PROTOCOL_VERSIONS

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        principal = principal_of(scope) if self.opens_session(scope) else None
        if principal is None:
            await self.app(scope, receive, send)
            return
        # no await between counting and reserving: concurrent opens of one principal cannot overshoot
        held = self.open_sessions(principal) + self._opening.get(principal, 0)
        if held >= self.limit:
            logger.warning(
                "refusing a new MCP session: %r already holds %d of %d", principal[1], held, self.limit
            )
            refusal = JSONResponse(
                self._refusal(held), status_code=429, headers={"cache-control": "no-store"}
            )
            await refusal(scope, receive, send)
            return
        self._opening[principal] = self._opening.get(principal, 0) + 1
        opened: list[str] = []

        async def watch(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] < 400:
                for key, value in message.get("headers", []):
                    if bytes(key).lower() == SESSION_HEADER:
                        opened.append(bytes(value).decode("latin-1"))
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            self._opening[principal] -= 1
            if not self._opening[principal]:
                del self._opening[principal]
            for sid in opened:
                if self.alive(sid):  # the SDK keeps only sessions whose opening request succeeded
                    self._owned.setdefault(principal, set()).add(sid)

    def _refusal(self, held: int) -> dict[str, Any]:
        message = (
            f"too many open MCP sessions for this token: {held} of {self.limit}. Reuse an open session "
            f"(send its Mcp-Session-Id header) or close one you no longer need (HTTP DELETE {self.path} with "
            f"its Mcp-Session-Id); sessions idle for {self.idle_s:g} s close by themselves"
        )
        data = {"open_sessions": held, "limit": self.limit, "idle_timeout_s": self.idle_s}
        return {
            "jsonrpc": "2.0",
            "id": None,
            "error": {"code": TOO_MANY_SESSIONS, "message": message, "data": data},
        }
