"""An MCP SDK client of a spawned server over streamable HTTP with a bearer token, in a thread and an event loop of
its own (away from Playwright's): one tool call, or calls repeated in the background."""

from __future__ import annotations

import threading
from typing import Any, Protocol


class Server(Protocol):
    """What these clients need of a server: its MCP URL (the console's ``Console``, the views' ``Gate``)."""

    @property
    def mcp(self) -> str: ...


def mcp_call(server: Server, token: str, tool: str, args: dict[str, Any]) -> tuple[bool, Any]:
    """One tool call by an MCP SDK client over streamable HTTP (in its own thread and event loop, away
    from Playwright's): (is_error, error text or structured result)."""
    out: dict[str, Any] = {}

    def run() -> None:
        import anyio
        import httpx2
        from mcp import Client
        from mcp.client.streamable_http import streamable_http_client

        async def go() -> None:
            async with (
                httpx2.AsyncClient(headers={"authorization": f"Bearer {token}"}, timeout=60) as http,
                Client(streamable_http_client(server.mcp, http_client=http)) as client,
            ):
                result = await client.call_tool(tool, args)
                text = " ".join(getattr(c, "text", "") for c in result.content)
                out["value"] = (result.is_error, text if result.is_error else result.structured_content)

        anyio.run(go)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(90)
    return out["value"]


def traffic(
    server: Server, token: str, seconds: float, calls: list[tuple[str, dict[str, Any]]]
) -> threading.Thread:
    """A background MCP client that repeats ``calls`` for ``seconds`` (one session): load for the charts."""

    def run() -> None:
        import time

        import anyio
        import httpx2
        from mcp import Client
        from mcp.client.streamable_http import streamable_http_client

        async def go() -> None:
            async with (
                httpx2.AsyncClient(headers={"authorization": f"Bearer {token}"}, timeout=60) as http,
                Client(streamable_http_client(server.mcp, http_client=http)) as client,
            ):
                end = time.monotonic() + seconds
                while time.monotonic() < end:
                    for tool, args in calls:
                        await client.call_tool(tool, args)
                    await anyio.sleep(0.05)

        anyio.run(go)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread
