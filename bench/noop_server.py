"""The baseline: the MCP SDK's smallest structured tool, served on the same transports as mlgate.

python bench/noop_server.py stdio | python bench/noop_server.py http PORT [--sessions]

``http``: stateless JSON (what ``mlgate serve --http --stateless`` does); with ``--sessions`` the
SDK's default, a session per client and each answer on an event stream (what ``mlgate serve --http`` does).
"""

from __future__ import annotations

import sys

from mcp.server.mcpserver import MCPServer
from pydantic import BaseModel


class Echo(BaseModel):
    ok: bool


server: MCPServer[object] = MCPServer("noop")


@server.tool(name="noop")
def noop(model: str, features: list[dict[str, float]]) -> Echo:
    """Does nothing: the cost of the protocol alone."""
    return Echo(ok=True)


if __name__ == "__main__":
    if sys.argv[1] == "stdio":
        server.run("stdio")
    else:
        import uvicorn

        stateless = "--sessions" not in sys.argv
        app = server.streamable_http_app(
            streamable_http_path="/mcp", json_response=stateless, stateless_http=stateless
        )
        uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning")
