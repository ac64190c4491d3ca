"""Each skill step leaves its own ledger row: the model stamp that answered (ref, version, digest)
and the run's id, so ``ml_audit model=`` finds what a skill ran on a model."""

from __future__ import annotations

from typing import Any

import pytest

from mlgate.serving.runtime import Runtime
from mlgate.skills.demo_models import BULL_MARKET, STOCKS
from tests._support import DIABETES_ROW, tool_payload
from tests._support.skills import CHAIN, CHAIN_INPUTS, run_id_in, write_skill
from tests.skills.scenarios import run_skill

pytestmark = pytest.mark.anyio


async def _audit(client: Any, **filters: Any) -> list[dict[str, Any]]:
    err, out = tool_payload(await client.call_tool("ml_audit", filters))
    assert not err, out
    rows: list[dict[str, Any]] = out["rows"]
    return rows


async def test_each_step_has_a_row_with_its_stamp_and_the_run_id(client: Any, rt: Runtime) -> None:
    err, run = await run_skill(client, "regime_aware_alpha@1", {"market": [BULL_MARKET], "stocks": STOCKS})
    assert not err, run
    steps = {s["id"]: s["model"] for s in run["steps"]}
    for step, model in steps.items():
        rows = await _audit(client, model=model["name"])
        assert len(rows) == 1, (step, rows)
        row = rows[0]
        assert row["tool"].startswith("skill.step:ml_") and row["outcome"] == "ok"
        assert row["run_id"] == run["run_id"] and row["subject"] == "local"
        assert (row["model_ref"], row["version"], row["digest"]) == (
            model["ref"],
            str(model["version"]),
            model["sha256"],
        )
    whole = await _audit(client, tool="ml_run_skill")
    assert [r["run_id"] for r in whole] == [run["run_id"]]  # the run's own row links to its steps


async def test_a_failing_step_leaves_its_row_without_the_values(
    client: Any, rt: Runtime, skills_dir: Any
) -> None:
    write_skill(skills_dir, CHAIN)
    bad = {**CHAIN_INPUTS, "rows": [{**DIABETES_ROW, "bmi": "secret-value-123"}]}
    err, message = await run_skill(client, "chain@1", bad)
    assert err and "secret-value-123" in message
    run_id = run_id_in(message)
    rows = await _audit(client, model="demo-regressor")
    assert [(r["tool"], r["outcome"], r["error_message"], r["run_id"]) for r in rows] == [
        ("skill.step:ml_predict", "error", "InvalidInput: features[0].bmi", run_id)
    ]
    split = await _audit(client, model="demo-segmenter")
    assert [(r["outcome"], r["run_id"], r["version"]) for r in split] == [("ok", run_id, "1")]
