"""``mlgate demo``: trains and registers the demo models; idempotent.

Each model becomes version 1 with the alias ``production`` and its training metrics:
demo-regressor (diabetes, Ridge), demo-classifier (iris, logistic regression),
demo-forecaster (a statsmodels SARIMAX logged with ``mlflow.statsmodels``),
demo-segmenter (ruptures change points), demo-sentiment (TF-IDF + logistic regression on the corpus shipped in
``mlgate/data/sentiment.csv``), and for the built-in skills demo-regime, demo-alpha-bull and
demo-alpha-bear (synthetic market data, see ``mlgate.skills.demo_models``). Everything is
local: no downloads.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from importlib import resources
from typing import Any

import numpy as np

from mlgate.config import Settings
from mlgate.models.registrar import Registrar
from mlgate.skills.demo_models import BUILDERS as SKILL_MODELS

IRIS_FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


def _regressor(reg: Registrar) -> None:
    from sklearn.datasets import load_diabetes
    from sklearn.linear_model import Ridge
    from sklearn.metrics import mean_absolute_error, r2_score
    from sklearn.model_selection import train_test_split

    data = load_diabetes()
    x, y = np.asarray(data.data, dtype=np.float64), np.asarray(data.target, dtype=np.float64)
    names = [str(n) for n in data.feature_names]
    xtr, xte, ytr, yte = train_test_split(x, y, test_size=0.2, random_state=0)
    est = Ridge(alpha=0.1).fit(xtr, ytr)
    pred = est.predict(xte)
    metrics = {"r2": float(r2_score(yte, pred)), "mae": float(mean_absolute_error(yte, pred))}
    reg.register_sklearn(
        "demo-regressor",
        est,
        xtr,
        names,
        metrics,
        alias="production",
        description="Ridge regression of diabetes progression (scikit-learn's diabetes data).",
    )


def _classifier(reg: Registrar) -> None:
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, log_loss
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    data = load_iris()
    x = np.asarray(data.data, dtype=np.float64)
    y = np.asarray([str(data.target_names[i]) for i in data.target])
    xtr, xte, ytr, yte = train_test_split(x, y, test_size=0.3, random_state=0, stratify=y)
    est = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(xtr, ytr)
    metrics = {
        "accuracy": float(accuracy_score(yte, est.predict(xte))),
        "log_loss": float(log_loss(yte, est.predict_proba(xte), labels=est.classes_)),
    }
    reg.register_sklearn(
        "demo-classifier",
        est,
        xtr,
        IRIS_FEATURES,
        metrics,
        alias="production",
        description="Iris species from flower measurements (logistic regression).",
        extra_meta={"classes": [str(c) for c in est.classes_], "units": dict.fromkeys(IRIS_FEATURES, "cm")},
    )


def forecast_series(n: int = 240, seed: int = 0) -> Any:
    """A deterministic monthly series (pandas, month starts from 2006): level, trend, yearly cycle, noise."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    t = np.arange(n, dtype=np.float64)
    angle = 2.0 * np.pi * t / 12
    y = 100.0 + 0.4 * t + 12.0 * np.sin(angle) + 5.0 * np.cos(2.0 * angle) + rng.normal(0.0, 2.5, n)
    return pd.Series(np.round(y, 3), index=pd.date_range("2006-01-01", periods=n, freq="MS"), name="y")


def _sarimax(series: Any) -> Any:
    from statsmodels.tsa.statespace.sarimax import SARIMAX

    return SARIMAX(series, order=(1, 0, 0), seasonal_order=(0, 1, 1, 12), trend="c").fit(disp=False)


def _forecaster(reg: Registrar) -> None:
    """A seasonal SARIMAX from statsmodels, logged with mlflow.statsmodels like any team's model."""
    import mlflow
    import mlflow.statsmodels

    series = forecast_series()
    train, test = series.iloc[:-12], series.to_numpy()[-12:]
    fc = _sarimax(train).get_forecast(12)
    err = test - fc.predicted_mean.to_numpy()
    metrics = {"mae": float(np.mean(np.abs(err))), "rmse": float(np.sqrt(np.mean(err**2)))}
    for level, key in ((0.8, "coverage_80"), (0.95, "coverage_95")):
        ci = fc.conf_int(alpha=1 - level).to_numpy()
        metrics[key] = float(np.mean((ci[:, 0] <= test) & (test <= ci[:, 1])))
    results = _sarimax(series)
    example = {
        "history": [round(float(v), 3) for v in series.to_numpy()[-48:]],
        "horizon": 12,
        "levels": [0.8, 0.95],
    }
    with mlflow.start_run(experiment_id=reg.experiment_id(), run_name="demo-forecaster-fit") as run:
        for k, v in metrics.items():
            mlflow.log_metric(k, v)
        info = mlflow.statsmodels.log_model(
            results,
            name="model",
            metadata={"mlgate": {"interfaces": ["forecaster"], "example": example}},
            pip_requirements=_pins("statsmodels", "numpy", "pandas"),
        )
    reg.register_run(
        "demo-forecaster", info.model_uri or f"runs:/{run.info.run_id}/model", alias="production"
    )
    reg.registry.describe_model(
        "demo-forecaster",
        "Monthly SARIMAX(1,0,0)(0,1,1,12) from statsmodels; conditions on the "
        "caller's history (at least 24 months) with its fitted parameters, intervals from get_forecast.",
    )


def _pins(*names: str) -> list[str]:
    """Explicit requirements: MLflow's inference of them imports every installed ML library (seconds)."""
    from importlib.metadata import version

    return [f"{n}=={version(n)}" for n in names]


def _segmenter(reg: Registrar) -> None:
    """ruptures change points (KernelCPD, linear kernel); the model is its settings, stored as JSON."""
    from mlgate.adapters.changepoint import fit_segmenter, make_demo_series

    params = fit_segmenter(seed=0)
    metrics = {k: float(v) for k, v in params.get("metrics", {}).items()}
    series, _ = make_demo_series(seed=1)
    example = {"series": [round(v, 3) for v in series]}
    reg.register_native(
        "demo-segmenter",
        "ruptures",
        params,
        metrics,
        alias="production",
        description="Mean-shift change points with ruptures (PELT, l2 cost, penalty scaled by "
        "the series' noise).",
        extra_meta={"example": example},
    )


def sentiment_corpus() -> tuple[list[str], list[str]]:
    text = resources.files("mlgate").joinpath("data/sentiment.csv").read_text(encoding="utf-8")
    rows = list(csv.DictReader(text.splitlines()))
    return [r["text"] for r in rows], [r["label"] for r in rows]


def _sentiment(reg: Registrar) -> None:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, f1_score
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline

    texts, labels = sentiment_corpus()
    xtr, xte, ytr, yte = train_test_split(texts, labels, test_size=0.25, random_state=0, stratify=labels)
    est = make_pipeline(
        TfidfVectorizer(ngram_range=(1, 2), min_df=1, sublinear_tf=True),
        LogisticRegression(max_iter=1000, C=4.0),
    ).fit(xtr, ytr)
    pred = est.predict(xte)
    metrics = {
        "accuracy": float(accuracy_score(yte, pred)),
        "f1_macro": float(f1_score(yte, pred, average="macro")),
    }
    example = {"texts": ["The battery lasts all day, superb.", "The support team never answered."]}
    reg.register_sklearn(
        "demo-sentiment",
        est,
        np.zeros((1, 1)),
        [],
        metrics,
        alias="production",
        text_input=True,
        description="Sentiment of short English reviews (TF-IDF + logistic regression).",
        extra_meta={"example": example},
    )


BUILDERS: dict[str, Callable[[Registrar], None]] = {
    "demo-regressor": _regressor,
    "demo-classifier": _classifier,
    "demo-forecaster": _forecaster,
    "demo-segmenter": _segmenter,
    "demo-sentiment": _sentiment,
    **SKILL_MODELS,  # demo-regime, demo-alpha-bull, demo-alpha-bear: what regime_aware_alpha runs
}


def seed_demo(settings: Settings, echo: Callable[[str], Any] = print) -> list[str]:
    """Register every demo model that is not there yet; returns the names registered now."""
    reg = Registrar(settings, admit_by="mlgate demo")  # the demo's own models, built in this process
    made = []
    for name, build in BUILDERS.items():
        if reg.exists(name, 1):
            echo(f"  {name}@1 already registered")
            continue
        build(reg)
        made.append(name)
        echo(f"  {name}@1 registered (alias production)")
    return made
