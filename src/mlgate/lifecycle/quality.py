"""Live quality: the metrics of captured predictions against their actuals, per version.

``live_metrics(kind, stats)`` derives them from a version's summed statistics (``state/quality_sums.py``:
running sums kept as actuals arrive, so a check does not re-read matched rows), with scikit-learn's
definitions:

- predictor: ``mae``, ``rmse``, ``mape``, ``r2`` (two or more actuals);
- classifier: ``accuracy``, ``log_loss`` and ``brier`` (over the classes the model answered with;
  skipped when an actual is a label the model never gives), ``ece`` (expected calibration
  error of the top label), and reliability bins (``calibration``: per bin of top-label
  confidence, its mean confidence, its accuracy and its count);
- forecaster: every matched step counts (an actual of a forecast is a list, one value per step,
  possibly shorter than the horizon; ``null`` steps are skipped): ``mae``, ``rmse``,
  ``coverage_<level %>`` (share of actuals inside that level's interval), ``pinball_<q>`` for each
  interval bound's quantile ((1 ± level) / 2) and ``pinball_0.5`` for the point forecast;
- analyzer: ``accuracy``, ``ece`` and reliability bins (its score is the confidence);
- segmenter: ``breakpoint_precision``, ``breakpoint_recall``, ``breakpoint_f1`` (a true change point
  is found by a predicted one within ``SEGMENT_MARGIN`` indices; the actual is the list of true ones).

``performance`` puts them per version beside the metrics the version was registered with (its
MLflow run's metrics, as ``ml_model_info`` shows them) and the number of matched actuals.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Mapping

import anyio

from mlgate.errors import BackendError, InvalidInput, NotFound
from mlgate.schemas.monitoring import CalibrationBin, PerformanceResult, VersionQuality
from mlgate.serving.runtime import Runtime
from mlgate.state.quality_sums import CALIBRATION_BINS

_WINDOW = re.compile(r"^(\d+(?:\.\d+)?)([smhdw])$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


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


def _bins(s: Mapping[str, float]) -> list[CalibrationBin]:
    out = []
    for b in range(CALIBRATION_BINS):
        count = s.get(f"bin{b}_n", 0.0)
        if count >= 0.5:
            out.append(
                CalibrationBin(
                    lower=b / CALIBRATION_BINS, upper=(b + 1) / CALIBRATION_BINS, count=round(count),
                    confidence=s.get(f"bin{b}_conf", 0.0) / count, accuracy=s.get(f"bin{b}_correct", 0.0) / count,
                )
            )  # fmt: skip
    return out


def _predictor(s: Mapping[str, float], n: float) -> dict[str, float]:
    out = {
        "mae": s.get("abs", 0.0) / n,
        "rmse": math.sqrt(max(s.get("sq", 0.0), 0.0) / n),
        "mape": s.get("ape", 0.0) / n,
    }
    if n >= 2:  # r2_score: 1 - SS_res / SS_tot (1 or 0 when the actuals are constant, as scikit-learn)
        total = s.get("y2", 0.0) - s.get("y", 0.0) ** 2 / n
        if total > 1e-12 * max(s.get("y2", 0.0), 1.0):
            out["r2"] = 1.0 - s.get("sq", 0.0) / total
        else:
            out["r2"] = 1.0 if s.get("sq", 0.0) <= 1e-12 * max(s.get("y2", 0.0), 1.0) else 0.0
    return out


def _labelled(s: Mapping[str, float], n: float) -> dict[str, float]:
    out = {"accuracy": s.get("correct", 0.0) / n}
    if "ll" in s and s.get("foreign", 0.0) < 0.5:
        out["log_loss"] = s.get("ll", 0.0) / n
        out["brier"] = s.get("brier", 0.0) / n
    bins = _bins(s)
    out["ece"] = sum(abs(s.get(f"bin{b}_conf", 0.0) - s.get(f"bin{b}_correct", 0.0)) for b in range(CALIBRATION_BINS)
                     if s.get(f"bin{b}_n", 0.0) >= 0.5) / n if bins else 0.0  # fmt: skip
    return out


def _forecaster(s: Mapping[str, float]) -> dict[str, float]:
    steps = s.get("steps", 0.0)
    if steps < 0.5:
        return {}
    out = {
        "mae": s.get("abs", 0.0) / steps,
        "rmse": math.sqrt(max(s.get("sq", 0.0), 0.0) / steps),
        "pinball_0.5": 0.5 * s.get("abs", 0.0) / steps,
    }
    for key in sorted(k for k in s if k.startswith("band_n|")):
        tag = key.split("|", 1)[1]
        level, count = float(tag), s[key]
        if count < 0.5:
            continue
        out[f"coverage_{level_name(level)}"] = s.get(f"band_in|{tag}", 0.0) / count
        out[f"pinball_{(1 - level) / 2:.6g}"] = s.get(f"band_lo|{tag}", 0.0) / count
        out[f"pinball_{(1 + level) / 2:.6g}"] = s.get(f"band_hi|{tag}", 0.0) / count
    return out


def _segmenter(s: Mapping[str, float]) -> dict[str, float]:
    found, predicted, true = s.get("found", 0.0), s.get("predicted", 0.0), s.get("true", 0.0)
    precision = found / predicted if predicted >= 0.5 else 1.0
    recall = found / true if true >= 0.5 else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return {"breakpoint_precision": precision, "breakpoint_recall": recall, "breakpoint_f1": f1}


def live_metrics(kind: str, stats: Mapping[str, float]) -> tuple[dict[str, float], list[CalibrationBin], int]:
    """The live metrics of one version from its summed statistics (``state/quality_sums.py``), its reliability
    bins, and how many actuals were usable."""
    n = stats.get("n", 0.0)
    if n < 0.5:
        return {}, [], 0
    if kind in ("classifier", "analyzer"):
        return _labelled(stats, n), _bins(stats), round(n)
    if kind == "forecaster":
        return _forecaster(stats), [], round(n)
    if kind == "segmenter":
        return _segmenter(stats), [], round(n)
    return _predictor(stats, n), [], round(n)


def by_version(
    summed: Mapping[tuple[int, str], Mapping[str, float]],
) -> dict[int, tuple[str, Mapping[str, float]]]:
    """One (kind, statistics) per version: the interface with the most matched actuals."""
    out: dict[int, tuple[str, Mapping[str, float]]] = {}
    for (version, kind), stats in sorted(summed.items()):
        if version not in out or stats.get("n", 0.0) > out[version][1].get("n", 0.0):
            out[version] = (kind, stats)
    return out


async def performance(rt: Runtime, model: str, window: str | None = None) -> PerformanceResult:
    """Live quality of every version of ``model`` that captured predictions, in ``window`` (default: all)."""
    name = rt.models.parse(model).name if "@" in model or model.startswith("models:/") else model.strip()
    span = window_seconds(window)
    since = None if span is None else time.time() - span
    store = await rt.captures.opened()
    await anyio.to_thread.run_sync(rt.captures.flush_blocking)
    summed = by_version(await anyio.to_thread.run_sync(lambda: store.quality(name, since)))
    counts = await anyio.to_thread.run_sync(lambda: store.counts(name, since))
    if not counts and not summed:
        await known_model(rt, name)
    versions = []
    for version in sorted(set(counts) | set(summed)):
        kind, stats = summed.get(version, (counts.get(version, (0, "unknown"))[1], {}))
        live, bins, n = live_metrics(kind, stats)
        registered = await registered_metrics(rt, name, version)
        versions.append(
            VersionQuality(
                version=version, kind=kind, predictions=counts.get(version, (0, ""))[0], matched=n, live=live,
                registered=registered, calibration=bins, alerts=rt.captures.warnings(name, version),
            )
        )  # fmt: skip
    return PerformanceResult(name=name, window=window or "all", versions=versions)


async def known_model(rt: Runtime, name: str) -> None:
    """``NotFound`` naming ``name`` unless the registry knows it (called when nothing was captured for it)."""
    reg = rt.models.registry

    def check() -> None:
        try:
            reg.newest(name)
        except NotFound:
            raise
        except Exception:  # the registry cannot answer now: not a reason to claim the model is unknown
            return

    await anyio.to_thread.run_sync(check)


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
