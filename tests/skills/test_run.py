"""Running skills in memory: outputs, the run record, progress, failure, cancellation, halts, routes."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import anyio
import pytest

from mlgate.artifacts import json_sha256 as input_digest
from mlgate.auth.caller import Caller
from mlgate.errors import Halted, InsufficientScope, InvalidInput, NotFound
from mlgate.serving.runtime import Runtime
from mlgate.skills import run as skill_runtime
from mlgate.skills.demo_models import BEAR_MARKET, BULL_MARKET, STOCKS
from tests._support import DIABETES_ROW
from tests._support.skills import CHAIN, CHAIN_INPUTS, run_id_in, write_skill
from tests.skills.scenarios import HEADLINES, HISTORY, exercise_skills, run_skill

pytestmark = pytest.mark.anyio
LOCAL = Caller("tester", "tester", "memory", frozenset({"ml:read", "ml:infer"}))
FORECAST_INPUTS = {"history": HISTORY, "headlines": HEADLINES}


async def test_both_builtins_in_memory(client: Any) -> None:
    await exercise_skills(client)


async def test_a_run_is_recorded(client: Any, rt: Runtime) -> None:
    inputs = {"market": [BULL_MARKET], "stocks": STOCKS}
    err, run = await run_skill(client, "regime_aware_alpha@1", inputs)
    assert not err, run
    record = rt.state.get_run(run["run_id"])
    assert record is not None and record.status == "ok" and record.skill == "regime_aware_alpha@1"
    assert record.digest == run["digest"] and record.subject == "local" and record.finished_at
    assert record.input_digest == input_digest(inputs)
    assert record.outputs_digest == input_digest(run["outputs"])
    assert [(s["id"], s["model"]["name"], s["model"]["version"], s["outcome"]) for s in record.steps] == [
        ("regime", "demo-regime", 1, "ok"),
        ("alpha", "demo-alpha-bull", 1, "ok"),
    ]
    assert all(s["duration_ms"] > 0 and s["model"]["sha256"] for s in record.steps)


async def test_progress_is_reported_per_step(client: Any) -> None:
    seen: list[tuple[float, float | None, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append((progress, total, message))

    result = await client.call_tool(
        "ml_run_skill",
        {"skill": "multi_horizon_forecast@1", "inputs": FORECAST_INPUTS},
        progress_callback=on_progress,
    )
    assert not result.is_error
    assert [(p, t) for p, t, _ in seen] == [(0, 4), (1, 4), (2, 4), (3, 4), (4, 4)]
    for (_, _, message), step in zip(
        seen, ("next_month", "next_quarter", "next_year", "sentiment"), strict=False
    ):
        assert message is not None and f"'{step}'" in message


async def test_route_map_picks_the_regimes_model(rt: Runtime) -> None:
    from mlgate.serving import inference

    bull = await inference.predict(rt, "demo-alpha-bull@1", STOCKS)
    bear = await inference.predict(rt, "demo-alpha-bear@1", STOCKS)
    assert bull.predictions != bear.predictions
    for market, expected in ((BULL_MARKET, bull), (BEAR_MARKET, bear)):
        run = await skill_runtime.run(
            rt, "regime_aware_alpha@1", {"market": [market], "stocks": STOCKS}, caller=LOCAL
        )
        assert run.outputs["alpha"] == expected.predictions
        assert run.steps[1].model is not None and run.steps[1].model.name == expected.model.name
    # the last market record is today's: bear history, bull today → the bull predictor
    run = await skill_runtime.run(
        rt, "regime_aware_alpha@1", {"market": [BEAR_MARKET, BULL_MARKET], "stocks": STOCKS}, caller=LOCAL
    )
    assert run.outputs["regime"] == "bull" and run.outputs["alpha"] == bull.predictions


async def test_a_value_the_route_map_does_not_list_fails_the_step(rt: Runtime, skills_dir: Path) -> None:
    text = """
name: bull_only
version: 1
description: Routes only the bull regime.
inputs: {market: {type: records}, stocks: {type: records}}
steps:
  - {id: regime, call: classify, model: demo-regime@1, args: {features: $inputs.market}}
  - id: alpha
    call: predict
    model: {route: $regime.labels.0, map: {bull: demo-alpha-bull@1}}
    args: {features: $inputs.stocks}
outputs: {alpha: $alpha.predictions}
"""
    write_skill(skills_dir, text)
    ok = await skill_runtime.run(rt, "bull_only@1", {"market": [BULL_MARKET], "stocks": STOCKS}, caller=LOCAL)
    assert ok.steps[1].route == "bull"
    with pytest.raises(
        NotFound, match=re.escape("route $regime.labels.0 is 'bear', which the route map does not list")
    ):
        await skill_runtime.run(rt, "bull_only@1", {"market": [BEAR_MARKET], "stocks": STOCKS}, caller=LOCAL)
    write_skill(
        skills_dir,
        text.replace("version: 1", "version: 2").replace(
            "map: {bull: demo-alpha-bull@1}", "map: {bull: demo-alpha-bull@1}, default: demo-alpha-bear@1"
        ),
        "v2.yaml",
    )
    run = await skill_runtime.run(
        rt, "bull_only@2", {"market": [BEAR_MARKET], "stocks": STOCKS}, caller=LOCAL
    )
    assert run.steps[1].model is not None and run.steps[1].model.name == "demo-alpha-bear"


async def test_a_failing_step_fails_the_run_and_is_recorded(
    client: Any, rt: Runtime, skills_dir: Path
) -> None:
    write_skill(skills_dir, CHAIN)
    err, ok = await run_skill(client, "chain@1", CHAIN_INPUTS)
    assert not err and ok["outputs"]["breakpoints"] == [30] and ok["outputs"]["tone"] == "positive", ok

    bad_rows = [{k: v for k, v in DIABETES_ROW.items() if k != "bmi"}]
    err, msg = await run_skill(client, "chain@1", {**CHAIN_INPUTS, "rows": bad_rows})
    assert err and "step 'score' failed: record 0: missing 'bmi'" in msg, msg
    record = rt.state.get_run(run_id_in(msg))
    assert record is not None and record.status == "error" and record.outputs_digest is None
    assert [(s["id"], s["outcome"]) for s in record.steps] == [
        ("split", "ok"),
        ("score", "error"),
        ("tone", "skipped"),
    ]
    assert record.steps[1]["error"] == "InvalidInput: features[0].bmi" and record.steps[2]["model"] is None


async def test_cancellation_stops_the_remaining_steps_and_is_recorded(rt: Runtime) -> None:
    calls: list[str] = []
    with anyio.CancelScope() as scope:

        async def progress(done: int, total: int, message: str) -> None:
            calls.append(message)
            if done == 2:
                scope.cancel()  # the caller goes away while step 3 of 4 starts

        await skill_runtime.run(
            rt, "multi_horizon_forecast@1", FORECAST_INPUTS, caller=LOCAL, progress=progress
        )
    assert scope.cancelled_caught and len(calls) == 3
    runs = _runs(rt)
    assert len(runs) == 1 and runs[0].status == "cancelled"
    assert [s["outcome"] for s in runs[0].steps] == ["ok", "ok", "cancelled", "skipped"]
    assert runs[0].steps[2]["model"] is None and runs[0].outputs_digest is None


async def test_a_halt_stops_a_run_between_steps(rt: Runtime) -> None:
    async def halt_before_step_two(done: int, total: int, message: str) -> None:
        if done == 1:
            await anyio.to_thread.run_sync(rt.killswitch.halt, None, "bad data feed", "operator")

    try:
        with pytest.raises(Halted, match="step 'alpha' failed: all model serving is halted") as caught:
            await skill_runtime.run(
                rt,
                "regime_aware_alpha@1",
                {"market": [BULL_MARKET], "stocks": STOCKS},
                caller=LOCAL,
                progress=halt_before_step_two,
            )
        record = rt.state.get_run(run_id_in(str(caught.value)))
        assert record is not None and record.status == "halted"
        assert [s["outcome"] for s in record.steps] == ["ok", "halted"]
        assert "bad data feed" in record.steps[1]["error"]
        with pytest.raises(Halted):  # and no new run starts while halted
            await skill_runtime.run(
                rt, "regime_aware_alpha@1", {"market": [BULL_MARKET], "stocks": STOCKS}, caller=LOCAL
            )
    finally:
        await anyio.to_thread.run_sync(rt.killswitch.resume, None, "operator")
    run = await skill_runtime.run(
        rt, "regime_aware_alpha@1", {"market": [BULL_MARKET], "stocks": STOCKS}, caller=LOCAL
    )
    assert run.status == "ok"


async def test_a_halt_of_one_model_stops_the_step_that_would_run_it(client: Any, rt: Runtime) -> None:
    err, _ = await _call(client, "ml_halt", {"model": "demo-alpha-bear", "reason": "bear model under review"})
    assert not err
    err, ok = await run_skill(client, "regime_aware_alpha@1", {"market": [BULL_MARKET], "stocks": STOCKS})
    assert not err, ok
    err, msg = await run_skill(client, "regime_aware_alpha@1", {"market": [BEAR_MARKET], "stocks": STOCKS})
    assert err and "step 'alpha' failed: model 'demo-alpha-bear' is halted" in msg, msg
    await _call(client, "ml_resume", {"model": "demo-alpha-bear"})


async def test_each_step_needs_the_callers_scope(rt: Runtime) -> None:
    reader = Caller("reader", "reader", "memory", frozenset({"ml:read"}))
    with pytest.raises(
        InsufficientScope, match=r"step 'regime' failed: ml_classify .*needs the scope 'ml:infer'"
    ):
        await skill_runtime.run(
            rt, "regime_aware_alpha@1", {"market": [BULL_MARKET], "stocks": STOCKS}, caller=reader
        )
    assert [r.status for r in _runs(rt)] == ["error"]


async def test_run_skill_needs_ml_infer(demo_home: Path, tmp_path: Path) -> None:
    from mcp import Client

    from mlgate.config import Settings
    from mlgate.server.app import build_server

    settings = Settings(
        home=demo_home, state_url=f"sqlite:///{tmp_path / 'read.db'}", stdio_scopes=["ml:read"]
    )
    runtime = Runtime(settings)
    async with Client(build_server(runtime)) as c:
        err, listing = await _call(c, "ml_list_skills", {})
        assert not err and listing["skills"]
        err, msg = await run_skill(c, "regime_aware_alpha@1", {"market": [BULL_MARKET], "stocks": STOCKS})
        assert err and "ml_run_skill needs the scope 'ml:infer'" in msg
    await runtime.aclose()


async def test_bad_inputs_are_refused_before_a_run_starts(rt: Runtime) -> None:
    for inputs, needle in (
        ({"market": [BULL_MARKET]}, "inputs.stocks: Field required"),
        ({"market": [], "stocks": STOCKS}, "inputs.market: List should have at least 1 item"),
        ({"market": [BULL_MARKET], "stocks": STOCKS, "x": 1}, "inputs.x: Extra inputs"),
        ([1], "must be an object"),
    ):
        with pytest.raises(InvalidInput, match=re.escape(needle)):
            await skill_runtime.run(rt, "regime_aware_alpha@1", inputs, caller=LOCAL)
    assert _runs(rt) == []


def _runs(rt: Runtime) -> list[Any]:
    import sqlalchemy as sa

    from mlgate.state.db import skill_runs

    with rt.state.read() as conn:
        ids = [r[0] for r in conn.execute(sa.select(skill_runs.c.run_id).order_by(skill_runs.c.started_at))]
    return [rt.state.get_run(i) for i in ids]


async def _call(client: Any, tool: str, args: dict[str, Any]) -> tuple[bool, Any]:
    from tests._support import call

    return await call(client, tool, args)
