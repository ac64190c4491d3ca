"""Live quality: the metrics of captured predictions against their actuals, per version.

``live_metrics(kind, matched)`` computes, with scikit-learn's metrics (numpy where it has none):

- predictor: ``mae``, ``rmse``, ``mape``, ``r2`` (two or more actuals);
- classifier: ``accuracy``, ``log_loss`` and ``brier`` (over the classes the model answered with;
  skipped when an actual is a label the model never gives), ``ece`` (expected calibration
  error of the top label), and reliability bins (``calibration``: per bin of top-label
  confidence, its mean confidence, its accuracy and its count);
- forecaster: every matched step counts (an actual of a forecast is a list, one value per step,
  possibly shorter than the horizon; ``null`` steps are skipped): ``mae``, ``rmse``,
  ``coverage_<level %>`` (share of actuals inside that level's interval), ``pinball_<q>`` for each
  interval bound's quantile ((1 ± level) / 2) and ``pinball_0.5`` for the point forecast.

``performance`` puts them per version beside the metrics the version was registered with (its
MLflow run's metrics, as ``ml_model_info`` shows them) and the number of matched actuals.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Sequence
from typing import Any

import anyio
import numpy as np

from mlgate.errors import BackendError, InvalidInput, NotFound
from mlgate.schemas.monitoring import CalibrationBin, PerformanceResult, VersionQuality
from mlgate.serving.runtime import Runtime
from mlgate.state.captures import Matched

_WINDOW = re.compile(r"^(\d+(?:\.\d+)?)([smhdw])$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
CALIBRATION_BINS = 5


def window_seconds(window: str | None) -> float | None:
    """``"7d"``, ``"24h"``, ``"90m"``, ``"3600s"``, ``"2w"`` → seconds; None or ``"all"`` → no limit."""
    if window is None or window.strip().lower() in ("", "all"):
        return None
    m = _WINDOW.match(window.strip().lower())
    if m is None or float(m.group(1)) <= 0:
        raise InvalidInput(f"window {window!r} is not a duration", "send e.g. '24h', '7d', '30m' or 'all'")
    return float(m.group(1)) * _UNIT[m.group(2)]


def level_name(level: float) -> str:
    return f"{level * 100:.10g}"


def _num(v: Any) -> float | None:
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        return None
    return float(v)


def predictor_metrics(y: Sequence[float], p: Sequence[float]) -> dict[str, float]:
    from sklearn.metrics import (
        mean_absolute_error,
        mean_absolute_percentage_error,
        r2_score,
        root_mean_squared_error,
    )

    if not y:
        return {}
    out = {
        "mae": float(mean_absolute_error(y, p)),
        "rmse": float(root_mean_squared_error(y, p)),
        "mape": float(mean_absolute_percentage_error(y, p)),
    }
    if len(y) >= 2:
        out["r2"] = float(r2_score(y, p))
    return out


def classifier_metrics(
    y: Sequence[str], labels: Sequence[str], probs: Sequence[dict[str, float]]
) -> tuple[dict[str, float], list[CalibrationBin]]:
    from sklearn.metrics import accuracy_score, brier_score_loss, log_loss

    if not y:
        return {}, []
    out = {"accuracy": float(accuracy_score(y, labels))}
    classes = sorted({c for p in probs for c in p})
    if classes and set(y) <= set(classes):
        matrix = np.array([[p.get(c, 0.0) for c in classes] for p in probs])
        out["log_loss"] = float(log_loss(y, matrix, labels=classes))
        if len(classes) == 2:
            out["brier"] = float(brier_score_loss(y, matrix[:, 1], pos_label=classes[1]))
        else:
            out["brier"] = float(brier_score_loss(y, matrix, labels=classes))
    conf = np.array([p.get(lbl, max(p.values(), default=0.0)) for p, lbl in zip(probs, labels, strict=True)])
    correct = np.array([a == b for a, b in zip(y, labels, strict=True)], dtype=float)
    bins = _reliability(conf, correct)
    out["ece"] = float(sum(b.count * abs(b.confidence - b.accuracy) for b in bins) / len(y))
    return out, bins


def _reliability(conf: np.ndarray, correct: np.ndarray) -> list[CalibrationBin]:
    edges = np.linspace(0.0, 1.0, CALIBRATION_BINS + 1)
    which = np.clip(np.digitize(conf, edges[1:-1], right=True), 0, CALIBRATION_BINS - 1)
    out = []
    for b in range(CALIBRATION_BINS):
        mask = which == b
        if mask.any():
            out.append(
                CalibrationBin(
                    lower=float(edges[b]), upper=float(edges[b + 1]), count=int(mask.sum()),
                    confidence=float(conf[mask].mean()), accuracy=float(correct[mask].mean()),
                )
            )  # fmt: skip
    return out


def forecaster_metrics(rows: Sequence[tuple[dict[str, Any], list[Any]]]) -> dict[str, float]:
    """``rows``: (captured forecast ``{forecast, intervals}``, actuals per step)."""
    from sklearn.metrics import mean_absolute_error, mean_pinball_loss, root_mean_squared_error

    y: list[float] = []
    point: list[float] = []
    bands: dict[float, tuple[list[float], list[float], list[float]]] = {}
    for pred, actual in rows:
        for step, a in enumerate(actual[: len(pred["forecast"])]):
            value = _num(a)
            if value is None:
                continue
            y.append(value)
            point.append(float(pred["forecast"][step]))
            for band in pred.get("intervals", []):
                ys, lo, hi = bands.setdefault(float(band["level"]), ([], [], []))
                ys.append(value)
                lo.append(float(band["lower"][step]))
                hi.append(float(band["upper"][step]))
    if not y:
        return {}
    out = {
        "mae": float(mean_absolute_error(y, point)),
        "rmse": float(root_mean_squared_error(y, point)),
        "pinball_0.5": float(mean_pinball_loss(y, point, alpha=0.5)),
    }
    for level, (ys, lo, hi) in sorted(bands.items()):
        arr, low, high = np.asarray(ys), np.asarray(lo), np.asarray(hi)
        out[f"coverage_{level_name(level)}"] = float(np.mean((arr >= low) & (arr <= high)))
        q_lo, q_hi = (1 - level) / 2, (1 + level) / 2
        out[f"pinball_{q_lo:.6g}"] = float(mean_pinball_loss(arr, low, alpha=q_lo))
        out[f"pinball_{q_hi:.6g}"] = float(mean_pinball_loss(arr, high, alpha=q_hi))
    return out


def live_metrics(kind: str, matched: Sequence[Matched]) -> tuple[dict[str, float], list[CalibrationBin], int]:
    """The live metrics of one version's matched predictions, its reliability bins, and how many actuals
    were usable (an actual of the wrong type — a label for a predictor — is skipped, not fatal)."""
    if kind == "classifier":
        rows = [(str(m.actual), m.prediction) for m in matched if isinstance(m.actual, str | int | bool)]
        metrics, bins = classifier_metrics(
            [a for a, _ in rows], [str(p["label"]) for _, p in rows], [p["probabilities"] for _, p in rows]
        )
        return metrics, bins, len(rows)
    if kind == "forecaster":
        frows = [(m.prediction, m.actual) for m in matched if isinstance(m.actual, list)]
        return forecaster_metrics(frows), [], len(frows)
    pairs = [
        (a, p) for m in matched if (a := _num(m.actual)) is not None and (p := _num(m.prediction)) is not None
    ]
    return predictor_metrics([a for a, _ in pairs], [p for _, p in pairs]), [], len(pairs)


async def performance(rt: Runtime, model: str, window: str | None = None) -> PerformanceResult:
    """Live quality of every version of ``model`` that captured predictions, in ``window`` (default: all)."""
    name = rt.models.parse(model).name if "@" in model or model.startswith("models:/") else model.strip()
    span = window_seconds(window)
    since = None if span is None else time.time() - span
    store = await rt.captures.opened()
    await anyio.to_thread.run_sync(rt.captures.flush_blocking)
    matched = await anyio.to_thread.run_sync(lambda: store.matched(name, since))
    counts = await anyio.to_thread.run_sync(lambda: store.counts(name, since))
    by_version: dict[int, list[Matched]] = {}
    for m in matched:
        by_version.setdefault(m.version, []).append(m)
    versions = []
    for version in sorted(set(counts) | set(by_version)):
        rows = by_version.get(version, [])
        kind = rows[0].kind if rows else "unknown"
        live, bins, n = live_metrics(kind, rows)
        registered = await registered_metrics(rt, name, version)
        versions.append(
            VersionQuality(
                version=version, kind=kind, predictions=counts.get(version, 0), matched=n, live=live,
                registered=registered, calibration=bins, alerts=rt.captures.warnings(name, version),
            )
        )  # fmt: skip
    return PerformanceResult(name=name, window=window or "all", versions=versions)


async def registered_metrics(rt: Runtime, name: str, version: int) -> dict[str, float]:
    """The metrics the version was registered with (its run's metrics); empty when it is gone."""
    reg = rt.models.registry

    def read() -> dict[str, float]:
        try:
            info = reg.version(name, version)
        except NotFound:
            return {}
        except BackendError:  # logged where translated: no registered metrics to show now
            return {}
        return dict(info.metrics or reg.run_metrics(info.run_id))

    return await anyio.to_thread.run_sync(read)
