"""Starting the server on a transport."""

from __future__ import annotations

import logging
import sys

from mlgate.config import Settings
from mlgate.errors import ConfigError

log = logging.getLogger("mlgate")


def _logging() -> None:
    # stdout carries the MCP protocol on stdio: logs go to stderr only.
    logging.basicConfig(
        stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


def serve_stdio(settings: Settings) -> int:
    import anyio

    from mlgate.server.app import build_server
    from mlgate.serving.runtime import Runtime

    _logging()
    runtime = Runtime(settings, transport="stdio")
    server = build_server(runtime)

    async def main() -> None:
        try:
            await server.run_stdio_async()
        finally:
            await runtime.aclose()

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
    from mlgate.server.app import build_server
    from mlgate.serving.runtime import Runtime

    if "resource_url" not in settings.model_fields_set:
        # no canonical URI configured: this listener is it (tokens must name it as their audience)
        shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
        settings = settings.model_copy(update={"resource_url": f"http://{shown}:{port}{MCP_PATH}"})
    runtime = Runtime(settings, transport="http")
    server = build_server(runtime)
    wrap = auth_layer(settings, server, MCP_PATH, no_auth=no_auth, host=host)
    if wrap is None and not is_loopback(host):
        raise ConfigError(
            f"refusing to serve without authentication on {host}: only loopback addresses may run without OAuth "
            "(set MLGATE_AUTH_ISSUER and MLGATE_AUTH_JWKS, or MLGATE_DEV_AUTH=1)"
        )
    app = build_http_app(settings, server, runtime, host=host, port=port, stateless=stateless, wrap=wrap)
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
    try:
        uvicorn.Server(config).run()
    finally:
        import anyio

        if settings.dev_auth and wrap is not None:
            from mlgate.auth.devkeys import forget_running_server

            forget_running_server(settings)
        anyio.run(runtime.aclose)
    return 0
