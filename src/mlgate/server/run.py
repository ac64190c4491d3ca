"""Starting the server on a transport."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import sys
from collections.abc import Coroutine, Iterator
from typing import TYPE_CHECKING, Any

from mlgate.config import Settings
from mlgate.errors import ConfigError

if TYPE_CHECKING:
    import uvicorn

    from mlgate.compose import App
    from mlgate.serving.runtime import Runtime
    from mlgate.serving.warmup import Warmup

log = logging.getLogger("mlgate")


def _logging() -> None:
    # stdout carries the MCP protocol on stdio: logs go to stderr only.
    logging.basicConfig(
        stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


def serve_stdio(settings: Settings) -> int:
    """``initialize`` is answered before the server is imported and built (server/front.py); the warm-up
    starts once the client has been answered, and never delays that answer."""
    import anyio

    from mlgate.server.front import SILENT_CLIENT_S, Front

    _logging()
    from mlgate import telemetry

    telemetry.setup(settings)
    apps: list[App] = []

    def build() -> Any:
        from mlgate.compose import build_runtime
        from mlgate.server.app import build_server

        apps.append(build_runtime(settings, transport="stdio"))
        return build_server(apps[0])

    async def warm(front: Front) -> None:
        with anyio.move_on_after(SILENT_CLIENT_S):
            await front.taken_over.wait()
        await front.ready()
        from mlgate.server.steady import warm_then_settle
        from mlgate.serving.warmup import Warmup

        await warm_then_settle(Warmup(apps[0].runtime).run)

    async def main() -> None:
        try:
            await Front(build).serve(after=warm)
        finally:
            for app in apps:
                await app.aclose()

    anyio.run(main)
    return 0


def _print_dev_token(settings: Settings) -> None:
    """Dev auth: a ready-to-paste token with every scope, and a client configuration using it."""
    import json

    from mlgate.auth.devkeys import mint_token
    from mlgate.config import ALL_SCOPES

    token = mint_token(settings, [s for s in ALL_SCOPES if s != "ml:admin"], ttl=12 * 3600, subject="dev")
    config = {
        "servers": {
            "mlgate": {
                "type": "http",
                "url": settings.resource_url,
                "headers": {"Authorization": f"Bearer {token}"},
            }
        }
    }
    print(
        "\ndevelopment token (12 h, every scope but ml:admin; mint others with `mlgate token --scope …`):",
        file=sys.stderr,
    )
    print(token, file=sys.stderr)
    print(
        "\nclient configuration (VS Code .vscode/mcp.json; other clients take the same url and header):",
        file=sys.stderr,
    )
    print(json.dumps(config, indent=2) + "\n", file=sys.stderr, flush=True)


def serve_http(settings: Settings, *, host: str, port: int, stateless: bool, no_auth: bool) -> int:
    import uvicorn

    from mlgate.server.http import MCP_PATH, build_http_app, is_loopback
    from mlgate.server.security import auth_layer

    _logging()
    from mlgate.compose import build_runtime
    from mlgate.server.app import build_server
    from mlgate.serving.warmup import Warmup

    if "resource_url" not in settings.model_fields_set:
        # no canonical URI configured: this listener is it (tokens must name it as their audience)
        shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
        settings = settings.model_copy(update={"resource_url": f"http://{shown}:{port}{MCP_PATH}"})
    from mlgate import telemetry

    telemetry.setup(settings)
    graph = build_runtime(settings, transport="http")
    runtime = graph.runtime
    server = build_server(graph)
    wrap = auth_layer(settings, server, MCP_PATH, no_auth=no_auth, host=host, port=port)
    if wrap is None and not is_loopback(host):
        raise ConfigError(
            f"refusing to serve without authentication on {host}: only loopback addresses may run without OAuth "
            "(set MLGATE_AUTH_ISSUER and MLGATE_AUTH_JWKS, or MLGATE_DEV_AUTH=1)"
        )
    warmup = Warmup(runtime)
    app = build_http_app(
        settings, server, runtime, host=host, port=port, stateless=stateless, wrap=wrap, warmup=warmup
    )
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    print(f"mlgate MCP endpoint: http://{shown}:{port}{MCP_PATH}", file=sys.stderr, flush=True)
    if wrap is not None:
        from mlgate.server.bearer import metadata_url

        print(
            f"protected-resource metadata: {metadata_url(settings.resource_url)}", file=sys.stderr, flush=True
        )
        print(f"tokens must carry aud={settings.resource_url}", file=sys.stderr, flush=True)
        if settings.dev_auth:
            from mlgate.auth.devkeys import effective_issuer, record_running_server

            # `mlgate token` follows this URL when MLGATE_RESOURCE_URL is unset
            record_running_server(settings)
            if is_loopback(host) and not settings.auth_issuer:
                print(
                    f"development authorization server: {effective_issuer(settings)}"
                    "/.well-known/oauth-authorization-server",
                    file=sys.stderr,
                    flush=True,
                )
            _print_dev_token(settings)
    else:
        print("authentication: off (loopback only)", file=sys.stderr, flush=True)
    config = uvicorn.Config(
        app, host=host, port=port, log_level="warning", lifespan="on", timeout_graceful_shutdown=5
    )
    side = _metrics_listener(settings, runtime)
    try:
        main = uvicorn.Server(config)
        serving = main.serve() if side is None else _serve_both(main, *side)
        with asyncio.Runner(loop_factory=config.get_loop_factory()) as runner:  # what Server.run does
            runner.run(_warming(warmup, serving))
    finally:
        import anyio

        if settings.dev_auth and wrap is not None:
            from mlgate.auth.devkeys import forget_running_server

            forget_running_server(settings)
        anyio.run(runtime.aclose)
    return 0


async def _warming(warmup: Warmup, serving: Coroutine[Any, Any, None]) -> None:
    """Serve, with the warm-up running beside it on the same event loop (the model cache's)."""
    from mlgate.server.steady import warm_then_settle

    task = asyncio.create_task(warm_then_settle(warmup.run), name="mlgate-warmup")
    try:
        await serving
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def parse_addr(addr: str) -> tuple[str, int]:
    """``host:port`` or ``[v6]:port`` → (host, port); a clear error otherwise."""
    host, sep, port = addr.strip().rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"MLGATE_METRICS_ADDR={addr!r} must be host:port, e.g. 127.0.0.1:9464")
    return host, int(port)


def _metrics_listener(settings: Settings, runtime: Runtime) -> tuple[uvicorn.Server, socket.socket] | None:
    """With ``MLGATE_METRICS_ADDR``: an unauthenticated ``/metrics`` server and its bound socket."""
    if not settings.metrics_addr:
        return None
    import uvicorn

    from mlgate.server.http import is_loopback, metrics_app

    host, port = parse_addr(settings.metrics_addr)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigError(f"cannot listen on MLGATE_METRICS_ADDR={settings.metrics_addr}: {exc}") from None
    shown = f"[{host}]" if family == socket.AF_INET6 else host
    print(f"metrics (no auth): http://{shown}:{port}/metrics", file=sys.stderr, flush=True)
    if not is_loopback(host):
        log.warning("metrics listener on %s answers without a token: keep it on an internal network", host)
    config = uvicorn.Config(metrics_app(runtime), log_level="warning", lifespan="off")
    return _side_server(config), sock


def _side_server(config: uvicorn.Config) -> uvicorn.Server:
    """A uvicorn server that leaves the signals to the main one (which stops it on exit)."""
    import uvicorn

    class Side(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield

    return Side(config)


async def _serve_both(main: uvicorn.Server, side: uvicorn.Server, sock: socket.socket) -> None:
    task = asyncio.create_task(side.serve(sockets=[sock]))
    try:
        await main.serve()
    finally:
        side.should_exit = True
        await task
