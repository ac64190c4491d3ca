"""Promotion gates: ``min_<metric>``, ``max_<metric>`` and ``require_drift_check``.

Gates come from the call and from the registered model (the ``mlgate.gates`` tag,
``{"production": {"min_r2": 0.4}, "staging": {…}}``; a flat object means
production). The two are merged and the stricter threshold wins, so a call can add
gates or tighten them but never loosen the ones the model stores. Every gate is
evaluated, and every failure is reported with its actual value and threshold.

``require_live_not_worse`` compares the candidate's live quality with the incumbent's on the
actuals matched to each one's captured predictions (``lifecycle/live_gate.py``, docs/monitoring.md).

``require_drift_check`` reads the version's latest drift check (the ``mlgate.drift``
tag written by ``ml_drift`` against the version's own training data, by a caller with
``ml:manage``): it passes when that check found no dataset drift *and* the record says
who made it (``by``) and which data it saw (``data_digest``, the SHA-256 of the rows'
canonical JSON). A record without them (written by a read-only caller before mlgate
refused that, or by hand) does not count. See docs/lifecycle.md.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from mlgate.errors import InvalidInput
from mlgate.numbers import finite, shown
from mlgate.schemas.lifecycle import GateOutcome

TAG_GATES = "mlgate.gates"
TAG_DRIFT = "mlgate.drift"
REQUIRE_DRIFT = "require_drift_check"
REQUIRE_LIVE = "require_live_not_worse"  # lifecycle/live_gate.py; docs/monitoring.md
_FLAGS = (REQUIRE_DRIFT, REQUIRE_LIVE)
GATED_STAGES = ("staging", "production")
_GATE = re.compile(r"^(min|max)_([A-Za-z0-9_.\-]{1,64})$")
_HINT = "gates look like {'min_r2': 0.4, 'max_mae': 50, 'require_drift_check': true}"

Gates = dict[str, float | bool]
# the gates a tool schema names (strict clients send each, null for "not this one"); any other
# min_<metric> / max_<metric> is accepted all the same
NAMED_GATES = (
    "min_r2",
    "min_accuracy",
    "min_f1_macro",
    "max_mae",
    "max_rmse",
    "max_log_loss",
)


def parse_gates(raw: Any, where: str = "gates") -> Gates:
    """Validate a gate object; refuses unknown gate names and non-numeric thresholds."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise InvalidInput(f"{where} must be an object", _HINT)
    out: Gates = {}
    for key, value in raw.items():
        if value is None:  # a named gate left unset (strict clients send every property)
            continue
        if key in _FLAGS:
            if not isinstance(value, bool):
                raise InvalidInput(f"{where}.{key} must be true or false", _HINT)
            out[key] = value
            continue
        if not isinstance(key, str) or not _GATE.match(key):
            raise InvalidInput(f"{where}: unknown gate {key!r}", _HINT)
        if isinstance(value, bool) or not isinstance(value, int | float) or not finite(value):
            raise InvalidInput(f"{where}.{key} must be a finite number, got {shown(value)}", _HINT)
        out[key] = float(value)
    return out


def stored_gates(tags: Mapping[str, str], stage: str) -> Gates:
    """The gates the registered model stores for ``stage`` (empty when none)."""
    raw = tags.get(TAG_GATES)
    if not raw:
        return {}
    try:
        data = json.loads(raw)
    except json.JSONDecodeError:
        raise InvalidInput(
            f"the model's {TAG_GATES} tag is not JSON", "fix it with `mlgate models gates`"
        ) from None
    if isinstance(data, dict) and not any(k in GATED_STAGES for k in data):
        data = {"production": data}
    if not isinstance(data, dict):
        raise InvalidInput(
            f"the model's {TAG_GATES} tag is not an object", "fix it with `mlgate models gates`"
        )
    return parse_gates(data.get(stage), f"stored gates for {stage}")


def encode_stored(tags: Mapping[str, str], stage: str, gates: Gates) -> str:
    """The new ``mlgate.gates`` tag value with ``stage``'s gates replaced."""
    current = {s: stored_gates(tags, s) for s in GATED_STAGES}
    current[stage] = gates
    return json.dumps({s: g for s, g in current.items() if g}, sort_keys=True)


def merge(stored: Gates, call: Gates) -> dict[str, tuple[float | bool, str]]:
    """Stored and call gates together; for a gate in both, the stricter threshold wins."""
    out: dict[str, tuple[float | bool, str]] = {k: (v, "stored") for k, v in stored.items()}
    for key, value in call.items():
        if key not in out:
            out[key] = (value, "call")
            continue
        have = out[key][0]
        stricter: float | bool
        if key in _FLAGS:
            stricter = bool(have) or bool(value)
        elif key.startswith("min_"):
            stricter = max(float(have), float(value))
        else:
            stricter = min(float(have), float(value))
        out[key] = (stricter, "call" if stricter != have else "stored")
    return out


def evaluate(
    gates: Mapping[str, tuple[float | bool, str]],
    metrics: Mapping[str, float],
    drift: Mapping[str, Any] | None,
    live: Callable[[], GateOutcome] | None = None,
) -> list[GateOutcome]:
    """Every gate's outcome, in a stable order (``live`` judges ``require_live_not_worse``)."""
    out: list[GateOutcome] = []
    for key in sorted(gates):
        threshold, source = gates[key]
        if key == REQUIRE_DRIFT:
            out.append(_drift_gate(bool(threshold), source, drift))
            continue
        if key == REQUIRE_LIVE:
            if not threshold or live is None:
                out.append(GateOutcome(gate=key, threshold=False, actual=None, passed=True, source=source,
                                       reason="not required"))  # fmt: skip
            else:
                out.append(live().model_copy(update={"source": source}))
            continue
        kind, metric = key.split("_", 1)
        actual = metrics.get(metric)
        limit = float(threshold)
        if actual is None:
            known = ", ".join(sorted(metrics)) or "none"
            out.append(
                GateOutcome(
                    gate=key,
                    metric=metric,
                    threshold=limit,
                    actual=None,
                    passed=False,
                    source=source,
                    reason=f"the version has no metric {metric!r} (it has: {known})",
                )
            )
            continue
        ok = actual >= limit if kind == "min" else actual <= limit
        word = "at least" if kind == "min" else "at most"
        out.append(
            GateOutcome(
                gate=key,
                metric=metric,
                threshold=limit,
                actual=float(actual),
                passed=ok,
                source=source,
                reason=f"{metric} is {actual:.6g}; the gate needs {word} {limit:.6g}",
            )
        )
    return out


def _drift_gate(required: bool, source: str, drift: Mapping[str, Any] | None) -> GateOutcome:
    if not required:
        return GateOutcome(
            gate=REQUIRE_DRIFT,
            threshold=False,
            actual=None,
            passed=True,
            source=source,
            reason="not required",
        )
    if not drift:
        return GateOutcome(
            gate=REQUIRE_DRIFT,
            threshold=True,
            actual=None,
            passed=False,
            source=source,
            reason="no drift check is recorded on this version; run ml_drift on it with current data",
        )
    when = drift.get("at", "?")
    by, digest = drift.get("by"), drift.get("data_digest")
    if not isinstance(by, str) or not by or not isinstance(digest, str) or len(digest) != 64:
        return GateOutcome(
            gate=REQUIRE_DRIFT,
            threshold=True,
            actual=None,
            passed=False,
            source=source,
            reason=f"the drift check recorded at {when} does not say who made it and on which data "
            "(no data_digest), so it does not count; a caller with ml:manage must run "
            "ml_drift on this version with current data",
        )
    passed = bool(drift.get("passed"))
    score = drift.get("dataset_drift_score")
    reason = (
        f"the latest drift check ({when}) found no dataset drift"
        if passed
        else f"the latest drift check ({when}) found drift in {drift.get('n_drifted')} of "
        f"{drift.get('total')} features"
    )
    return GateOutcome(
        gate=REQUIRE_DRIFT,
        threshold=True,
        actual=passed,
        passed=passed,
        source=source,
        reason=reason + (f" (score {score})" if score is not None else "") + f", by {by}",
    )


def latest_drift(tags: Mapping[str, str]) -> dict[str, Any] | None:
    raw = tags.get(TAG_DRIFT)
    if not raw:
        return None
    try:
        data = json.loads(raw)
    except json.JSONDecodeError:
        return None
    return data if isinstance(data, dict) else None
