"""mlgate's prompts through the SDK's in-memory client against the real ``build_server``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS

from mlgate.config import Settings
from mlgate.server.app import build_server
from mlgate.serving.runtime import Runtime

pytestmark = pytest.mark.anyio

# name -> (required arguments, optional arguments)
EXPECTED = {
    "investigate_model": ({"model"}, set()),
    "promote_safely": ({"model", "version"}, {"to"}),
    "respond_to_incident": ({"reason"}, {"model"}),
    "forecast_report": ({"model"}, {"horizon", "levels"}),
}
TOOL_NAME = r"\bml_[a-z_]+\b"


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[Any]:
    async with Client(build_server(Runtime(settings))) as c:
        yield c


async def text_of(client: Any, name: str, arguments: dict[str, str]) -> str:
    result = await client.get_prompt(name, arguments)
    assert result.messages and all(m.role == "user" for m in result.messages)
    return "\n".join(m.content.text for m in result.messages)


async def test_prompts_listed_with_their_arguments(client: Any) -> None:
    prompts = {p.name: p for p in (await client.list_prompts()).prompts}
    assert set(EXPECTED) <= set(prompts), f"build_server does not register the prompts: {sorted(prompts)}"
    for name, (required, optional) in EXPECTED.items():
        prompt = prompts[name]
        assert prompt.title and prompt.description, name
        args = {a.name: a for a in prompt.arguments or []}
        assert {n for n, a in args.items() if a.required} == required, name
        assert {n for n, a in args.items() if not a.required} == optional, name
        assert all(a.description for a in args.values()), name


async def test_tool_names_in_prompts_are_listed_tools(client: Any) -> None:
    import re

    tools = {t.name for t in (await client.list_tools()).tools}
    planned = {"ml_audit"}  # named conditionally ("if ml_audit is listed")
    for name, (required, _optional) in EXPECTED.items():
        text = await text_of(client, name, {arg: "x" for arg in required})
        named = set(re.findall(TOOL_NAME, text))
        assert named, name
        assert named - planned <= tools, (
            f"{name} names tools the server does not list: {sorted(named - tools)}"
        )


async def test_investigate_model_renders_its_argument(client: Any) -> None:
    text = await text_of(client, "investigate_model", {"model": "demo-classifier"})
    assert "'demo-classifier'" in text and "'demo-classifier@production'" in text
    assert text.index("ml_list_models") < text.index("ml_model_info") < text.index("ml_classify")


async def test_promote_safely_orders_drift_compare_promote(client: Any) -> None:
    text = await text_of(client, "promote_safely", {"model": "demo-regressor", "version": "2"})
    assert "to production" in text and "'demo-regressor@2'" in text and "version=2" in text
    assert text.index("ml_drift") < text.index("ml_compare") < text.index("ml_promote")
    staging = await text_of(
        client, "promote_safely", {"model": "demo-regressor", "version": "3", "to": "staging"}
    )
    assert "to='staging'" in staging and "version=3" in staging


async def test_respond_to_incident_halts_first(client: Any) -> None:
    text = await text_of(
        client, "respond_to_incident", {"reason": "bad predictions", "model": "demo-regressor"}
    )
    assert text.startswith("Incident: bad predictions")
    assert (
        text.index("ml_halt")
        < text.index("ml_serving_status")
        < text.index("ml_rollback")
        < text.index("ml_resume")
    )
    assert "model='demo-regressor'" in text
    everything = await text_of(client, "respond_to_incident", {"reason": "data leak"})
    assert "halts ALL serving" in everything


async def test_forecast_report_renders_horizon_and_levels(client: Any) -> None:
    text = await text_of(client, "forecast_report", {"model": "demo-forecaster@1"})
    assert "horizon=12" in text and "levels=[0.8,0.95]" in text
    custom = await text_of(
        client, "forecast_report", {"model": "demo-forecaster@1", "horizon": "3", "levels": "0.9"}
    )
    assert "horizon=3" in custom and "levels=[0.9]" in custom and "'demo-forecaster@1'" in custom


@pytest.mark.parametrize(
    ("name", "arguments", "missing"),
    [
        ("investigate_model", {}, "model"),
        ("promote_safely", {"model": "demo-regressor"}, "version"),
        ("respond_to_incident", {"model": "demo-regressor"}, "reason"),
        ("forecast_report", {"horizon": "3"}, "model"),
    ],
)
async def test_missing_required_argument_is_a_clear_error(
    client: Any, name: str, arguments: dict[str, str], missing: str
) -> None:
    with pytest.raises(MCPError) as err:
        await client.get_prompt(name, arguments)
    assert err.value.code == INVALID_PARAMS, err.value
    assert f"prompt {name!r} is missing the argument(s) {missing!r}" in str(err.value), str(err.value)


async def test_empty_required_argument_is_missing(client: Any) -> None:
    with pytest.raises(MCPError, match="missing the argument\\(s\\) 'model'"):
        await client.get_prompt("investigate_model", {"model": "  "})
