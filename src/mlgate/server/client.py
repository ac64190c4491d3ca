"""``mlgate call``: one tool call through the real MCP client, stdio or HTTP."""

from __future__ import annotations

import os
import sys
from typing import Any


def call_tool(
    tool: str, arguments: dict[str, Any], *, url: str | None = None, token: str | None = None
) -> tuple[bool, Any]:
    import anyio

    return anyio.run(_call, tool, arguments, url, token)


async def _call(tool: str, arguments: dict[str, Any], url: str | None, token: str | None) -> tuple[bool, Any]:
    from mcp import Client, StdioServerParameters

    target: Any
    if url:
        target = _http_transport(url, token)
    else:
        target = StdioServerParameters(
            command=sys.executable, args=["-m", "mlgate", "serve"], env=dict(os.environ)
        )
    async with Client(target) as client:
        result = await client.call_tool(tool, arguments)
    if result.is_error:
        text = " ".join(getattr(c, "text", "") for c in result.content)
        return False, {"error": text}
    if result.structured_content is not None:
        return True, result.structured_content
    return True, [c.model_dump(mode="json") for c in result.content]


def _http_transport(url: str, token: str | None) -> Any:
    from mcp.client.streamable_http import streamable_http_client

    headers = {"Authorization": f"Bearer {token}"} if token else None
    import httpx2

    return streamable_http_client(url, http_client=httpx2.AsyncClient(headers=headers, timeout=30))
