"""Inference tools: predict, classify, forecast, segment, analyze. Thin: the work is in serving/."""

from __future__ import annotations

from typing import Annotated, Any

from mcp.server.mcpserver import Context
from pydantic import Field

from mlgate.schemas.inference import (
    AnalyzeResult,
    ClassifyResult,
    ForecastResult,
    PredictResult,
    SegmentResult,
)
from mlgate.serving import inference
from mlgate.tools.context import Batch, ModelArg, caller, runtime

Records = Annotated[
    Batch,
    Field(
        description="Rows as {feature: value}; the names are in ml_model_info.",
        examples=[
            [
                {
                    "age": 0.04,
                    "sex": 0.05,
                    "bmi": 0.06,
                    "bp": 0.02,
                    "s1": -0.04,
                    "s2": -0.03,
                    "s3": -0.04,
                    "s4": -0.0,
                    "s5": 0.02,
                    "s6": -0.02,
                }
            ]
        ],
    ),
]
Keys = Annotated[list[str], Field(description="Your id per record, for ml_record_actuals.")]


async def predict(
    model: ModelArg,
    features: Records,
    ctx: Context[Any, Any],
    keys: Keys = [],  # noqa: B006
) -> PredictResult:
    """Run a Predictor (regression) on records; returns one number per record, and `model`: the exact
    version that ran. Example: {"model": "demo-regressor@1", "features": [{"age": 0.04, …, "s6": -0.02}]}.
    """
    return await inference.predict(runtime(ctx), model, features, keys or None, caller=caller(ctx))


async def classify(
    model: ModelArg,
    features: Records,
    ctx: Context[Any, Any],
    keys: Keys = [],  # noqa: B006
) -> ClassifyResult:
    """Run a Classifier on records; returns a label and a probability per class for each record.

    Example: {"model": "demo-classifier@production", "features": [{"sepal_length": 5.1, "sepal_width": 3.5,
    "petal_length": 1.4, "petal_width": 0.2}]}.
    """
    return await inference.classify(runtime(ctx), model, features, keys or None, caller=caller(ctx))


async def forecast(
    model: ModelArg,
    ctx: Context[Any, Any],
    horizon: Annotated[
        int | None, Field(description="How many steps ahead (omit when sending future).", ge=1, le=1000)
    ] = None,
    history: Annotated[
        list[float] | None,
        Field(description="Past values, oldest first; omit when the model forecasts from its own."),
    ] = None,
    levels: Annotated[
        list[float] | None,
        Field(description="Prediction-interval levels in (0, 1); default [0.8, 0.95].", max_length=5),
    ] = None,
    key: Annotated[str | None, Field(description="Your id, for ml_record_actuals.", max_length=200)] = None,
    future: Annotated[
        list[dict[str, Any]] | None,
        Field(
            description="The future rows (time column, regressors) for models that take them; see ml_model_info.",
            max_length=1000,
        ),
    ] = None,
) -> ForecastResult:
    """Run a Forecaster: horizon (+ history for models that condition on it), or the future rows for models
    with regressors → point forecast with lower/upper bounds per interval level. ml_model_info gives a full
    example. Example: {"model": "demo-forecaster@1", "history": [ …24+ months… ], "horizon": 12}.
    """
    rt = runtime(ctx)
    return await inference.forecast(
        rt, model, history or [], horizon, levels, key, future, caller=caller(ctx)
    )


async def segment(
    model: ModelArg,
    series: Annotated[list[float], Field(description="The series to split, oldest first.", min_length=2)],
    ctx: Context[Any, Any],
    key: Annotated[str | None, Field(description="Your id, for ml_record_actuals.", max_length=200)] = None,
) -> SegmentResult:
    """Run a Segmenter: finds change points (indices where a new regime starts) and each segment's mean.

    Example: {"model": "demo-segmenter@1", "series": [0.1, 0.0, …, 5.2, 5.1, …]}.
    """
    return await inference.segment(runtime(ctx), model, series, key, caller=caller(ctx))


async def analyze(
    model: ModelArg,
    texts: Annotated[list[str], Field(description="Texts to label, one result per text.", min_length=1)],
    ctx: Context[Any, Any],
    keys: Keys = [],  # noqa: B006
) -> AnalyzeResult:
    """Run an Analyzer (text classifier): returns a label and its score for each text.

    Example: {"model": "demo-sentiment@1", "texts": ["Great battery life", "The support never answered"]}.
    """
    return await inference.analyze(runtime(ctx), model, texts, keys or None, caller=caller(ctx))
