"""Promotion through the MCP tools: gates pass and fail, stored gates, force, stage history, serving follows."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mlgate.config import Settings
from mlgate.domain import VersionInfo
from mlgate.lifecycle.stages import set_gates
from mlgate.serving.runtime import Runtime
from tests._support import call
from tests._support.lifecycle import FEATURES, aliases, tags

pytestmark = pytest.mark.anyio
ROW = dict.fromkeys(FEATURES, 0.0)
Two = tuple[str, VersionInfo, VersionInfo]


async def test_promotion_with_passing_gates_moves_production_and_serving_follows(
    client: Any, settings: Settings, two_versions: Two
) -> None:
    name, _, _ = two_versions
    err, before = await call(client, "ml_predict", {"model": f"{name}@production", "features": [ROW]})
    assert not err and before["model"]["version"] == 1 and abs(before["predictions"][0]) < 5

    err, out = await call(
        client,
        "ml_promote",
        {"model": name, "version": 2, "to": "production", "gates": {"min_r2": 0.9, "max_mae": 1.0}},
    )
    assert not err, out
    assert out["promoted"] is True and out["failed_gates"] == [] and out["archived"] == 1
    assert {g["gate"]: g["passed"] for g in out["gates"]} == {"min_r2": True, "max_mae": True}

    err, after = await call(client, "ml_predict", {"model": f"{name}@production", "features": [ROW]})
    assert not err and after["model"]["version"] == 2 and after["model"]["ref"] == f"{name}@production"
    assert 95 < after["predictions"][0] < 105  # version 2 learnt the +100 offset

    assert aliases(settings, name) == {"production": 2}
    assert tags(settings, name, 1)["mlgate.stage"] == "archived"
    err, info = await call(client, "ml_model_info", {"model": f"{name}@2"})
    assert not err and info["stage"] == "production" and info["aliases"] == ["production"]
    assert [e["stage"] for e in info["stage_history"]] == ["development", "production"]
    assert (
        info["stage_history"][-1]["by"] == "local" and info["stage_history"][-1]["previous"] == "development"
    )
    err, old = await call(client, "ml_model_info", {"model": f"{name}@1"})
    assert [e["stage"] for e in old["stage_history"]] == ["production", "archived"]
    assert "replaced by version 2" in old["stage_history"][-1]["note"] and old["aliases"] == []

    # the same promotion again changes nothing (idempotent)
    err, again = await call(client, "ml_promote", {"model": name, "version": 2})
    assert (
        not err and again["promoted"] and again["archived"] is None and "nothing changed" in again["message"]
    )


async def test_failing_gates_are_all_listed_and_nothing_moves(
    client: Any, settings: Settings, two_versions: Two
) -> None:
    name, _, v2 = two_versions
    gates = {
        "min_r2": 0.9999,
        "max_mae": 0.001,
        "min_accuracy": 0.5,
        "require_drift_check": True,
        "max_r2": 2.0,
    }
    err, out = await call(client, "ml_promote", {"model": name, "version": 2, "gates": gates})
    assert not err, out
    assert out["promoted"] is False and out["archived"] is None
    failed = {g["gate"]: g for g in out["failed_gates"]}
    assert set(failed) == {"min_r2", "max_mae", "min_accuracy", "require_drift_check"}
    assert failed["min_r2"]["threshold"] == 0.9999 and failed["min_r2"]["actual"] == pytest.approx(
        v2.metrics["r2"]
    )
    assert (
        failed["max_mae"]["actual"] == pytest.approx(v2.metrics["mae"])
        and failed["max_mae"]["threshold"] == 0.001
    )
    assert (
        failed["min_accuracy"]["actual"] is None
        and "no metric 'accuracy'" in failed["min_accuracy"]["reason"]
    )
    assert "no drift check is recorded" in failed["require_drift_check"]["reason"]
    for gate in failed:
        assert gate in out["message"]
    assert aliases(settings, name) == {"production": 1}
    assert tags(settings, name, 2)["mlgate.stage"] == "development"
    err, pred = await call(client, "ml_predict", {"model": f"{name}@production", "features": [ROW]})
    assert pred["model"]["version"] == 1


async def test_stored_gates_apply_and_a_call_cannot_loosen_them(
    runtime: Runtime, client: Any, two_versions: Two
) -> None:
    name, _, _ = two_versions
    stored = await set_gates(runtime, name, "production", {"min_r2": 0.99999})
    assert stored == {"production": {"min_r2": 0.99999}}
    err, out = await call(client, "ml_promote", {"model": name, "version": 2, "gates": {"min_r2": 0.1}})
    assert not err and out["promoted"] is False
    (gate,) = out["failed_gates"]
    assert gate["threshold"] == 0.99999 and gate["source"] == "stored"
    # a call may tighten a stored gate
    await set_gates(runtime, name, "production", {"min_r2": 0.5})
    err, out = await call(client, "ml_promote", {"model": name, "version": 2, "gates": {"min_r2": 0.99999}})
    assert out["promoted"] is False and out["failed_gates"][0]["source"] == "call"
    err, out = await call(client, "ml_promote", {"model": name, "version": 2})
    assert not err and out["promoted"] is True and out["gates"][0]["gate"] == "min_r2"


async def test_force_needs_admin(manager_client: Any, settings: Settings, two_versions: Two) -> None:
    name, _, _ = two_versions
    err, msg = await call(
        manager_client,
        "ml_promote",
        {"model": name, "version": 2, "force": True, "gates": {"min_r2": 0.9999}},
    )
    assert err and "ml:admin" in msg and "force" in msg
    assert aliases(settings, name) == {"production": 1}
    assert "mlgate.forced_by" not in tags(settings, name, 2)
    # without force the same caller gets the gate report
    err, out = await call(
        manager_client, "ml_promote", {"model": name, "version": 2, "gates": {"min_r2": 0.9999}}
    )
    assert not err and out["promoted"] is False


async def test_force_with_admin_is_recorded_on_the_version(
    client: Any, settings: Settings, two_versions: Two
) -> None:
    name, _, _ = two_versions
    err, out = await call(
        client,
        "ml_promote",
        {"model": name, "version": 2, "force": True, "gates": {"min_r2": 0.9999, "max_mae": 1000.0}},
    )
    assert not err, out
    assert out["promoted"] and out["forced"] and out["skipped_gates"] == ["min_r2"] and out["archived"] == 1
    assert "FORCED" in out["message"]
    t = tags(settings, name, 2)
    assert t["mlgate.forced_by"] == "local" and t["mlgate.forced_at"].endswith("Z")
    assert [g["gate"] for g in json.loads(t["mlgate.forced_gates"])] == ["min_r2"]
    err, info = await call(client, "ml_model_info", {"model": f"{name}@production"})
    assert info["model"]["version"] == 2 and info["lineage"]["mlgate.forced_by"] == "local"
    assert "forced past min_r2" in info["stage_history"][-1]["note"]


async def test_staging_then_production(client: Any, settings: Settings, two_versions: Two) -> None:
    name, _, _ = two_versions
    err, out = await call(client, "ml_promote", {"model": name, "version": 2, "to": "staging"})
    assert not err and out["promoted"] and out["archived"] is None
    assert aliases(settings, name) == {"production": 1, "staging": 2}
    err, pred = await call(client, "ml_predict", {"model": f"{name}@staging", "features": [ROW]})
    assert pred["model"]["version"] == 2
    err, msg = await call(client, "ml_promote", {"model": name, "version": 1, "to": "staging"})
    assert err and "serves production" in msg
    err, out = await call(client, "ml_promote", {"model": name, "version": 2, "to": "production"})
    assert out["promoted"] and out["archived"] == 1
    assert aliases(settings, name) == {"production": 2}  # staging alias left with the version
    err, info = await call(client, "ml_model_info", {"model": f"{name}@2"})
    assert [e["stage"] for e in info["stage_history"]] == ["development", "staging", "production"]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        ({"version": 2, "to": "archived"}, "to"),
        ({"version": 99}, "has no version 99"),
        ({"version": 2, "gates": {"min_r2": "high"}}, "gates"),
        ({"version": 2, "gates": {"above_r2": 0.3}}, "unknown gate 'above_r2'"),
        ({"version": 2, "gates": {"require_drift_check": 1.5}}, "gates"),
    ],
)
async def test_bad_promotions_refused(
    client: Any, two_versions: Two, args: dict[str, Any], needle: str
) -> None:
    name, _, _ = two_versions
    err, msg = await call(client, "ml_promote", {"model": name, **args})
    assert err and needle in msg, msg


async def test_unknown_model_refused(client: Any) -> None:
    err, msg = await call(client, "ml_promote", {"model": "lc-does-not-exist", "version": 1})
    assert err and "no registered model named 'lc-does-not-exist'" in msg


async def test_changes_land_in_the_ledger(runtime: Runtime, client: Any, two_versions: Two) -> None:
    name, _, _ = two_versions
    await call(client, "ml_promote", {"model": name, "version": 2, "gates": {"min_r2": 0.5}})
    await call(client, "ml_rollback", {"model": name})
    await runtime.ledger.flush()
    rows = {r.tool: r for r in runtime.state.tail(200) if (r.model_ref or "").startswith(f"{name}@")}
    assert rows["ml_promote"].outcome == "ok" and rows["ml_promote"].model_ref == f"{name}@2"
    assert rows["ml_rollback"].outcome == "ok" and rows["ml_rollback"].model_ref == f"{name}@1"
    assert rows["ml_promote"].subject == "local" and rows["ml_promote"].digest
