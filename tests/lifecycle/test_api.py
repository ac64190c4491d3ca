"""The lifecycle as plain async functions, the way the skill runtime calls them (no MCP in between)."""

from __future__ import annotations

from typing import Any, cast

import numpy as np
import pytest

from mlgate.auth.caller import Caller
from mlgate.domain import Feature, LoadedModel, VersionInfo
from mlgate.errors import InsufficientScope
from mlgate.lifecycle.drift import check_drift, training_reference
from mlgate.lifecycle.retrain import retrain
from mlgate.lifecycle.stages import promote, rollback
from mlgate.serving.runtime import Runtime
from tests._support.lifecycle import aliases, make_data, records, tags

pytestmark = pytest.mark.anyio
Two = tuple[str, VersionInfo, VersionInfo]
SKILL = Caller("skill:retrain_if_drift", "skills", "memory", frozenset({"ml:read", "ml:infer", "ml:manage"}))


async def test_drift_retrain_promote_as_functions(runtime: Runtime, two_versions: Two) -> None:
    name, _, _ = two_versions
    x, y = make_data(200, seed=4, shift=1.0, weights=np.array([0.0, 1.0, 1.0, 1.0]))
    report = await check_drift(runtime, f"{name}@production", records(x), caller=SKILL)
    assert report.drift_detected and report.recorded
    assert '"by": "skill:retrain_if_drift"' in tags(runtime.settings, name, 1)["mlgate.drift"]

    steps: list[tuple[float, float | None, str | None]] = []

    async def progress(done: float, total: float | None, message: str | None) -> None:
        steps.append((done, total, message))

    result = await retrain(
        runtime,
        f"{name}@production",
        records(x, y),
        "y",
        gates={"min_r2": 0.9},
        caller=SKILL,
        progress=progress,
    )
    assert result.retrained and result.promoted and result.candidate is not None
    assert result.candidate.version == 3 and aliases(runtime.settings, name) == {"production": 3}
    assert tags(runtime.settings, name, 3)["mlgate.lineage.retrained_by"] == "skill:retrain_if_drift"
    assert [s[0] for s in steps] == [0, 1, 2, 3, 4, 5, 6]

    with pytest.raises(InsufficientScope, match="ml:admin"):
        await promote(runtime, name, 2, "production", {"min_r2": 0.99999}, True, caller=SKILL)
    back = await rollback(runtime, name, caller=SKILL)
    assert back.production == 1 and back.archived == 3


def test_reference_falls_back_to_training_statistics() -> None:
    info = VersionInfo(
        name="m",
        version=1,
        interfaces=("predictor",),
        flavor="sklearn",
        source="",
        features=[Feature("a"), Feature("b")],
        stats={
            "a": {"mean": 5.0, "std": 2.0, "min": 0.0, "max": 10.0},
            "b": {"mean": -1.0, "std": 0.5, "min": -3.0, "max": 1.0},
        },
    )
    ref, kind = training_reference(
        LoadedModel(info=info, impl=cast(Any, None), size_bytes=1, local_path="", extra={})
    )
    assert kind == "training_stats" and ref.shape == (1000, 2)
    assert ref[:, 0].mean() == pytest.approx(5.0, abs=0.2) and ref[:, 0].min() >= 0.0
    assert ref[:, 1].std() == pytest.approx(0.5, abs=0.05) and ref[:, 1].max() <= 1.0
