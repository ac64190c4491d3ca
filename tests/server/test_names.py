"""Tool names clients accept, the first release's dotted names still answering, argument errors as advice."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest
from mcp import Client

from mlgate.config import Settings
from mlgate.server.app import LEGACY_NAMES, SPECS, TOOLS, build_server
from mlgate.serving.runtime import Runtime
from tests._support import DIABETES_ROW, await_until, tool_payload

pytestmark = pytest.mark.anyio
NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


@pytest.fixture
async def served(settings: Settings) -> AsyncIterator[tuple[Any, Runtime]]:
    rt = Runtime(settings)
    async with Client(build_server(rt)) as c:
        yield c, rt
    await rt.aclose()


async def _mark(rt: Runtime) -> int:
    newest = await anyio.to_thread.run_sync(rt.state.tail, 1)
    return newest[0].id or 0 if newest else 0


async def _ledger(rt: Runtime, since: int, n: int) -> list[Any]:
    """The ``n`` rows written after ``since`` (other tests share the state database), oldest first."""

    async def new_rows() -> list[Any]:  # inference rows are written in the background: wait for them
        rows = [r for r in await anyio.to_thread.run_sync(rt.state.tail, 50) if (r.id or 0) > since]
        return rows if len(rows) >= n else []

    rows: list[Any] = await await_until(new_rows, what=f"{n} new ledger rows")
    return rows


async def test_listed_names_match_what_claude_accepts_and_dotted_names_are_not_listed(served: Any) -> None:
    client, _ = served
    names = [t.name for t in (await client.list_tools()).tools]
    assert names and all(NAME.match(n) for n in names), names
    assert not any("." in n for n in names)
    assert set(LEGACY_NAMES.values()) == set(names)


async def test_dotted_name_answers_like_the_new_one_and_the_ledger_says_the_new_name(served: Any) -> None:
    client, rt = served
    args = {"model": "demo-regressor@1", "features": [DIABETES_ROW]}
    since = await _mark(rt)
    err_old, old = tool_payload(await client.call_tool("ml.predict", args))
    err_new, new = tool_payload(await client.call_tool("ml_predict", args))
    assert not err_old and not err_new and old == new
    tools = [r.tool for r in await _ledger(rt, since, 2)]
    assert tools == ["ml_predict", "ml_predict"], tools


@pytest.mark.parametrize(
    ("tool", "args", "needles"),
    [
        ("ml_predict", {"model": "demo-regressor@1"}, ["'features' is required"]),
        (
            "ml_predict",
            {"model": 7, "features": "rows"},
            ["'model' must be a string", "'features' must be a list"],
        ),
        (
            "ml_forecast",
            {"model": "demo-forecaster@1", "history": [1.0, 2.0], "horizon": 0},
            ["'horizon' must be ≥ 1"],
        ),
        ("ml_promote", {"model": "demo-regressor", "version": 2, "to": "prod"}, ["'to' must be one of"]),
        ("ml.classify", {"features": [{}]}, ["'model' is required"]),
    ],
)
async def test_argument_errors_are_advice_not_pydantic_dumps(
    served: Any, tool: str, args: dict[str, Any], needles: list[str]
) -> None:
    client, rt = served
    since = await _mark(rt)
    err, msg = tool_payload(await client.call_tool(tool, args))
    assert err
    for needle in needles:
        assert needle in msg, msg
    canonical = LEGACY_NAMES.get(tool, tool)
    assert "a valid call: {" in msg and SPECS[canonical].example["model"] in msg
    for leak in ("pydantic", "validation error for", "input_value", "type=", "Arguments"):
        assert leak not in msg, msg
    (row,) = await _ledger(rt, since, 1)
    assert row.tool == canonical and row.outcome == "error" and row.error_class == "InvalidInput"


def test_every_tool_has_an_example_that_validates_against_its_own_arguments() -> None:
    server = build_server(Runtime(Settings()))
    for spec in TOOLS:
        tool = server._tool_manager.get_tool(spec.name)
        assert tool is not None
        tool.fn_metadata.validate_arguments(spec.example)  # raises if the advice would show a bad example
