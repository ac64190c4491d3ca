"""The baseline: the MCP SDK's smallest structured tool, served on the same transports as mlgate.

python bench/noop_server.py stdio | python bench/noop_server.py http PORT
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

        app = server.streamable_http_app(streamable_http_path="/mcp", json_response=True, stateless_http=True)
        uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning")
