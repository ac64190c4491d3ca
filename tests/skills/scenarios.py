"""Both built-in skills, end to end, checked against calling their steps one by one; run on every transport."""

from __future__ import annotations

import hashlib
from typing import Any

from mlgate.skills.catalog import BUILTIN_DIR
from mlgate.skills.demo_models import BEAR_MARKET, BULL_MARKET, STOCKS
from tests._support import call

HISTORY = [
    188.62,
    189.31,
    190.7,
    186.57,
    189.91,
    195.54,
    189.34,
    186.68,
    169.94,
    169.65,
    172.22,
    183.91,
    191.38,
    193.9,
    192.92,
    202.26,
    195.7,
    191.86,
    192.18,
    187.4,
    175.46,
    176.4,
    180.01,
    186.92,
]
HEADLINES = ["Great quarter, demand is superb", "Customers angry as the support team never answered"]


async def run_skill(client: Any, skill: str, inputs: dict[str, Any]) -> tuple[bool, Any]:
    return await call(client, "ml_run_skill", {"skill": skill, "inputs": inputs})


async def direct_alpha(
    client: Any, market: list[dict[str, float]], stocks: list[dict[str, float]]
) -> dict[str, Any]:
    """regime_aware_alpha by hand: ml_classify, then ml_predict on the regime's own model."""
    err, regime = await call(client, "ml_classify", {"model": "demo-regime@1", "features": market})
    assert not err, regime
    label = regime["labels"][-1]
    err, alpha = await call(client, "ml_predict", {"model": f"demo-alpha-{label}@1", "features": stocks})
    assert not err, alpha
    return {
        "regime": label,
        "regime_probabilities": regime["probabilities"][-1],
        "alpha": alpha["predictions"],
        "predictor": alpha["model"],
    }


async def direct_forecast(
    client: Any, history: list[float], headlines: list[str], levels: list[float]
) -> dict[str, Any]:
    """multi_horizon_forecast by hand: three ml_forecast calls and one ml_analyze."""
    out: dict[str, Any] = {}
    for key, horizon in (("next_month", 1), ("next_quarter", 3), ("next_year", 12)):
        err, fc = await call(
            client,
            "ml_forecast",
            {"model": "demo-forecaster@1", "history": history, "horizon": horizon, "levels": levels},
        )
        assert not err, fc
        out[key], out[f"{key}_intervals"] = fc["forecast"], fc["intervals"]
    err, sentiment = await call(client, "ml_analyze", {"model": "demo-sentiment@1", "texts": headlines})
    assert not err, sentiment
    out["sentiment"] = sentiment["results"]
    return out


async def exercise_skills(client: Any) -> None:
    names = {t.name for t in (await client.list_tools()).tools}
    assert {"ml_list_skills", "ml_run_skill"} <= names

    err, listing = await call(client, "ml_list_skills", {})
    assert not err, listing
    by_ref = {f"{s['name']}@{s['version']}": s for s in listing["skills"]}
    for ref in ("regime_aware_alpha@1", "multi_horizon_forecast@1"):
        entry = by_ref[ref]
        shipped = (BUILTIN_DIR / f"{entry['name']}.yaml").read_bytes()
        assert entry["digest"] == hashlib.sha256(shipped).hexdigest()
        assert entry["locked"] and entry["runnable"] and entry["error"] is None, entry
        assert entry["inputs"]["type"] == "object" and entry["example"] and entry["description"]

    # regime_aware_alpha: both routes, each equal to the two calls made by hand
    for market, regime in ((BULL_MARKET, "bull"), (BEAR_MARKET, "bear")):
        err, run = await run_skill(client, "regime_aware_alpha@1", {"market": [market], "stocks": STOCKS})
        assert not err, run
        assert run["status"] == "ok" and run["skill"] == "regime_aware_alpha@1" and len(run["run_id"]) == 32
        assert run["digest"] == by_ref["regime_aware_alpha@1"]["digest"]
        assert run["outputs"]["regime"] == regime
        assert run["outputs"]["predictor"]["name"] == f"demo-alpha-{regime}"
        assert run["outputs"] == await direct_alpha(client, [market], STOCKS)
        assert [(s["id"], s["outcome"], s["model"]["name"], s["model"]["version"]) for s in run["steps"]] == [
            ("regime", "ok", "demo-regime", 1),
            ("alpha", "ok", f"demo-alpha-{regime}", 1),
        ]
        assert run["steps"][1]["route"] == regime

    # multi_horizon_forecast: the default levels, and the example ml_list_skills shows
    err, run = await run_skill(
        client, "multi_horizon_forecast@1", {"history": HISTORY, "headlines": HEADLINES}
    )
    assert not err, run
    assert run["outputs"] == await direct_forecast(client, HISTORY, HEADLINES, [0.8, 0.95])
    assert [len(run["outputs"][k]) for k in ("next_month", "next_quarter", "next_year")] == [1, 3, 12]
    assert [r["label"] for r in run["outputs"]["sentiment"]] == ["positive", "negative"]
    assert [s["id"] for s in run["steps"]] == ["next_month", "next_quarter", "next_year", "sentiment"]
    example = by_ref["multi_horizon_forecast@1"]["example"]
    err, run = await run_skill(client, "multi_horizon_forecast@1", {**example, "levels": [0.5]})
    assert not err, run
    assert [b["level"] for b in run["outputs"]["next_year_intervals"]] == [0.5]
    assert run["outputs"] == await direct_forecast(client, example["history"], example["headlines"], [0.5])

    # refused references
    for bad, needle in (
        ("regime_aware_alpha", "not a skill reference"),
        ("regime_aware_alpha@latest", "not a skill reference"),
        ("no_such_skill@1", "no skill no_such_skill@1"),
    ):
        err, msg = await run_skill(client, bad, {})
        assert err and needle in msg, msg
    err, msg = await run_skill(client, "regime_aware_alpha@1", {"market": [BULL_MARKET]})
    assert err and "inputs.stocks: Field required" in msg, msg
