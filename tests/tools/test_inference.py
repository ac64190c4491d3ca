"""Every tool through the SDK's in-memory client, and every bad-input refusal."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from typing import Any

import pytest
from mcp import Client

from mlgate.config import Settings
from mlgate.server.app import build_server
from mlgate.serving.runtime import Runtime
from tests._support import DIABETES_ROW, call
from tests.tools.scenarios import exercise_all_tools

pytestmark = pytest.mark.anyio


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[Any]:
    async with Client(build_server(Runtime(settings))) as c:
        yield c


async def test_every_tool_in_memory(client: Any) -> None:
    await exercise_all_tools(client)


@pytest.mark.parametrize(
    ("features", "needle"),
    [
        ([{k: v for k, v in DIABETES_ROW.items() if k != "bmi"}], "missing 'bmi'"),
        ([{**DIABETES_ROW, "height": 1.0}], "unexpected 'height'"),
        ([{**DIABETES_ROW, "bmi": "0.06"}], "feature 'bmi': expected a number, got str"),
        ([{**DIABETES_ROW, "bmi": True}], "feature 'bmi': expected a number, got bool"),
        ([{**DIABETES_ROW, "bmi": None}], "feature 'bmi': expected a number, got NoneType"),
        ([DIABETES_ROW, "row"], "'features[1]' must be an object"),
        ([DIABETES_ROW] * 10_001, "more than the limit of 10000"),
    ],
)
async def test_bad_records_refused_with_the_reason(client: Any, features: Any, needle: str) -> None:
    err, msg = await call(client, "ml_predict", {"model": "demo-regressor@1", "features": features})
    assert err and needle in msg, msg


async def test_non_finite_numbers_refused(settings: Settings) -> None:
    # JSON has no NaN; the SDK's in-memory path accepts Python floats, so this checks our own guard.
    from mlgate.errors import InvalidInput
    from mlgate.serving import inference

    rt = Runtime(settings)
    for bad in (math.nan, math.inf, -math.inf):
        with pytest.raises(InvalidInput, match="finite"):
            await inference.predict(rt, "demo-regressor@1", [{**DIABETES_ROW, "s1": bad}])


async def test_empty_features_refused(client: Any) -> None:
    err, msg = await call(client, "ml_predict", {"model": "demo-regressor@1", "features": []})
    assert err and "features" in msg


@pytest.mark.parametrize(
    ("model", "needle"),
    [
        ("demo-regressor", "does not pin a version"),
        ("demo-regressor@latest", "does not pin a version"),
        ("unknown-model@1", "no registered model named 'unknown-model'"),
        ("demo-regressor@99", "has no version 99"),
        ("demo-regressor@staging", "has no alias 'staging'"),
        ("../etc/passwd@1", "path separator"),
        ("demo\x00regressor@1", "control characters"),
        ("x" * 200 + "@1", "characters long"),
    ],
)
async def test_bad_references_refused(client: Any, model: str, needle: str) -> None:
    err, msg = await call(client, "ml_predict", {"model": model, "features": [DIABETES_ROW]})
    assert err and needle in msg, msg


async def test_latest_allowed_only_when_configured(demo_home: Any) -> None:
    settings = Settings(home=demo_home, allow_latest=True)
    async with Client(build_server(Runtime(settings))) as c:
        err, out = await call(c, "ml_predict", {"model": "demo-regressor@latest", "features": [DIABETES_ROW]})
    assert not err and out["model"]["version"] == 1 and out["model"]["ref"] == "demo-regressor@latest"


@pytest.mark.parametrize(
    ("tool", "args", "needle"),
    [
        ("ml_analyze", {"model": "demo-regressor@1", "texts": ["hi"]}, "not an analyzer"),
        (
            "ml_forecast",
            {"model": "demo-classifier@1", "history": [1.0, 2.0], "horizon": 2},
            "not a forecaster",
        ),
        ("ml_segment", {"model": "demo-sentiment@1", "series": [1.0, 2.0]}, "not a segmenter"),
        ("ml_predict", {"model": "demo-classifier@1", "features": [{"a": 1}]}, "call ml_classify"),
    ],
)
async def test_wrong_interface_refused(client: Any, tool: str, args: dict[str, Any], needle: str) -> None:
    err, msg = await call(client, tool, args)
    assert err and needle in msg, msg


async def test_forecast_and_segment_inputs_checked(client: Any) -> None:
    err, msg = await call(
        client, "ml_forecast", {"model": "demo-forecaster@1", "history": [1.0, 2.0, 3.0], "horizon": 3}
    )
    assert err and "history" in msg
    err, msg = await call(
        client,
        "ml_forecast",
        {"model": "demo-forecaster@1", "history": [1.0] * 48, "horizon": 3, "levels": [1.5]},
    )
    assert err and "level" in msg
    err, msg = await call(
        client, "ml_forecast", {"model": "demo-forecaster@1", "history": [1.0] * 48, "horizon": 0}
    )
    assert err and "horizon" in msg
    err, msg = await call(client, "ml_segment", {"model": "demo-segmenter@1", "series": [1.0] * 5})
    assert err and "series" in msg.lower()
    err, msg = await call(client, "ml_analyze", {"model": "demo-sentiment@1", "texts": ["ok", 3]})
    assert err


async def test_tools_have_schemas_annotations_and_descriptions(client: Any) -> None:
    for tool in (await client.list_tools()).tools:
        assert tool.output_schema and tool.input_schema, tool.name
        assert tool.annotations is not None and tool.annotations.read_only_hint is not None, tool.name
        assert len(tool.description or "") > 40, tool.name


async def test_model_card_resource_and_completion(client: Any) -> None:
    from mcp_types import ResourceTemplateReference

    templates = (await client.list_resource_templates()).resource_templates
    assert any(t.uri_template == "mlgate://models/{name}/{version}" for t in templates)
    res = await client.read_resource("mlgate://models/demo-classifier/1")
    text = res.contents[0].text
    assert "# demo-classifier version 1" in text and "petal_length" in text and '"features"' in text
    ref = ResourceTemplateReference(type="ref/resource", uri="mlgate://models/{name}/{version}")
    done = await client.complete(ref, {"name": "name", "value": "demo-s"})
    assert set(done.completion.values) == {"demo-segmenter", "demo-sentiment"}
    done = await client.complete(
        ref, {"name": "version", "value": ""}, context_arguments={"name": "demo-regressor"}
    )
    assert done.completion.values == ["1"]


async def test_stdio_scopes_limit_local_agent(demo_home: Any) -> None:
    settings = Settings(home=demo_home, stdio_scopes=["ml:read"])
    async with Client(build_server(Runtime(settings))) as c:
        err, _ = await call(c, "ml_list_models", {})
        assert not err
        err, msg = await call(c, "ml_predict", {"model": "demo-regressor@1", "features": [DIABETES_ROW]})
    assert err and "needs the scope 'ml:infer'" in msg


HUGE = 10**400  # JSON allows it; a float cannot hold it (math.isfinite raised OverflowError on it)
COLUMNS = list(DIABETES_ROW)


@pytest.mark.parametrize(
    ("tool", "args", "needle"),
    [
        (
            "ml_predict",
            {"model": "demo-regressor@1", "features": [{**DIABETES_ROW, "bmi": HUGE}]},
            "record 0, feature 'bmi' is an integer too large for a number",
        ),
        (
            "ml_predict",
            {
                "model": "demo-regressor@1",
                "features": {
                    "columns": COLUMNS,
                    "rows": [[HUGE if c == "s1" else DIABETES_ROW[c] for c in COLUMNS]],
                },
            },
            "feature 's1' is an integer too large for a number",
        ),
        (
            "ml_forecast",
            {"model": "demo-forecaster@1", "horizon": 3, "levels": [HUGE]},
            "'levels[0]' must be a number",  # the argument schema refuses it first
        ),
        (
            "ml_segment",
            {"model": "demo-segmenter@1", "series": [1.0, 2.0, HUGE, 3.0]},
            "'series[2]' must be a number",
        ),
    ],
)
async def test_an_integer_beyond_a_float_is_refused_by_name(
    client: Any, tool: str, args: dict[str, Any], needle: str
) -> None:
    err, msg = await call(client, tool, args)
    assert err and needle in msg, msg


def test_number_checks_never_overflow() -> None:
    from mlgate.numbers import finite, is_finite_number, shown

    assert not finite(HUGE) and not is_finite_number(HUGE) and not is_finite_number(True)
    assert finite(2**1000) and is_finite_number(1.5) and not finite(math.inf)
    assert shown(10**5000) == "an integer too large for a number (beyond ±1.8e308)"  # str() would raise
    assert shown("x" * 100) == repr("x" * 100)[:40]


@pytest.mark.parametrize("bad", [True, False, "1", None, math.nan, -math.inf, HUGE, [1.0]])
def test_a_series_refuses_each_value_that_is_not_a_finite_number(bad: Any) -> None:
    """The whole-series check (``as_numbers``: no type per value) still refuses a bool among 0s and 1s, a
    string, null, a non-finite value or an int beyond a float, by its index; good ones come back as floats."""
    from mlgate.errors import InvalidInput
    from mlgate.records.checks import check_series

    with pytest.raises(InvalidInput) as err:
        check_series([1.0, 0, bad, 2.5], "history", max_len=10)
    assert "history[2]" in str(err.value), str(err.value)
    ok = check_series([1, 0, 2.5, 1.0], "history", max_len=10)
    assert ok == [1.0, 0.0, 2.5, 1.0] and {type(v) for v in ok} == {float}
