"""Errors that name the input: a non-finite result names the record and the features outside their
training range (batched or not), and the advice of a failed call is the named model's own example."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from mcp import Client

from mlgate.config import Settings
from mlgate.server.app import build_server
from mlgate.serving.runtime import Runtime
from mlgate.skills.demo_models import ALPHA_FEATURES
from tests._support import DIABETES_ROW, call

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["off", "on"])
async def client(settings: Settings, request: pytest.FixtureRequest) -> AsyncIterator[tuple[Any, Runtime]]:
    rt = Runtime(settings.model_copy(update={"batching": request.param}))
    async with Client(build_server(rt)) as c:
        yield c, rt
    await rt.aclose()


async def test_a_non_finite_output_names_the_feature_outside_its_training_range(
    client: tuple[Any, Runtime],
) -> None:
    c, _ = client
    err, card = await call(c, "ml_model_info", {"model": "demo-regressor@1"})
    assert not err, card
    bmi = next(f for f in card["features"] if f["name"] == "bmi")
    rows = [DIABETES_ROW, {**DIABETES_ROW, "bmi": 1e308}]
    err, msg = await call(c, "ml_predict", {"model": "demo-regressor@1", "features": rows})
    assert err
    assert "for record 1 is" in msg and "not a finite number" in msg, msg
    assert f"'bmi' = 1e+308 is outside its training range [{bmi['min']:.6g}, {bmi['max']:.6g}]" in msg, msg
    assert "'age'" not in msg.split("—")[0]  # only the feature that is out of range
    err, out = await call(c, "ml_predict", {"model": "demo-regressor@1", "features": [DIABETES_ROW]})
    assert not err, out  # the input's fault: the model's breaker was not charged


async def test_the_advice_of_a_failed_call_is_the_named_models_own_example(
    client: tuple[Any, Runtime],
) -> None:
    c, _ = client
    err, msg = await call(c, "ml_predict", {"model": "demo-alpha-bear@1"})
    assert err and "'features' is required" in msg
    assert "demo-alpha-bear@1" in msg and all(f'"{f}"' in msg for f in ALPHA_FEATURES), msg
    assert "bmi" not in msg and "demo-regressor" not in msg, msg
    # the hint is a call that works
    example = msg.split("a valid call: ", 1)[1]
    import json

    err, out = await call(c, "ml_predict", json.loads(example))
    assert not err, out
    # a model served by another tool: the valid call names that tool
    err, msg = await call(c, "ml_predict", {"model": "demo-classifier@1"})
    assert err and "a valid call: ml_classify {" in msg and "sepal_length" in msg, msg
    # an unknown model: the tool's generic example
    err, msg = await call(c, "ml_predict", {"model": "nope@1"})
    assert err and "a valid call: {" in msg
