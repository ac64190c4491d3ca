"""The five inference calls, as plain functions over a ``Runtime`` (no MCP here).

``caller`` is who asked (default: the runtime's local caller): a captured prediction is bound to its
subject, so only that subject (or its group) can record its actual.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mlgate.auth.caller import Caller
from mlgate.domain import Distributions
from mlgate.errors import InvalidInput
from mlgate.records.checks import check_series, check_texts, to_rows
from mlgate.records.columns import as_records, batch_size
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
from mlgate.schemas.stamp import ModelStamp
from mlgate.serving.capture import captured, check_keys
from mlgate.serving.execution import Classified
from mlgate.serving.runtime import Runtime

MAX_SERIES = 100_000


def _subject(rt: Runtime, caller: Caller | None) -> str:
    return (caller or rt.local_caller()).subject


async def predict(
    rt: Runtime, model: str, features: Any, keys: list[str] | None = None, *, caller: Caller | None = None
) -> PredictResult:
    loaded, stamp = await rt.serve(model, "predictor")
    s = rt.settings
    rows = to_rows(features, loaded.info.features, max_rows=s.max_rows, max_cells=s.max_cells)
    check_keys(keys, batch_size(features))
    out, warnings = await rt.executor.rows(loaded, "predict", rows)
    values = list(out)
    inputs = as_records(features) if rt.captures.enabled(loaded.info) else features
    ids, warnings = await captured(
        rt, loaded.info, "predictor", values, inputs, keys, warnings, subject=_subject(rt, caller)
    )
    return PredictResult(model=stamp, predictions=values, warnings=warnings, prediction_ids=ids or [])


async def classify(
    rt: Runtime, model: str, features: Any, keys: list[str] | None = None, *, caller: Caller | None = None
) -> ClassifyResult:
    loaded, stamp = await rt.serve(model, "classifier")
    s = rt.settings
    rows = to_rows(features, loaded.info.features, max_rows=s.max_rows, max_cells=s.max_cells)
    check_keys(keys, batch_size(features))
    out, warnings = await rt.executor.rows(loaded, "classify", rows)
    labels, probs = (out.labels, out.probabilities) if isinstance(out, Classified) else _unzipped(out)
    kept: list[Any] = []  # what a capture stores, per row: built only for a version that captures
    if rt.captures.enabled(loaded.info):
        kept = [{"label": a, "probabilities": b} for a, b in zip(labels, probs, strict=True)]
    inputs = as_records(features) if rt.captures.enabled(loaded.info) else features
    ids, warnings = await captured(
        rt, loaded.info, "classifier", kept, inputs, keys, warnings, subject=_subject(rt, caller)
    )
    return _classify_result(stamp, labels, probs, warnings, ids or [])


def _classify_result(
    model: ModelStamp,
    labels: Sequence[str],
    probabilities: Sequence[dict[str, float]],
    warnings: list[str],
    ids: list[str],
) -> ClassifyResult:
    """The result; its distributions validated only when they are not ``Distributions`` (already what
    validation makes: 1,000 rows' dicts cost pydantic ~0.3 ms to copy unchanged)."""
    if type(probabilities) is not Distributions:
        return ClassifyResult(
            model=model, labels=list(labels), probabilities=list(probabilities), warnings=warnings,
            prediction_ids=ids,
        )  # fmt: skip
    result = ClassifyResult(
        model=model, labels=list(labels), probabilities=[], warnings=warnings, prediction_ids=ids
    )
    result.probabilities = probabilities
    return result


def _unzipped(pairs: Sequence[Any]) -> tuple[list[str], list[dict[str, float]]]:
    """``(label, distribution)`` pairs → the two lists (a classify answer that is not a ``Classified``)."""
    return [label for label, _ in pairs], [p for _, p in pairs]


async def forecast(
    rt: Runtime,
    model: str,
    history: Any,
    horizon: int | None,
    levels: list[float] | None,
    key: str | None = None,
    future: list[dict[str, Any]] | None = None,
    *,
    caller: Caller | None = None,
) -> ForecastResult:
    loaded, stamp = await rt.serve(model, "forecaster")
    form = getattr(loaded.impl, "form", "horizon")
    if future is not None or form == "future":
        subject = _subject(rt, caller)
        return await _forecast_future(rt, loaded, stamp, form, history, horizon, levels, key, future, subject)
    if horizon is None:
        raise InvalidInput("horizon is missing", "send how many steps ahead to forecast, e.g. horizon: 12")
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
    keys = None if key is None else [key]
    check_keys(keys, 1)
    point, bands = await rt.executor.call(loaded, loaded.forecaster.forecast, hist, horizon, lv)
    intervals = [IntervalBand(level=lvl, lower=lo, upper=hi) for lvl, lo, hi in bands]
    kept = {"forecast": point, "intervals": [b.model_dump() for b in intervals]}
    inputs = [{"history": hist, "horizon": horizon}]
    ids, warnings = await captured(
        rt, loaded.info, "forecaster", [kept], inputs, keys, [], subject=_subject(rt, caller)
    )
    return ForecastResult(
        model=stamp,
        horizon=horizon,
        forecast=point,
        intervals=intervals,
        warnings=warnings,
        prediction_ids=ids or [],
    )


async def _forecast_future(
    rt: Runtime,
    loaded: Any,
    stamp: Any,
    form: str,
    history: Any,
    horizon: int | None,
    levels: list[float] | None,
    key: str | None,
    future: list[dict[str, Any]] | None,
    subject: str,
) -> ForecastResult:
    """``future``: the rows of the future (time index, regressors) for a model whose signature takes them."""
    from mlgate.adapters.forecasting.future import refuse_form

    impl, name = loaded.impl, f"{stamp.name}@{stamp.version}"
    if form != "future" or future is None:
        raise refuse_form(name, form, getattr(impl, "future_columns", ()))
    if history:
        raise InvalidInput(
            f"{name} forecasts the future rows you send from the data it was fitted on: it takes no history",
            "send future (and levels) only",
        )
    if horizon is not None and horizon != len(future):
        raise InvalidInput(
            f"horizon {horizon} differs from the {len(future)} future rows sent",
            "omit horizon: it is the number of future rows",
        )
    keys = None if key is None else [key]
    check_keys(keys, 1)
    lv = impl.default_levels() if levels is None else list(levels)
    point, bands = await rt.executor.call(loaded, impl.forecast_future, future, lv)
    intervals = [IntervalBand(level=lvl, lower=lo, upper=hi) for lvl, lo, hi in bands]
    kept = {"forecast": point, "intervals": [b.model_dump() for b in intervals]}
    inputs = [{"future": future, "horizon": len(future)}]
    ids, warnings = await captured(rt, loaded.info, "forecaster", [kept], inputs, keys, [], subject=subject)
    return ForecastResult(
        model=stamp,
        horizon=len(point),
        forecast=point,
        intervals=intervals,
        warnings=warnings,
        prediction_ids=ids or [],
    )


async def segment(
    rt: Runtime, model: str, series: Any, key: str | None = None, *, caller: Caller | None = None
) -> SegmentResult:
    loaded, stamp = await rt.serve(model, "segmenter")
    values = check_series(series, "series", max_len=MAX_SERIES, min_len=2)
    keys = None if key is None else [key]
    check_keys(keys, 1)
    breaks, segs = await rt.executor.call(loaded, loaded.segmenter.segment, values)
    kept = {"breakpoints": list(breaks), "length": len(values)}
    ids, warnings = await captured(
        rt, loaded.info, "segmenter", [kept], [{"series": values}], keys, [], subject=_subject(rt, caller)
    )
    return SegmentResult(
        model=stamp, breakpoints=breaks, segments=[Segment(start=a, end=b, mean=m) for a, b, m in segs],
        warnings=warnings, prediction_ids=ids or [],
    )  # fmt: skip


async def analyze(
    rt: Runtime, model: str, texts: Any, keys: list[str] | None = None, *, caller: Caller | None = None
) -> AnalyzeResult:
    loaded, stamp = await rt.serve(model, "analyzer")
    items = check_texts(texts, max_items=rt.settings.max_rows)
    check_keys(keys, len(items))
    out = await rt.executor.call(loaded, loaded.analyzer.analyze, items)
    kept = [{"label": lbl, "score": sc} for lbl, sc in out]
    inputs = [{"text": t} for t in items]
    ids, warnings = await captured(
        rt, loaded.info, "analyzer", kept, inputs, keys, [], subject=_subject(rt, caller)
    )
    return AnalyzeResult(
        model=stamp, results=[TextResult(label=lbl, score=sc) for lbl, sc in out], warnings=warnings,
        prediction_ids=ids or [],
    )  # fmt: skip
