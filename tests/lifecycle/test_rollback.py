"""Rollback, demote, archive and compare."""

from __future__ import annotations

from typing import Any

import pytest

from mlgate.config import Settings
from mlgate.domain import VersionInfo
from mlgate.errors import Refused
from mlgate.lifecycle.stages import set_stage
from mlgate.serving.runtime import Runtime
from tests._support import call
from tests._support.lifecycle import FEATURES, aliases, make_data, register_ridge, tags

pytestmark = pytest.mark.anyio
ROW = dict.fromkeys(FEATURES, 0.0)
Two = tuple[str, VersionInfo, VersionInfo]


async def test_rollback_restores_the_previous_production_version(
    client: Any, settings: Settings, two_versions: Two
) -> None:
    name, _, _ = two_versions
    err, out = await call(client, "ml_promote", {"model": name, "version": 2})
    assert out["promoted"]
    err, out = await call(client, "ml_rollback", {"model": name})
    assert not err, out
    assert out["production"] == 1 and out["archived"] == 2 and out["model"]["version"] == 1
    assert aliases(settings, name) == {"production": 1}
    assert tags(settings, name, 2)["mlgate.stage"] == "archived"
    err, pred = await call(client, "ml_predict", {"model": f"{name}@production", "features": [ROW]})
    assert pred["model"]["version"] == 1 and abs(pred["predictions"][0]) < 5
    err, info = await call(client, "ml_model_info", {"model": f"{name}@1"})
    assert [e["stage"] for e in info["stage_history"]] == ["production", "archived", "production"]
    assert "rolled back from version 2" in info["stage_history"][-1]["note"]
    # and forward again, naming the version: version 2 served production before, so no gates apply
    err, out = await call(client, "ml_rollback", {"model": name, "version": 2})
    assert not err and out["production"] == 2 and out["archived"] == 1
    err, out = await call(client, "ml_rollback", {"model": name, "version": 2})
    assert not err and out["archived"] is None and "nothing changed" in out["message"]


async def test_rollback_refuses_a_version_that_never_served_production(
    client: Any, settings: Settings, two_versions: Two
) -> None:
    name, _, _ = two_versions
    err, msg = await call(client, "ml_rollback", {"model": name, "version": 2})
    assert err and "never served production" in msg and "ml_promote" in msg
    err, msg = await call(client, "ml_rollback", {"model": name})
    assert err and "no earlier version" in msg
    assert aliases(settings, name) == {"production": 1}


async def test_demote_and_archive(
    runtime: Runtime, client: Any, settings: Settings, two_versions: Two
) -> None:
    name, _, _ = two_versions
    await call(client, "ml_promote", {"model": name, "version": 2, "to": "staging"})
    out = await set_stage(runtime, name, 2, "development", caller=runtime.local_caller())
    assert (
        out.stage == "development" and out.previous_stage == "staging" and out.removed_aliases == ["staging"]
    )
    assert aliases(settings, name) == {"production": 1}
    out = await set_stage(runtime, name, 2, "archived", caller=runtime.local_caller())
    assert out.stage == "archived" and tags(settings, name, 2)["mlgate.stage"] == "archived"
    with pytest.raises(Refused, match="serves production"):
        await set_stage(runtime, name, 1, "archived", caller=runtime.local_caller())
    assert aliases(settings, name) == {"production": 1}
    err, info = await call(client, "ml_model_info", {"model": f"{name}@2"})
    assert not err and [e["stage"] for e in info["stage_history"]] == [
        "development",
        "staging",
        "development",
        "archived",
    ]


async def test_compare_shows_metrics_side_by_side_with_deltas(
    client: Any, settings: Settings, two_versions: Two
) -> None:
    name, v1, v2 = two_versions
    x, y = make_data(300, seed=5, noise=5.0)
    v3 = register_ridge(settings, name, x, y)
    err, out = await call(client, "ml_compare", {"model": name, "versions": [2, 1, 3]})
    assert not err, out
    assert out["name"] == name and out["baseline"] == 1  # production is the baseline
    assert [v["version"] for v in out["versions"]] == [2, 1, 3]
    assert out["versions"][1]["aliases"] == ["production"] and out["versions"][1]["stage"] == "production"
    r2 = out["metrics"]["r2"]
    assert r2 == {
        "1": pytest.approx(v1.metrics["r2"]),
        "2": pytest.approx(v2.metrics["r2"]),
        "3": pytest.approx(v3.metrics["r2"]),
    }
    assert out["deltas"]["r2"]["1"] == 0
    assert out["deltas"]["r2"]["2"] == pytest.approx(v2.metrics["r2"] - v1.metrics["r2"], abs=1e-5)
    assert out["deltas"]["mae"]["3"] == pytest.approx(v3.metrics["mae"] - v1.metrics["mae"], abs=1e-5)
    assert out["better"] == {"mae": "lower", "r2": "higher"}
    assert out["best"] == {"mae": 2, "r2": 2}
    err, every = await call(client, "ml_compare", {"model": name})
    assert [v["version"] for v in every["versions"]] == [1, 2, 3]
    err, msg = await call(client, "ml_compare", {"model": name, "versions": [1, 7]})
    assert err and "has no version 7" in msg
