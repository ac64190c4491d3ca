"""Degradation that acts: shifted actuals break a rule → a warning in that version's results, a ledger row,
the Prometheus counter and gauge, and (rule ``retrain``) an ml_retrain job of the version on the captured
inputs; a rule that passes again clears the warning."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest

from mlgate.lifecycle.degradation import judge, parse_rules
from tests._support.monitoring import (
    FEATURES,
    Plain,
    Session,
    make_settings,
    open_session,
    records,
    regression_data,
)

pytestmark = pytest.mark.anyio


async def _predict_and_shift(s: Session, n: int, shift: float, seed: int) -> tuple[list[str], Any]:
    x, y = regression_data(n, seed=seed)
    out = await s.ok("ml_predict", {"model": "mon-reg@1", "features": records(x, FEATURES)})
    actuals = {i: float(v) + shift for i, v in zip(out["prediction_ids"], y, strict=True)}
    return out["prediction_ids"], await s.ok("ml_record_actuals", {"model": "mon-reg", "actuals": actuals})


async def test_degraded_model_warns_and_starts_a_retrain(plain: Plain, tmp_path: Path) -> None:
    rules = {"mon-reg": {"max_mae_ratio": 1.25, "min_actuals": 60, "retrain": True}}
    async with open_session(make_settings(plain, tmp_path, quality_rules=rules)) as s:
        # too few actuals: nothing is judged yet
        _, res = await _predict_and_shift(s, 30, 8.0, seed=31)
        assert res["degraded"] == [] and res["retrain_jobs"] == []
        _, res = await _predict_and_shift(s, 30, 8.0, seed=32)
        assert [d["rule"] for d in res["degraded"]] == ["max_mae_ratio"]
        assert "above the rule max_mae_ratio=1.25 (60 actuals)" in res["degraded"][0]["message"]
        (job_id,) = res["retrain_jobs"]

        out = await s.ok(
            "ml_predict", {"model": "mon-reg@1", "features": records(regression_data(1, 33)[0], FEATURES)}
        )
        assert any("quality degraded: live mae" in w for w in out["warnings"])
        perf = await s.ok("ml_performance", {"model": "mon-reg"})
        assert (
            perf["versions"][0]["alerts"]
            and perf["versions"][0]["live"]["mae"] > 1.25 * perf["versions"][0]["registered"]["mae"]
        )

        from prometheus_client.parser import text_string_to_metric_families

        samples = {
            (sm.name, tuple(sorted(sm.labels.items()))): sm.value
            for family in text_string_to_metric_families(s.rt.prometheus())
            for sm in family.samples
        }
        degraded = ("mlgate_degradations_total", (("model", "mon-reg"), ("rule", "max_mae_ratio")))
        assert samples[degraded] == 1
        gauge = ("mlgate_live_quality", (("metric", "mae"), ("model", "mon-reg"), ("version", "1")))
        assert samples[gauge] == pytest.approx(perf["versions"][0]["live"]["mae"])
        await s.rt.ledger.flush()
        rows = await anyio.to_thread.run_sync(lambda: s.rt.state.tail(50))
        (row,) = [r for r in rows if r.tool == "quality.degraded"]
        assert (
            row.model_ref == "mon-reg@1"
            and row.error_class == "Degraded"
            and "max_mae_ratio" in (row.error_message or "")
        )

        # the same failing rule again: no second alert, no second job
        _, res = await _predict_and_shift(s, 5, 8.0, seed=34)
        assert res["degraded"] == [] and res["retrain_jobs"] == []

        rec = await s.app.jobs.wait(job_id, 120)
        assert rec.status == "succeeded", rec.error
        assert rec.tool == "ml_retrain" and rec.result is not None
        assert rec.result["candidate"]["name"] == "mon-reg" and rec.result["promoted"] is False


async def test_rule_without_retrain_and_recovery(plain: Plain, tmp_path: Path) -> None:
    rules = {"mon-*": {"max_mae": 2.0, "min_actuals": 10}}
    async with open_session(make_settings(plain, tmp_path, quality_rules=rules)) as s:
        ids, res = await _predict_and_shift(s, 10, 5.0, seed=41)
        assert [d["rule"] for d in res["degraded"]] == ["max_mae"] and res["retrain_jobs"] == []
        x, y = regression_data(10, seed=41)
        fixed = dict(zip(ids, y.tolist(), strict=True))  # the true values after all: the rule passes again
        res = await s.ok("ml_record_actuals", {"model": "mon-reg", "actuals": fixed})
        assert res["degraded"] == [] and res["duplicates"] == 10
        out = await s.ok("ml_predict", {"model": "mon-reg@1", "features": records(x[:1], FEATURES)})
        assert not any("quality degraded" in w for w in out["warnings"])


async def test_coverage_rule_from_the_model_tag(plain: Plain, tmp_path: Path) -> None:
    from mlflow import MlflowClient

    client = MlflowClient(plain.uri, plain.uri)
    client.set_registered_model_tag("mon-fc", "mlgate.quality", '{"min_coverage_95": 0.9, "min_actuals": 1}')
    try:
        async with open_session(make_settings(plain, tmp_path)) as s:
            out = await s.ok("ml_forecast", {"model": "mon-fc@1", "horizon": 4, "levels": [0.95]})
            far = [v + 1000.0 for v in out["forecast"]]
            res = await s.ok(
                "ml_record_actuals", {"model": "mon-fc", "actuals": {out["prediction_ids"][0]: far}}
            )
            assert [d["rule"] for d in res["degraded"]] == ["min_coverage_95"]
            again = await s.ok("ml_forecast", {"model": "mon-fc@1", "horizon": 4})
            assert any("coverage_95 0" in w and "below" in w for w in again["warnings"])
    finally:
        client.delete_registered_model_tag("mon-fc", "mlgate.quality")


def test_judge_ratios_fixed_thresholds_and_minimum() -> None:
    rules = parse_rules({"max_mae_ratio": 1.25, "min_accuracy": 0.8, "min_actuals": 5}, "rules")
    assert judge(rules, {"mae": 1.0, "accuracy": 0.9}, {"mae": 1.0}, 5) == {}
    failing = judge(rules, {"mae": 1.3, "accuracy": 0.7}, {"mae": 1.0}, 5)
    assert sorted(failing) == ["max_mae_ratio", "min_accuracy"]
    assert judge(rules, {"mae": 9.0, "accuracy": 0.1}, {"mae": 1.0}, 4) == {}  # too few actuals
    assert judge(rules, {"mae": 9.0}, {}, 5) == {}  # no registered mae: the ratio is not judged
    with pytest.raises(Exception, match="is not a rule"):
        parse_rules({"sometimes": 1}, "rules")
