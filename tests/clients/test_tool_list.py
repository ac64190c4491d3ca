"""What every client sees first: ``tools/list``. Names every client accepts, and a size agents can afford.

Claude Desktop and claude.ai withhold all of a server's tools when one name fails
``^[a-zA-Z0-9_-]{1,64}$`` (OpenAI-style function names use the same pattern); the whole listing is sent
to the model with every request, so it must stay small.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from mcp import Client

from mlgate.config import Settings
from mlgate.server.app import build_server
from mlgate.serving.runtime import Runtime

pytestmark = pytest.mark.anyio

NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
MAX_BYTES = 32 * 1024  # the whole listing (the contract's budget)
MODEL_READS = 20 * 1024  # names, descriptions and input schemas: what a model reads


async def listed_tools(settings: Settings) -> list[dict[str, Any]]:
    """The tools array as the server sends it (JSON field names, unset fields left out)."""
    async with Client(build_server(Runtime(settings))) as c:
        tools = (await c.list_tools()).tools
    return [t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in tools]


async def test_every_tool_name_matches_the_clients_pattern(settings: Settings) -> None:
    names = [t["name"] for t in await listed_tools(settings)]
    assert names
    assert [n for n in names if not NAME.match(n)] == [], f"names clients refuse, in {names}"


async def test_tools_list_is_within_the_contract_budget(settings: Settings) -> None:
    """What a model reads (names, descriptions, input schemas) ≤ 20 KB; the whole listing ≤ 32 KB."""
    tools = await listed_tools(settings)

    def size(obj: object) -> int:
        return len(json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode())

    read = [{k: t[k] for k in ("name", "description", "inputSchema") if k in t} for t in tools]
    biggest = sorted(((size(t), t["name"]) for t in tools), reverse=True)[:5]
    assert size(read) <= MODEL_READS, f"what a model reads is {size(read)} bytes; largest tools: {biggest}"
    assert size(tools) <= MAX_BYTES, (
        f"tools/list is {size(tools)} bytes (limit {MAX_BYTES}); largest: {biggest}"
    )


async def test_listing_keeps_result_names_and_drops_what_read_only_tools_do_not_need(
    settings: Settings,
) -> None:
    tools = {t["name"]: t for t in await listed_tools(settings)}
    info = tools["ml_model_info"]
    assert "required" not in info["outputSchema"]
    assert {"model", "interfaces", "features", "metrics"} <= set(info["outputSchema"]["properties"])
    assert info["annotations"] == {"readOnlyHint": True, "openWorldHint": False}
    halt = tools["ml_halt"]["annotations"]
    assert halt["readOnlyHint"] is False and "destructiveHint" in halt and "idempotentHint" in halt
    assert tools["ml_predict"]["inputSchema"]["required"] == ["model", "features"]


async def test_listing_leaves_length_caps_to_the_server_which_still_enforces_them(settings: Settings) -> None:
    tools = {t["name"]: t for t in await listed_tools(settings)}
    assert "maxLength" not in json.dumps(tools)
    assert "default" not in tools["ml_pull"]["inputSchema"]["properties"]["allow_pickle"]
    assert tools["ml_retrain"]["inputSchema"]["properties"]["holdout"]["default"] == 0.2
    async with Client(build_server(Runtime(settings))) as c:
        result = await c.call_tool("ml_predict", {"model": "x" * 400, "features": [{"a": 1}]})
    assert result.is_error
    assert "300" in result.content[0].text  # type: ignore[union-attr]
