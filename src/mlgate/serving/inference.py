"""The five inference calls, as plain functions over a ``Runtime`` (no MCP here)."""

from __future__ import annotations

from typing import Any

from mlgate.errors import InvalidInput
from mlgate.interfaces.records import check_series, check_texts, to_rows
from mlgate.schemas.inference import (
    AnalyzeResult,
    ClassifyResult,
    ForecastResult,
    IntervalBand,
    PredictResult,
    Segment,
    SegmentResult,
    TextResult,
)
from mlgate.serving.runtime import Runtime

MAX_SERIES = 100_000


async def predict(rt: Runtime, model: str, features: Any) -> PredictResult:
    loaded, stamp = await rt.serve(model, "predictor")
    s = rt.settings
    rows = to_rows(features, loaded.info.features, max_rows=s.max_rows, max_cells=s.max_cells)
    values, warnings = await rt.executor.rows(loaded, "predict", rows)
    return PredictResult(model=stamp, predictions=values, warnings=warnings)


async def classify(rt: Runtime, model: str, features: Any) -> ClassifyResult:
    loaded, stamp = await rt.serve(model, "classifier")
    s = rt.settings
    rows = to_rows(features, loaded.info.features, max_rows=s.max_rows, max_cells=s.max_cells)
    pairs, warnings = await rt.executor.rows(loaded, "classify", rows)
    return ClassifyResult(
        model=stamp,
        labels=[label for label, _ in pairs],
        probabilities=[p for _, p in pairs],
        warnings=warnings,
    )


async def forecast(
    rt: Runtime, model: str, history: Any, horizon: int, levels: list[float] | None
) -> ForecastResult:
    loaded, stamp = await rt.serve(model, "forecaster")
    own = not getattr(loaded.impl, "takes_history", True)  # forecasts from the history it was fitted on
    if own and history:
        raise InvalidInput(
            f"{stamp.name}@{stamp.version} forecasts from the history it was fitted on",
            "send the horizon (and levels) only, without history",
        )
    # no history: the model forecasts from its own data, or its adapter says it needs a history
    hist = [] if own or not history else check_series(history, "history", max_len=MAX_SERIES, min_len=2)
    if not isinstance(horizon, int) or isinstance(horizon, bool) or not 1 <= horizon <= 1000:
        raise InvalidInput(f"horizon {horizon!r} is out of range", "send an integer between 1 and 1000")
    lv = [0.8, 0.95] if levels is None else list(levels)
    point, bands = await rt.executor.call(loaded, loaded.impl.forecast, hist, horizon, lv)
    return ForecastResult(
        model=stamp,
        horizon=horizon,
        forecast=point,
        intervals=[IntervalBand(level=lvl, lower=lo, upper=hi) for lvl, lo, hi in bands],
    )


async def segment(rt: Runtime, model: str, series: Any) -> SegmentResult:
    loaded, stamp = await rt.serve(model, "segmenter")
    values = check_series(series, "series", max_len=MAX_SERIES, min_len=2)
    breaks, segs = await rt.executor.call(loaded, loaded.impl.segment, values)
    return SegmentResult(
        model=stamp, breakpoints=breaks, segments=[Segment(start=a, end=b, mean=m) for a, b, m in segs]
    )


async def analyze(rt: Runtime, model: str, texts: Any) -> AnalyzeResult:
    loaded, stamp = await rt.serve(model, "analyzer")
    items = check_texts(texts, max_items=rt.settings.max_rows)
    out = await rt.executor.call(loaded, loaded.impl.analyze, items)
    return AnalyzeResult(model=stamp, results=[TextResult(label=lbl, score=sc) for lbl, sc in out])
