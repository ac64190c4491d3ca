"""Running sums of live-quality statistics, so a quality check reads a few rows instead of every matched one.

``row_stats(kind, prediction, actual)`` is one matched prediction's contribution: additive statistics
(a count, a sum of absolute errors, of squared errors, of log-losses, per-bin confidence sums, …) from
which ``lifecycle/quality.py`` derives every live metric. ``quality_sums`` keeps them per model,
version, interface and hour of prediction (``bucket``), plus a running total over every retained
hour (``bucket = -1``). Recording an actual adds its contribution (and takes away the one of the
actual it replaces) in the transaction that joins it; retention takes away what it deletes. A check
then sums the total (no window) or the hours of its window — its cost depends on the window, not on
how many actuals were matched. The statement is an ``INSERT … ON CONFLICT DO UPDATE SET value =
value + excluded.value``, the same text on SQLite and PostgreSQL, atomic under concurrent writers.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

import sqlalchemy as sa

from mlgate.numbers import finite

BUCKET_S = 3600
TOTAL = -1  # the bucket that holds every retained hour
CALIBRATION_BINS = 5
_EDGES = [i / CALIBRATION_BINS for i in range(1, CALIBRATION_BINS)]  # interior edges of the confidence bins
_EPS = 2.220446049250313e-16  # numpy's float64 eps: scikit-learn's clip and MAPE floor
SEGMENT_MARGIN = 5  # a predicted change point within this many indices of a true one finds it

metadata = sa.MetaData()
sums = sa.Table(
    "quality_sums",
    metadata,
    sa.Column("model", sa.String(300), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("bucket", sa.Integer, primary_key=True),
    sa.Column("kind", sa.String(16), primary_key=True),
    sa.Column("stat", sa.String(80), primary_key=True),
    sa.Column("value", sa.Float, nullable=False),
)
_UPSERT = (
    "INSERT INTO quality_sums (model, version, kind, bucket, stat, value) VALUES "
    "(:model, :version, :kind, :bucket, :stat, :value) ON CONFLICT (model, version, bucket, kind, stat) "
    "DO UPDATE SET value = quality_sums.value + excluded.value"
)

Key = tuple[int, str, int, str]  # version, kind, bucket, stat


def bucket_of(at: float) -> int:
    return int(at // BUCKET_S)


def hour_start(at: float) -> float:
    """``at`` rounded down to its hour: a window starting there is read from the sums alone."""
    return float(bucket_of(at) * BUCKET_S)


def _num(v: Any) -> float | None:
    if isinstance(v, bool) or not isinstance(v, int | float) or not finite(v):
        return None
    return float(v)


def row_stats(kind: str, prediction: Any, actual: Any) -> dict[str, float]:
    """One matched prediction's additive statistics; empty when the actual is unusable for ``kind`` (a label
    for a predictor, a number for a forecaster: skipped, not fatal)."""
    try:
        if kind == "predictor":
            return _predictor(prediction, actual)
        if kind in ("classifier", "analyzer"):
            return _labelled(prediction, actual)
        if kind == "forecaster":
            return _forecaster(prediction, actual)
        if kind == "segmenter":
            return _segmenter(prediction, actual)
    except (KeyError, TypeError, ValueError, IndexError, AttributeError):
        return {}  # a prediction stored in another shape than this kind's: nothing to learn from it
    return {}


def _predictor(prediction: Any, actual: Any) -> dict[str, float]:
    y, p = _num(actual), _num(prediction)
    if y is None or p is None:
        return {}
    err = abs(y - p)
    return {"n": 1.0, "abs": err, "sq": err * err, "ape": err / max(abs(y), _EPS), "y": y, "y2": y * y}


def _labelled(prediction: Any, actual: Any) -> dict[str, float]:
    """Classifier (``{label, probabilities}``) and analyzer (``{label, score}``) rows."""
    if not isinstance(actual, str | int | bool):
        return {}
    y, label = str(actual), str(prediction["label"])
    probs: Mapping[str, float] | None = prediction.get("probabilities")
    if probs is not None:
        conf = float(probs.get(label, max(probs.values(), default=0.0)))
    else:
        conf = float(prediction["score"])
    correct = 1.0 if y == label else 0.0
    b = bisect.bisect_left(_EDGES, conf)  # numpy.digitize(conf, edges, right=True)
    out = {"n": 1.0, "correct": correct, f"bin{b}_n": 1.0, f"bin{b}_conf": conf, f"bin{b}_correct": correct}
    if probs is not None:
        if y in probs:
            out["ll"] = -math.log(min(max(float(probs[y]), _EPS), 1.0 - _EPS))
            brier = sum((float(p) - (1.0 if c == y else 0.0)) ** 2 for c, p in probs.items())
            out["brier"] = brier / 2.0 if len(probs) == 2 else brier  # scikit-learn halves the binary score
        else:
            out["foreign"] = 1.0  # a label the model never gives: no log-loss or Brier over these rows
    return out


def _forecaster(prediction: Any, actual: Any) -> dict[str, float]:
    if not isinstance(actual, list):
        return {}
    out: dict[str, float] = {"n": 1.0}
    point = prediction["forecast"]
    bands = prediction.get("intervals", [])
    for step, a in enumerate(actual[: len(point)]):
        y = _num(a)
        if y is None:
            continue
        p = float(point[step])
        _add(out, {"steps": 1.0, "abs": abs(y - p), "sq": (y - p) ** 2})
        for band in bands:
            level = float(band["level"])
            lo, hi = float(band["lower"][step]), float(band["upper"][step])
            q_lo, q_hi = (1 - level) / 2, (1 + level) / 2
            tag = f"{level!r}"
            _add(out, {
                f"band_n|{tag}": 1.0,
                f"band_in|{tag}": 1.0 if lo <= y <= hi else 0.0,
                f"band_lo|{tag}": _pinball(y, lo, q_lo),
                f"band_hi|{tag}": _pinball(y, hi, q_hi),
            })  # fmt: skip
    return out


def _pinball(y: float, q: float, alpha: float) -> float:
    return alpha * max(y - q, 0.0) + (1 - alpha) * max(q - y, 0.0)


def _segmenter(prediction: Any, actual: Any) -> dict[str, float]:
    """``actual``: the true change points (indices). A true one is found when a predicted one lies within
    ``SEGMENT_MARGIN`` of it, each predicted one finding at most one."""
    if not isinstance(actual, list) or not all(_num(a) is not None for a in actual):
        return {}
    free = sorted(int(b) for b in prediction["breakpoints"])
    found = 0
    for t in sorted(int(a) for a in actual):
        near = [b for b in free if abs(b - t) <= SEGMENT_MARGIN]
        if near:
            free.remove(min(near, key=lambda b: abs(b - t)))
            found += 1
    return {"n": 1.0, "true": float(len(actual)), "predicted": float(len(prediction["breakpoints"])),
            "found": float(found)}  # fmt: skip


def _add(into: dict[str, float], more: Mapping[str, float], sign: float = 1.0) -> None:
    for k, v in more.items():
        into[k] = into.get(k, 0.0) + sign * v


def deltas(model: str, changes: Iterable[Any]) -> list[dict[str, Any]]:
    """The upsert rows for ``changes`` (each with ``version, kind, at, prediction, before, actual``): the new
    actual's statistics added, the replaced one's taken away, in its hour and in the total."""
    acc: dict[Key, float] = {}
    for ch in changes:
        plus = row_stats(ch.kind, ch.prediction, ch.actual)
        minus = row_stats(ch.kind, ch.prediction, ch.before) if ch.before is not None else {}
        for bucket in (bucket_of(ch.at), TOTAL):
            for stats, sign in ((plus, 1.0), (minus, -1.0)):
                for stat, v in stats.items():
                    k = (ch.version, ch.kind, bucket, stat)
                    acc[k] = acc.get(k, 0.0) + sign * v
    return [
        {"model": model, "version": v, "kind": kind, "bucket": b, "stat": stat, "value": value}
        for (v, kind, b, stat), value in acc.items()
        if value != 0.0
    ]


def apply(conn: sa.Connection, rows: list[dict[str, Any]]) -> None:
    if rows:
        conn.execute(sa.text(_UPSERT), rows)


def read(
    conn: sa.Connection, model: str, versions: Iterable[int] | None, first_bucket: int | None
) -> dict[tuple[int, str], dict[str, float]]:
    """Summed statistics per (version, kind): the total, or the hours from ``first_bucket`` on."""
    s = sums.c
    q = sa.select(s.version, s.kind, s.stat, sa.func.sum(s.value)).where(s.model == model)
    q = q.where(s.bucket == TOTAL) if first_bucket is None else q.where(s.bucket >= first_bucket)
    if versions is not None:
        q = q.where(s.version.in_(list(versions)))
    out: dict[tuple[int, str], dict[str, float]] = {}
    row: Any
    for row in conn.execute(q.group_by(s.version, s.kind, s.stat)):
        out.setdefault((int(row[0]), str(row[1])), {})[str(row[2])] = float(row[3])
    return out


def summed(
    conn: sa.Connection, captures: sa.Table, model: str, since: float | None, versions: Iterable[int] | None
) -> dict[tuple[int, str], dict[str, float]]:
    """Statistics per (version, kind) of the predictions made at or after ``since`` (None: all retained):
    whole hours from the sums, the matched rows of the window's partial first hour read directly."""
    if since is None:
        return read(conn, model, versions, None)
    first = bucket_of(since)
    if since == first * BUCKET_S:  # on an hour boundary: whole hours only
        return read(conn, model, versions, first)
    out = read(conn, model, versions, first + 1)
    c = captures.c
    q = sa.select(c.version, c.kind, c.prediction, c.actual).where(
        c.model == model, c.actual_count > 0, c.at >= since, c.at < (first + 1) * BUCKET_S
    )
    if versions is not None:
        q = q.where(c.version.in_(list(versions)))
    for r in conn.execute(q):
        _add(out.setdefault((int(r.version), str(r.kind)), {}), row_stats(r.kind, r.prediction, r.actual))
    return out


class _Row(NamedTuple):
    version: int
    kind: str
    at: float
    prediction: Any
    before: Any
    actual: Any


def create(conn: sa.Connection, captures: sa.Table) -> None:
    """Create the table; when it is new beside existing captures (an upgrade), sum their actuals once."""
    if sa.inspect(conn).has_table("quality_sums"):
        return
    metadata.create_all(conn)
    c = captures.c
    by_model: dict[str, list[_Row]] = {}
    query = sa.select(c.model, c.version, c.kind, c.at, c.prediction, c.actual).where(c.actual_count > 0)
    for r in conn.execute(query):
        by_model.setdefault(str(r.model), []).append(
            _Row(r.version, r.kind, r.at, r.prediction, None, r.actual)
        )
    for model, rows in by_model.items():
        apply(conn, deltas(model, rows))


def purge_hours(conn: sa.Connection, before_bucket: int) -> None:
    """Take the hours before ``before_bucket`` out of the totals, then delete them."""
    s = sums.c
    old: Any = conn.execute(
        sa.select(s.model, s.version, s.kind, s.stat, sa.func.sum(s.value))
        .where(s.bucket >= 0, s.bucket < before_bucket)
        .group_by(s.model, s.version, s.kind, s.stat)
    ).all()
    apply(conn, [
        {"model": m, "version": v, "kind": k, "bucket": TOTAL, "stat": st, "value": -float(val)}
        for m, v, k, st, val in old
    ])  # fmt: skip
    conn.execute(sums.delete().where(s.bucket >= 0, s.bucket < before_bucket))
