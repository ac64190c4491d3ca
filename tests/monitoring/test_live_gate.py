"""The promotion gate ``require_live_not_worse``: no evidence fails; shadow traffic to both versions with the
same keys, one actual per key, decides; a worse candidate is refused with both values in the reason."""

from __future__ import annotations

import pytest

from tests._support.monitoring import FEATURES, Session, records, regression_data

pytestmark = pytest.mark.anyio
GATE = {"require_live_not_worse": True}


async def test_live_gate_needs_evidence_then_compares(session: Session) -> None:
    res = await session.ok("ml_promote", {"model": "mon-gate", "version": 2, "gates": GATE})
    assert res["promoted"] is False
    (failed,) = res["failed_gates"]
    assert failed["gate"] == "require_live_not_worse" and "not enough live evidence" in failed["reason"]

    x, y = regression_data(25, seed=51)
    keys = [f"shadow-{i}" for i in range(25)]
    for ref in ("mon-gate@production", "mon-gate@2"):  # the same requests to the incumbent and the candidate
        out = await session.ok("ml_predict", {"model": ref, "features": records(x, FEATURES), "keys": keys})
        assert len(out["prediction_ids"]) == 25
    res = await session.ok(
        "ml_record_actuals", {"model": "mon-gate", "actuals": dict(zip(keys, y.tolist(), strict=True))}
    )
    assert res["recorded"] == 25 and res["unknown"] == []
    perf = await session.ok("ml_performance", {"model": "mon-gate"})
    by_version = {v["version"]: v for v in perf["versions"]}
    assert by_version[1]["matched"] == by_version[2]["matched"] == 25
    assert by_version[2]["live"]["mae"] < by_version[1]["live"]["mae"]

    res = await session.ok("ml_promote", {"model": "mon-gate", "version": 2, "gates": GATE})
    assert res["promoted"] is True, res
    gate = next(g for g in res["gates"] if g["gate"] == "require_live_not_worse")
    assert gate["passed"] and "not worse than the incumbent's (version 1)" in gate["reason"]
    assert gate["actual"] == pytest.approx(by_version[2]["live"]["mae"])

    # back to the biased version through the promotion gate: worse live, refused
    res = await session.ok("ml_promote", {"model": "mon-gate", "version": 1, "gates": GATE})
    assert res["promoted"] is False
    assert "is worse than the incumbent's (version 2)" in res["failed_gates"][0]["reason"]
