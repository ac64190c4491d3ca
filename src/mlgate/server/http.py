"""The HTTP surface: MCP streamable HTTP at ``/mcp/ml``, ``/healthz``, ``/readyz``, ``/metrics``,
``/console``.

``/healthz`` is liveness: 200 while this replica serves (its body says ``ready`` too), 503 only
when it refuses every call. ``/readyz`` is readiness: 200 once the warm-up (``serving/warmup.py``)
has finished and the replica is healthy, 503 before (``"status": "warming"``) — point a load
balancer's or Kubernetes' readiness probe at it, the liveness probe at ``/healthz``.

Without OAuth configured the app serves only on a loopback address (the command line
refuses anything else). The SDK's streamable-HTTP app is mounted as-is; its session
manager runs inside this app's lifespan, closes sessions idle for ``MLGATE_SESSION_IDLE_S``,
and ``SessionCap`` (``sessions.py``) caps the open sessions of each principal.

``/metrics`` on this listener needs a token with ``ml:read`` whenever authentication is on
(``security.auth_layer``); ``metrics_app`` is the unauthenticated one-route app for a
separate address (``MLGATE_METRICS_ADDR``).

Outermost, for the origins in ``MLGATE_CORS_ORIGINS`` only, Starlette's ``CORSMiddleware``
answers preflights (before bearer auth sees them) and exposes the MCP and auth headers. With
``--stateless`` there is no session to stream to: ``GET /mcp/ml`` answers 405.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from mcp.server.mcpserver import MCPServer
from mcp.server.transport_security import TransportSecuritySettings
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from mlgate import __version__
from mlgate.compose import App
from mlgate.config import Settings
from mlgate.server.sessions import SessionCap
from mlgate.serving.runtime import Runtime
from mlgate.serving.warmup import Warmup

MCP_PATH = "/mcp/ml"
CORS_ALLOW_HEADERS = (
    "Authorization",
    "Content-Type",
    "Accept",
    "Mcp-Session-Id",
    "Mcp-Protocol-Version",
    "Last-Event-ID",
    "Mcp-Method",
    "Mcp-Name",
)
CORS_EXPOSE_HEADERS = ("Mcp-Session-Id", "Mcp-Protocol-Version", "WWW-Authenticate")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def transport_security(settings: Settings, host: str, port: int) -> TransportSecuritySettings:
    """Host/Origin allow-list against DNS rebinding: loopback names plus the canonical URI's host."""
    canonical = urlsplit(settings.resource_url)
    hosts = {f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}", f"{host}:{port}"}
    if canonical.netloc:
        hosts.add(canonical.netloc)
    hosts.update(settings.allowed_hosts)  # a public name behind a proxy: MLGATE_ALLOWED_HOSTS
    origins = {f"http://{h}" for h in hosts} | {f"https://{h}" for h in hosts}
    origins.update(o.rstrip("/") for o in settings.cors_origins)  # browsers there send their Origin
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True, allowed_hosts=sorted(hosts), allowed_origins=sorted(origins)
    )


async def unhealthy(runtime: Runtime) -> list[str]:
    """What makes this replica refuse calls now (empty: nothing), decided as a call's checks decide it (a
    late writer or poller is waited for, not reported). Opens nothing that was not open."""
    problems = []
    ledger = runtime.__dict__.get("ledger")  # started on first use: a health check never opens the database
    if ledger is not None:
        await ledger.settled()
        if reason := ledger.health()["reason"]:
            problems.append(f"ledger: {reason}")
    killswitch = runtime.__dict__.get("killswitch")
    if killswitch is not None:
        await killswitch.settled()
        if reason := killswitch.unhealthy_reason():
            problems.append(f"halts: {reason}")
    return problems


def build_http_app(
    settings: Settings,
    server: MCPServer[App],
    runtime: Runtime,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    stateless: bool = False,
    wrap: Callable[[ASGIApp], ASGIApp] | None = None,
    warmup: Warmup | None = None,
) -> ASGIApp:
    """The whole HTTP app. ``wrap`` puts an ASGI layer (bearer auth) in front of everything;
    it decides itself which paths it guards. ``warmup``: the one ``/readyz`` waits for (None: ready)."""

    async def healthz(_: Request) -> Response:
        """Liveness, and why this replica refuses calls when it does: the ledger cannot be written, or
        the halts cannot be read (both fail closed). Public, so reasons carry no paths or URLs."""
        problems = await unhealthy(runtime)
        ready = warmup is None or warmup.ready
        body = {"status": "unavailable" if problems else "ok", "ready": ready, "version": __version__}
        return JSONResponse(
            {**body, "problems": problems} if problems else body, status_code=503 if problems else 200
        )

    async def readyz(_: Request) -> Response:
        """Readiness: the warm-up finished and nothing makes this replica refuse calls."""
        problems = await unhealthy(runtime)
        warm = warmup is None or warmup.ready
        status = "unavailable" if problems else "ready" if warm else "warming"
        body: dict[str, object] = {"status": status, "ready": warm and not problems, "version": __version__}
        if warmup is not None:
            body["warmup"] = warmup.public_status()
        if problems:
            body["problems"] = problems
        return JSONResponse(body, status_code=200 if body["ready"] else 503)

    server.custom_route("/healthz", methods=["GET"])(healthz)
    server.custom_route("/readyz", methods=["GET"])(readyz)
    server.custom_route("/metrics", methods=["GET"])(_metrics_endpoint(runtime))
    from mlgate.server.console_routes import console_routes

    for route in console_routes(settings):  # static files; every read and action is a tool call with a token
        server.custom_route(route.path, methods=["GET"])(route.endpoint)
    app: ASGIApp = server.streamable_http_app(
        streamable_http_path=MCP_PATH,
        json_response=stateless,
        stateless_http=stateless,
        transport_security=transport_security(settings, host, port),
        host=host,
        session_idle_timeout=settings.session_idle_s,
    )
    if stateless:
        app = _no_stream(app, MCP_PATH)
    else:
        live = server.session_manager._server_instances  # the SDK's open sessions, by id (read only)
        app = SessionCap(
            app,
            path=MCP_PATH,
            limit=settings.max_sessions_per_principal,
            idle_s=settings.session_idle_s,
            alive=live.__contains__,
        )
    app = app if wrap is None else wrap(app)
    return with_cors(app, settings.cors_origins)


def _metrics_endpoint(runtime: Runtime) -> Callable[[Request], Awaitable[Response]]:
    async def metrics(request: Request) -> Response:
        body, content_type = runtime.scrape(request.headers.get("accept", ""))
        return Response(body, media_type=content_type, headers={"vary": "accept"})

    return metrics


def metrics_app(runtime: Runtime) -> ASGIApp:
    """``GET /metrics`` alone, without auth: for its own (internal) address, ``MLGATE_METRICS_ADDR``."""
    from starlette.applications import Starlette
    from starlette.routing import Route

    return Starlette(routes=[Route("/metrics", _metrics_endpoint(runtime), methods=["GET"])])


def with_cors(app: ASGIApp, origins: list[str]) -> ASGIApp:
    """``app`` behind CORS for exactly ``origins`` (no layer at all when there are none)."""
    if not origins:
        return app
    from starlette.middleware.cors import CORSMiddleware

    return CORSMiddleware(
        app,
        allow_origins=[o.rstrip("/") for o in origins],
        allow_methods=["GET", "POST", "DELETE", "OPTIONS"],
        allow_headers=list(CORS_ALLOW_HEADERS),
        expose_headers=list(CORS_EXPOSE_HEADERS),
        max_age=600,
    )


def _no_stream(app: ASGIApp, path: str) -> ASGIApp:
    """Stateless: ``GET path`` (the standalone SSE stream) → 405, as the transport spec allows."""

    async def guard(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET" and scope["path"].rstrip("/") == path:
            response = PlainTextResponse(
                "this stateless server opens no event stream: POST JSON-RPC requests",
                status_code=405,
                headers={"Allow": "POST"},
            )
            await response(scope, receive, send)
            return
        await app(scope, receive, send)

    return guard
