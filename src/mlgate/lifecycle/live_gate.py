"""The promotion gate ``require_live_not_worse``: the candidate is not worse live than the incumbent.

What is measured: each version's own captured predictions that have an actual (shadow or canary
traffic is any call of the candidate's pinned version — ``name@2``, ``name@staging`` — on a model
that captures; its actuals are recorded like any others), within the last ``LIVE_WINDOW_S`` (7 days),
on the interface's headline metric: ``mae`` for predictors and forecasters (lower is better),
``accuracy`` for classifiers (higher is better). The gate passes when the candidate's value is at
least as good as the incumbent's; it fails when either version has fewer than ``MIN_LIVE`` matched
actuals (not enough evidence), and passes with "no incumbent" when the stage is empty. The two
versions' traffic may differ (they are not paired); send the same records to both (with the same
``keys``) for a like-for-like comparison. Blocks on the state database: call from a worker thread.
"""

from __future__ import annotations

import time

from mlgate.lifecycle.quality import by_version, live_metrics
from mlgate.schemas.lifecycle import GateOutcome
from mlgate.serving.capture import Captures
from mlgate.state.quality_sums import hour_start

GATE = "require_live_not_worse"
MIN_LIVE = 20
LIVE_WINDOW_S = 7 * 86400.0
HEADLINE = {
    "predictor": ("mae", "lower"),
    "forecaster": ("mae", "lower"),
    "classifier": ("accuracy", "higher"),
    "analyzer": ("accuracy", "higher"),
    "segmenter": ("breakpoint_f1", "higher"),
}


def live_not_worse(captures: Captures, name: str, candidate: int, incumbent: int | None) -> GateOutcome:
    def outcome(passed: bool, reason: str, actual: float | None = None) -> GateOutcome:
        return GateOutcome(
            gate=GATE, threshold=True, actual=actual, passed=passed, source="call", reason=reason
        )

    if incumbent is None or incumbent == candidate:
        return outcome(True, "no incumbent in that stage to compare with")
    captures.flush_blocking()
    versions = (candidate, incumbent)
    summed = by_version(captures.store.quality(name, hour_start(time.time() - LIVE_WINDOW_S), versions))
    found: dict[int, tuple[str, float, int]] = {}
    for v in versions:
        if v not in summed:
            continue
        kind, stats = summed[v]
        metric, _ = HEADLINE.get(kind, ("mae", "lower"))
        live, _, n = live_metrics(kind, stats)
        if metric in live:
            found[v] = (metric, live[metric], n)
    short = [v for v in versions if found.get(v, ("", 0.0, 0))[2] < MIN_LIVE]
    if short:
        have = ", ".join(f"version {v}: {found.get(v, ('', 0.0, 0))[2]}" for v in versions)
        return outcome(
            False,
            f"not enough live evidence: each version needs {MIN_LIVE} matched actuals in 7 days ({have}); "
            "send shadow traffic to the candidate with capture on and record its actuals",
        )
    metric, cand, n_c = found[candidate]
    _, inc, n_i = found[incumbent]
    way = HEADLINE.get(summed[candidate][0], ("mae", "lower"))[1]
    ok = cand <= inc if way == "lower" else cand >= inc
    verdict = "not worse than" if ok else "worse than"
    return outcome(
        ok,
        f"live {metric} {cand:.6g} on {n_c} actuals is {verdict} the incumbent's (version {incumbent}) "
        f"{inc:.6g} on {n_i} ({way} is better)",
        cand,
    )
