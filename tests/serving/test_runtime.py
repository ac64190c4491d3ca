"""The serving path in one process: batching observed, one bad request fails alone, ledger rows written."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, cast

import anyio
import numpy as np
import pytest
from mcp import Client

from mlgate.config import Settings
from mlgate.server.app import build_server
from mlgate.serving import inference
from mlgate.serving.runtime import Runtime
from tests._support import DIABETES_ROW, tool_payload

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def forest(demo_home: Path) -> str:
    """A RandomForest: slow enough per call (milliseconds) that the runtime batches it."""
    from sklearn.datasets import load_diabetes
    from sklearn.ensemble import RandomForestRegressor

    from mlgate.models.registrar import Registrar

    data = load_diabetes()
    est = RandomForestRegressor(n_estimators=60, random_state=0).fit(data.data, data.target)
    info = Registrar(Settings(home=demo_home)).register_sklearn(
        "rt-forest", est, np.asarray(data.data), list(data.feature_names), {"r2": 0.9}
    )
    return f"rt-forest@{info.version}"


def _state(tmp_path: Path, demo_home: Path, **kw: Any) -> Settings:
    return Settings(home=demo_home, state_url=f"sqlite:///{tmp_path / 'state.db'}", **kw)


async def test_concurrent_calls_are_batched_and_match_unbatched(
    forest: str, tmp_path: Path, demo_home: Path
) -> None:
    rt = Runtime(_state(tmp_path, demo_home))
    rng = np.random.default_rng(1)
    rows = [{k: float(v + rng.normal(0, 0.01)) for k, v in DIABETES_ROW.items()} for _ in range(32)]
    results: dict[int, Any] = {}
    async with Client(build_server(rt)) as c:
        await c.call_tool("ml_predict", {"model": forest, "features": [rows[0]]})  # load + decide batching

        async def one(i: int) -> None:
            features: Any = [rows[i]] if i != 7 else [{**rows[i], "bmi": "oops"}]
            results[i] = tool_payload(
                await c.call_tool("ml_predict", {"model": forest, "features": features})
            )

        async with anyio.create_task_group() as tg:
            for i in range(32):
                tg.start_soon(one, i)
        err, status = tool_payload(await c.call_tool("ml_serving_status", {}))
    assert not err
    queue = next(v for k, v in status["queues"].items() if k.startswith("rt-forest"))
    assert queue["max_batch_size_seen"] > 1 and queue["batches"] < 32, queue
    loaded, _ = await rt.models.acquire(forest, "predictor")
    for i in range(32):
        err, out = results[i]
        if i == 7:
            assert err and "feature 'bmi'" in out
            continue
        assert not err, out
        x = np.array([[rows[i][f.name] for f in loaded.info.features]])
        assert out["predictions"] == [float(cast(Any, loaded.impl).est.predict(x)[0])]
    await rt.aclose()


async def test_ledger_rows_for_ok_refused_and_failed_calls(tmp_path: Path, demo_home: Path) -> None:
    rt = Runtime(_state(tmp_path, demo_home, stdio_scopes=["ml:read", "ml:infer"]))
    async with Client(build_server(rt)) as c:
        await c.call_tool("ml_predict", {"model": "demo-regressor@1", "features": [DIABETES_ROW]})
        await c.call_tool("ml_predict", {"model": "demo-regressor@1", "features": [{"age": 0.123456789}]})
        await c.call_tool("ml_halt", {"reason": "no scope for this"})
    await anyio.to_thread.run_sync(rt.ledger.flush_blocking)
    rows = rt.state.tail(10)
    await rt.aclose()
    assert [(r.tool, r.outcome, r.error_class) for r in rows] == [
        ("ml_predict", "ok", None),
        ("ml_predict", "error", "InvalidInput"),
        ("ml_halt", "refused", "InsufficientScope"),
    ]
    ok = rows[0]
    assert (
        ok.version == "1"
        and ok.digest
        and ok.input_digest
        and ok.transport == "memory"
        and ok.subject == "local"
    )
    assert ok.model_ref == "demo-regressor@1" and ok.duration_ms > 0
    dumped = json.dumps([r.to_dict() for r in rows])
    assert "0.123456789" not in dumped and "no scope for this" not in dumped


async def test_audit_tail_command(tmp_path: Path, demo_home: Path) -> None:
    import subprocess
    import sys

    from tests._support import mlgate_env

    settings = _state(tmp_path, demo_home)
    rt = Runtime(settings)
    async with Client(build_server(rt)) as c:
        await c.call_tool("ml_list_models", {})
    await rt.aclose()
    env = mlgate_env(demo_home, MLGATE_STATE_URL=settings.state)
    out = subprocess.run(
        [sys.executable, "-m", "mlgate", "audit", "tail", "-n", "5"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0 and "ml_list_models" in out.stdout and "outcome" in out.stdout
    js = subprocess.run(
        [sys.executable, "-m", "mlgate", "audit", "tail", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert json.loads(js.stdout.splitlines()[-1])["tool"] == "ml_list_models"


async def test_guard_warning_reaches_the_result_and_refusal_names_rule(
    tmp_path: Path, demo_home: Path
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "rules:\n"
        "  - name: bmi-range\n    kind: range\n    mode: refuse\n    models: ['demo-regressor']\n"
        "    bounds: {bmi: {min: -0.2, max: 0.2}}\n"
    )
    rt = Runtime(_state(tmp_path, demo_home, rules=rules))
    async with Client(build_server(rt)) as c:
        err, out = tool_payload(
            await c.call_tool(
                "ml_predict", {"model": "demo-regressor@1", "features": [{**DIABETES_ROW, "s1": 5.0}]}
            )
        )
        assert not err and out["warnings"] and "s1" in out["warnings"][0]  # default pack: z-score, mode warn
        err, msg = tool_payload(
            await c.call_tool(
                "ml_predict", {"model": "demo-regressor@1", "features": [{**DIABETES_ROW, "bmi": 0.5}]}
            )
        )
        assert err and "bmi-range" in msg and "bmi" in msg and "0.5" in msg
        err, out = tool_payload(
            await c.call_tool("ml_predict", {"model": "demo-regressor@1", "features": [DIABETES_ROW]})
        )
        assert not err and out["warnings"] == []
    await rt.aclose()


async def test_alias_ttl_reuses_answers_and_forgets_them_on_promotion(
    tmp_path: Path, demo_home: Path
) -> None:
    """With MLGATE_ALIAS_TTL_MS an alias answer is reused; a promotion in this process is followed at once."""
    from sklearn.linear_model import LinearRegression

    from mlgate.lifecycle import stages as lifecycle
    from mlgate.models.registrar import Registrar

    settings = _state(tmp_path, demo_home, alias_ttl_ms=60_000)
    reg = Registrar(settings)
    x = np.random.default_rng(0).normal(size=(30, 2))
    v1 = reg.register_sklearn(
        "rt-alias", LinearRegression().fit(x, x[:, 0]), x, ["a", "b"], {"r2": 1.0}, alias="production"
    )
    v2 = reg.register_sklearn("rt-alias", LinearRegression().fit(x, x[:, 1]), x, ["a", "b"], {"r2": 1.0})
    rt = Runtime(settings)
    row = [{"a": 2.0, "b": 3.0}]
    first = await inference.predict(rt, "rt-alias@production", row)
    assert first.model.version == v1.version
    reg.registry.set_alias("rt-alias", "production", v2.version)  # moved elsewhere
    cached = await inference.predict(rt, "rt-alias@production", row)
    assert cached.model.version == v1.version  # within the TTL, as configured
    await lifecycle.promote(rt, "rt-alias", v2.version, "production", force=False, caller=rt.local_caller())
    moved = await inference.predict(rt, "rt-alias@production", row)
    assert moved.model.version == v2.version and moved.predictions[0] == pytest.approx(3.0, abs=1e-6)
    await rt.aclose()
