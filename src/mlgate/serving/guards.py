"""Inference guards: out-of-distribution, range and shape checks, and circuit breakers.

``Guards.load(settings)`` reads the rule packs (``rules.py``: the packaged default
pack, then ``MLGATE_RULES``). The runtime then, per call:

- ``check_rows(info, rows)`` before the model runs: returns the warnings of rules
  in ``mode: warn`` (they go into the result) and raises ``GuardRefused`` for a rule
  in ``mode: refuse``; the refusal names the rule, the feature and the value;
- ``breaker("name@version")`` around the model call: ``before()`` refuses with
  ``Unavailable`` while the breaker is open, ``success()`` / ``failure()`` report
  the outcome.

The hot path is cheap: the zscore and range rules that apply to a version are
compiled once per (model name, version) into one pair of bound arrays (a z-score
threshold is the interval ``mean ± threshold·std``), so a call where nothing fires
costs a shape comparison and one vectorised bounds test. Only when a bound is
crossed are the rules evaluated one by one to say which rule, feature and value.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from mlgate.config import Settings
from mlgate.domain import VersionInfo
from mlgate.errors import GuardRefused as GuardRefused
from mlgate.errors import InvalidInput, Unavailable
from mlgate.serving.rules import (
    DEFAULT_PACK,
    Bounds,
    BreakerRule,
    Mode,
    Plan,
    Rule,
    RulePack,
    ZScoreRule,
    compile_plan,
    default_pack,
    load_pack,
    merge,
    pack_files,
    plural,
)

BreakerState = Literal["closed", "open", "half_open"]
Clock = Callable[[], float]


@dataclass(eq=False)
class Breaker:
    """A circuit breaker for one model key (``name@version``); thread-safe.

    closed → ``threshold`` failures within ``window_s`` → open → after ``cooldown_s``
    the next call is a probe (half_open, everything else still refused) → its
    success closes the breaker, its failure re-opens it. A probe that never reports
    is replaced by a new one after another ``cooldown_s``. ``rule=None`` (no breaker
    rule matches the model) never opens. In ``mode: warn`` an open breaker lets calls
    through; ``admit()`` returns the warning instead of raising.
    """

    key: str
    threshold: int = 5
    window_s: float = 60.0
    cooldown_s: float = 30.0
    mode: Mode = "refuse"
    rule: str | None = None
    clock: Clock = field(default=time.monotonic, repr=False)
    state: BreakerState = "closed"
    trips: int = 0
    _recent: deque[float] = field(default_factory=deque, init=False, repr=False)
    _opened_at: float = field(default=0.0, init=False, repr=False)
    _opened_after: int = field(default=0, init=False, repr=False)
    _probe_at: float | None = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def before(self) -> None:
        """Raise ``Unavailable`` while open (refuse mode); let exactly one probe through when half-open."""
        if self.state == "closed":
            return
        self.admit()

    def admit(self) -> str | None:
        """Like ``before``; in warn mode returns the warning an open breaker would have refused with."""
        with self._lock:
            now = self.clock()
            if self.state == "closed":  # closed by another thread meanwhile
                return None
            if self.state == "open" and now - self._opened_at >= self.cooldown_s:
                self.state, self._probe_at = "half_open", now
                return None
            if self.state == "half_open" and (
                self._probe_at is None or now - self._probe_at >= self.cooldown_s
            ):
                self._probe_at = now  # no probe in flight, or the last one never reported
                return None
            retry = (
                1 if self.state == "half_open" else max(1, math.ceil(self._opened_at + self.cooldown_s - now))
            )
            n = self._opened_after
            message = (
                f"circuit breaker for {self.key} is open after {n} failure{plural(n)} in {self.window_s:g} s; "
                f"retry after {retry} s"
            )
        if self.mode == "warn":
            return f"{message} (rule '{self.rule}' is in mode warn: the call was let through)"
        probe = "a probe call is in flight; " if self.state == "half_open" else ""
        raise Unavailable(
            message,
            f"{probe}the model failed repeatedly, so calls are refused for "
            f"{self.cooldown_s:g} s; retry later, or see ml_serving_status (an operator "
            "may roll the model back or halt it)",
        )

    def success(self) -> None:
        if self.state == "closed":
            return
        with self._lock:
            if self.state == "half_open":
                self.state, self._probe_at = "closed", None
                self._recent.clear()

    def failure(self) -> None:
        if self.rule is None:
            return
        with self._lock:
            now = self.clock()
            recent = self._recent
            recent.append(now)
            while recent and recent[0] <= now - self.window_s:
                recent.popleft()
            if self.state == "half_open" or (self.state == "closed" and len(recent) >= self.threshold):
                self.state, self._opened_at, self._opened_after = "open", now, len(recent)
                self._probe_at = None
                self.trips += 1

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            now = self.clock()
            recent = sum(1 for t in self._recent if t > now - self.window_s)
            retry = max(0.0, self._opened_at + self.cooldown_s - now) if self.state == "open" else 0.0
            return {
                "state": self.state,
                "rule": self.rule,
                "mode": self.mode,
                "failures_in_window": recent,
                "threshold": self.threshold,
                "window_s": self.window_s,
                "cooldown_s": self.cooldown_s,
                "trips": self.trips,
                "retry_after_s": round(retry, 3),
            }


class Guards:
    def __init__(
        self, rules: Sequence[Rule] = (), *, sources: Sequence[str] = (), clock: Clock = time.monotonic
    ):
        self.rules: list[Rule] = list(rules)
        self.sources = list(sources)
        self.clock = clock
        self._plans: dict[tuple[str, int], Plan] = {}
        self._breakers: dict[str, Breaker] = {}
        self._lock = threading.Lock()
        self.fired: dict[str, dict[str, int]] = {}

    # -- building --------------------------------------------------------------------
    @classmethod
    def load(cls, settings: Settings) -> Guards:
        """The packaged default pack, then the file or folder ``settings.rules`` names."""
        return cls.from_paths([settings.rules] if settings.rules is not None else [])

    @classmethod
    def from_paths(
        cls, paths: Sequence[Path], *, defaults: bool = True, clock: Clock = time.monotonic
    ) -> Guards:
        packs: list[RulePack] = [default_pack()] if defaults else []
        sources = [DEFAULT_PACK] if defaults else []
        for path in paths:
            for file in pack_files(Path(path)):
                packs.append(load_pack(file))
                sources.append(str(file))
        return cls(merge(packs), sources=sources, clock=clock)

    def forget(self, name: str | None = None) -> None:
        """Drop compiled plans (of one model, or all), e.g. after its statistics changed."""
        for key in [k for k in self._plans if name is None or k[0] == name]:
            self._plans.pop(key, None)

    # -- the hot path ----------------------------------------------------------------
    def check_rows(self, info: VersionInfo, rows: np.ndarray) -> list[str]:
        """Warnings of rules in mode warn; raises ``GuardRefused`` for a rule in mode refuse.

        ``rows`` is a float64 matrix, columns in ``info.features`` order. Typed records (an object matrix
        with string, boolean or date-time cells) carry no training ranges: only shape rules apply to them."""
        plan = self._plans.get((info.name, info.version))
        if plan is None:
            plan = self._plans[(info.name, info.version)] = compile_plan(self.rules, info)
        if rows.ndim != 2 or rows.shape[0] > plan.row_limit:
            return self._explain(plan, np.atleast_2d(rows))
        if plan.lo is None or rows.shape[0] == 0 or rows.dtype != np.float64:
            return []
        if rows.shape[1] != plan.n_cols:
            return self._explain(plan, rows)
        x = rows if plan.cols is None else rows[:, plan.cols]
        if ((x >= plan.lo) & (x <= plan.hi)).all():
            return []
        return self._explain(plan, rows)

    # -- the slow path: something fired, find out what ---------------------------------
    def _explain(self, plan: Plan, rows: np.ndarray) -> list[str]:
        warnings: list[str] = []
        n_rows, n_cols = rows.shape
        for rule, problem in plan.shapes:
            if problem is not None:
                self._fire(
                    warnings,
                    rule,
                    plan.label,
                    problem,
                    f"this version's signature does not satisfy "
                    f"rule '{rule.name}'; call another version, or an operator can change the rule "
                    "(MLGATE_RULES)",
                    feature="features",
                    value=float(plan.n_cols),
                )
            if rule.max_rows is not None and n_rows > rule.max_rows:
                self._fire(
                    warnings,
                    rule,
                    plan.label,
                    f"{n_rows} rows in one call, more than max_rows {rule.max_rows}",
                    f"split the request into calls of at most {rule.max_rows} rows",
                    feature="rows",
                    value=float(n_rows),
                )
        if n_cols != plan.n_cols and n_rows:
            if not plan.bounds:
                return warnings
            raise InvalidInput(
                f"{plan.label}: rows have {n_cols} columns but the model has {plan.n_cols} features",
                "send one value per feature, in the order ml_model_info lists them",
            )
        for b in plan.bounds if n_rows else ():
            x = rows[:, b.cols]
            bad = (x < b.lo) | (x > b.hi)
            if not bad.any():
                continue
            for j in np.flatnonzero(bad.any(axis=0)):
                hits = np.flatnonzero(bad[:, j])
                i = int(hits[0])
                value = float(x[i, j])
                what, hint = _bound_message(b, int(j), value)
                more = f"; {len(hits)} of {n_rows} rows are" if len(hits) > 1 else ""
                self._fire(
                    warnings,
                    b.rule,
                    plan.label,
                    f"feature '{b.names[j]}' = {value:.6g} in row {i} {what}{more}",
                    hint,
                    feature=b.names[j],
                    value=value,
                )
        return warnings

    def _fire(
        self,
        warnings: list[str],
        rule: Rule,
        label: str,
        what: str,
        hint: str,
        *,
        feature: str | None,
        value: float | None,
    ) -> None:
        counts = self.fired.setdefault(rule.name, {"refused": 0, "warned": 0})
        if rule.mode == "refuse":
            counts["refused"] += 1
            raise GuardRefused(
                f"guard '{rule.name}' ({rule.kind}) refused {label}: {what}",
                hint,
                rule=rule.name,
                kind=rule.kind,
                feature=feature,
                value=value,
            )
        counts["warned"] += 1
        warnings.append(f"guard '{rule.name}' ({rule.kind}) flagged {label}: {what}")

    # -- breakers and status ---------------------------------------------------------
    def breaker(self, key: str) -> Breaker:
        """The breaker of model key ``name@version``; the last breaker rule matching the name decides."""
        found = self._breakers.get(key)
        if found is not None:
            return found
        with self._lock:
            found = self._breakers.get(key)
            if found is None:
                name, at, version = key.rpartition("@")
                name, version = (name, version) if at else (key, "")
                rule = next(
                    (
                        r
                        for r in reversed(self.rules)
                        if isinstance(r, BreakerRule) and r.matches(name, version)
                    ),
                    None,
                )
                found = (
                    Breaker(
                        key,
                        rule.failures,
                        rule.window_s,
                        rule.cooldown_s,
                        rule.mode,
                        rule.name,
                        clock=self.clock,
                    )
                    if rule is not None
                    else Breaker(key, clock=self.clock)
                )
                self._breakers[key] = found
        return found

    def snapshot(self) -> dict[str, Any]:
        """Breaker states, the rules in force and how often each fired, for ``ml_serving_status``."""
        breakers = sorted(list(self._breakers.items()))  # copied at once: other threads may add
        fired = sorted(list(self.fired.items()))
        return {
            "packs": list(self.sources),
            "rules": [
                {"name": r.name, "kind": r.kind, "mode": r.mode, "models": list(r.models)} for r in self.rules
            ],
            "breakers": {key: b.snapshot() for key, b in breakers},
            "open_breakers": [key for key, b in breakers if b.state != "closed"],
            "fired": {name: dict(counts) for name, counts in fired},
            "compiled_versions": len(self._plans),
        }


def _bound_message(b: Bounds, j: int, value: float) -> tuple[str, str]:
    rule, name = b.rule, b.names[j]
    if isinstance(rule, ZScoreRule) and b.mean is not None and b.std is not None:
        mean, std = float(b.mean[j]), float(b.std[j])
        change = (
            f"an operator can raise the threshold of rule '{rule.name}' or set it to mode: warn "
            "(MLGATE_RULES)"
        )
        if std == 0:
            return (
                f"differs from {mean:.6g}, the only value it took in training",
                f"send '{name}' = {mean:.6g} (ml_model_info lists the training statistics); if other values "
                f"are legitimate, {change}",
            )
        z = abs(value - mean) / std
        return (
            f"is {z:.3g} standard deviations from its training mean {mean:.6g} (std {std:.3g}; "
            f"threshold {rule.threshold:g})",
            f"check the units and scale of '{name}' against the training statistics in ml_model_info; "
            f"if such values are legitimate, {change}",
        )
    lo, hi = float(b.lo[j]), float(b.hi[j])
    what = f"is below the minimum {lo:g}" if value < lo else f"is above the maximum {hi:g}"
    interval = (
        f"[{lo:g}, {hi:g}]"
        if math.isfinite(lo) and math.isfinite(hi)
        else (f">= {lo:g}" if math.isfinite(lo) else f"<= {hi:g}")
    )
    return (
        what,
        f"send '{name}' {'within ' if interval.startswith('[') else ''}{interval}; if the value is "
        f"legitimate, an operator can widen rule '{rule.name}' (MLGATE_RULES)",
    )
