"""One scenario that drives every foundation tool; run on each transport (memory, stdio, HTTP)."""

from __future__ import annotations

from typing import Any

from tests._support import DIABETES_ROW, IRIS_ROW, call


async def exercise_all_tools(client: Any) -> None:
    names = {t.name for t in (await client.list_tools()).tools}
    assert {
        "ml_list_models",
        "ml_model_info",
        "ml_predict",
        "ml_classify",
        "ml_forecast",
        "ml_segment",
        "ml_analyze",
    } <= names

    err, listing = await call(client, "ml_list_models", {})
    assert not err, listing
    by_name = {m["name"]: m for m in listing["models"]}
    for name in ("demo-regressor", "demo-classifier", "demo-forecaster", "demo-segmenter", "demo-sentiment"):
        v1 = by_name[name]["versions"][0]
        assert v1["version"] == 1 and "production" in v1["aliases"] and v1["metrics"], v1

    err, info = await call(client, "ml_model_info", {"model": "demo-regressor@production"})
    assert not err, info
    assert info["model"]["version"] == 1 and info["interfaces"] == ["predictor"]
    assert [f["name"] for f in info["features"]] == list(DIABETES_ROW)
    assert info["features"][0]["min"] < info["features"][0]["mean"] < info["features"][0]["max"]
    assert info["example"]["features"] and info["metrics"]["r2"] > 0.2

    err, pred = await call(
        client, "ml_predict", {"model": "demo-regressor@1", "features": [DIABETES_ROW] * 3}
    )
    assert not err, pred
    assert pred["model"] == {
        "name": "demo-regressor",
        "version": 1,
        "ref": "demo-regressor@1",
        "sha256": info["model"]["sha256"],
    }
    assert len(pred["predictions"]) == 3 and 25 < pred["predictions"][0] < 350

    err, cls = await call(
        client, "ml_classify", {"model": "demo-classifier@production", "features": [IRIS_ROW]}
    )
    assert not err, cls
    assert cls["labels"] == ["setosa"] and cls["model"]["version"] == 1
    probs = cls["probabilities"][0]
    assert set(probs) == {"setosa", "versicolor", "virginica"} and abs(sum(probs.values()) - 1) < 1e-9

    history = info_example = (await call(client, "ml_model_info", {"model": "demo-forecaster@1"}))[1][
        "example"
    ]
    err, fc = await call(
        client,
        "ml_forecast",
        {"model": "demo-forecaster@1", "history": history["history"], "horizon": 6, "levels": [0.8, 0.95]},
    )
    assert not err, fc
    assert len(fc["forecast"]) == 6 and [b["level"] for b in fc["intervals"]] == [0.8, 0.95]
    narrow, wide = fc["intervals"]
    for i, point in enumerate(fc["forecast"]):
        assert wide["lower"][i] < narrow["lower"][i] <= point <= narrow["upper"][i] < wide["upper"][i]
    assert info_example["horizon"] == 12

    series = [0.0] * 40 + [6.0] * 40 + [1.0] * 40
    err, seg = await call(client, "ml_segment", {"model": "demo-segmenter@1", "series": series})
    assert not err, seg
    assert seg["breakpoints"] == [40, 80]
    assert [round(s["mean"]) for s in seg["segments"]] == [0, 6, 1]

    err, an = await call(
        client,
        "ml_analyze",
        {
            "model": "demo-sentiment@1",
            "texts": ["Absolutely superb, I loved it.", "Terrible, a waste of money."],
        },
    )
    assert not err, an
    assert [r["label"] for r in an["results"]] == ["positive", "negative"]
    assert all(0.5 < r["score"] <= 1 for r in an["results"])

    # refusals look the same on every transport
    err, msg = await call(
        client, "ml_predict", {"model": "demo-regressor@latest", "features": [DIABETES_ROW]}
    )
    assert err and "does not pin a version" in msg
    err, msg = await call(client, "ml_classify", {"model": "demo-regressor@1", "features": [DIABETES_ROW]})
    assert err and "not a classifier" in msg and "ml_predict" in msg
