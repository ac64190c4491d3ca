"""Actuals in, degradation out: join actuals, re-evaluate each version's rules, act on what fails.

Rules per model come from ``MLGATE_QUALITY_RULES`` (``{"name pattern": {rules}}``, the first
pattern that matches) with the registered model's tag ``mlgate.quality`` (a JSON object) laid
over them. A rule set looks like ``{"max_mae_ratio": 1.25, "min_coverage_95": 0.9,
"min_actuals": 20, "retrain": true}``:

- ``max_<metric>_ratio`` / ``min_<metric>_ratio``: the live metric against the one the version
  was registered with (its run's metrics; skipped when it has none);
- ``max_<metric>`` / ``min_<metric>``: the live metric against a fixed threshold;
- ``min_actuals`` (default 20): no rule is judged on fewer matched actuals;
- ``window_hours``: judge predictions of the last hours only, from a whole hour (default: every retained one);
- ``retrain``: when a rule starts failing, submit an ``ml_retrain`` job of that version on the
  captured inputs with their actuals as the target (needs ``MLGATE_CAPTURE_INPUTS``);
  ``retrain_promote``: let that job promote the candidate if it is better and gated (default off).

A rule that starts failing raises an alert (stored, so every replica's inference results of
that version carry it as a warning), a ledger row (``quality.degraded``, ``Degraded``), and the
``mlgate_degradations_total`` counter; the live metrics go to the ``mlgate_live_quality`` gauge.
A rule that passes again clears its alert.
"""

from __future__ import annotations

import fnmatch
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import anyio

from mlgate.auth.caller import Caller
from mlgate.errors import BackendError, Degraded, InvalidInput, NotFound
from mlgate.lifecycle.quality import by_version, known_model, live_metrics, registered_metrics
from mlgate.schemas.monitoring import ActualsResult, Degradation
from mlgate.serving.runtime import Runtime
from mlgate.state.captures import Matched, Subjects
from mlgate.state.quality_sums import hour_start

log = logging.getLogger(__name__)
TAG_QUALITY = "mlgate.quality"
MAX_ACTUALS = 10_000
RETRAIN_MIN_ROWS = 50  # ml_retrain holds 20 % out and checks their drift, which needs 10 rows
_RULE = re.compile(r"^(min|max)_([A-Za-z0-9_.\-]{1,64}?)(_ratio)?$")
_OPTIONS = {"min_actuals", "window_hours", "retrain", "retrain_promote"}
_HINT = 'rules look like {"max_mae_ratio": 1.25, "min_coverage_95": 0.9, "min_actuals": 20, "retrain": true}'


def parse_rules(raw: Any, where: str) -> dict[str, float | bool]:
    if not isinstance(raw, Mapping):
        raise InvalidInput(f"{where} is not an object", _HINT)
    out: dict[str, float | bool] = {}
    for key, value in raw.items():
        if key in ("retrain", "retrain_promote"):
            out[key] = bool(value)
        elif (
            (key in _OPTIONS or _RULE.match(str(key)))
            and isinstance(value, int | float)
            and not isinstance(value, bool)
        ):
            out[key] = float(value)
        else:
            raise InvalidInput(f"{where}: {key!r}: {value!r:.40} is not a rule", _HINT)
    return out


def rules_for(rt: Runtime, name: str, model_tags: Mapping[str, str]) -> dict[str, float | bool]:
    rules: dict[str, float | bool] = {}
    for pattern, found in rt.settings.quality_rules.items():
        if fnmatch.fnmatchcase(name, pattern):
            rules = parse_rules(found, f"MLGATE_QUALITY_RULES[{pattern!r}]")
            break
    raw = model_tags.get(TAG_QUALITY)
    if raw:
        try:
            rules = {**rules, **parse_rules(json.loads(raw), f"the {TAG_QUALITY} tag of {name}")}
        except json.JSONDecodeError:
            raise InvalidInput(f"the {TAG_QUALITY} tag of {name} is not JSON", _HINT) from None
    return rules


def judge(
    rules: Mapping[str, float | bool], live: Mapping[str, float], registered: Mapping[str, float], n: int
) -> dict[str, str]:
    """The rules that fail: rule → message. Nothing fails on fewer than ``min_actuals`` actuals."""
    if not live or n < float(rules.get("min_actuals", 20)):
        return {}
    failing: dict[str, str] = {}
    for key, limit in rules.items():
        m = _RULE.match(key)
        if key in _OPTIONS or m is None:
            continue
        kind, metric, ratio = m.group(1), m.group(2), bool(m.group(3))
        value = live.get(metric)
        if value is None:
            continue
        shown = f"live {metric} {value:.4g}"
        if ratio:
            base = registered.get(metric)
            if not base:
                continue
            value = value / base
            shown = f"live {metric} {live[metric]:.4g} is {value:.3g}× the registered {base:.4g}"
        bad = value > float(limit) if kind == "max" else value < float(limit)
        if bad:
            word = "above" if kind == "max" else "below"
            failing[key] = f"quality degraded: {shown}, {word} the rule {key}={float(limit):g} ({n} actuals)"
    return failing


def joinable(rt: Runtime, caller: Caller, subject: str | None = None) -> Subjects:
    """Whose predictions ``caller`` may record actuals for: its own subject's (``subject`` instead, when an
    operator's command records for someone), every subject of the same ``MLGATE_CAPTURE_GROUPS`` group,
    and — for an administrator only — the rows captured before subjects were kept."""
    me = caller.subject if subject is None else subject
    groups = rt.settings.capture_groups
    group = groups.get(me)
    names = {me} | ({s for s, g in groups.items() if g == group} if group is not None else set())
    return Subjects(frozenset(names), legacy=caller.is_admin)


SubmitRetrain = Callable[[Caller, dict[str, Any]], Awaitable[str]]
"""Submits an ``ml_retrain`` job with these arguments for the caller; answers its id (the jobs package
passes one in: lifecycle does not import what sits above it)."""


async def record_actuals(
    rt: Runtime,
    model: str,
    actuals: Any,
    *,
    caller: Caller,
    subject: str | None = None,
    submit_retrain: SubmitRetrain | None = None,
) -> ActualsResult:
    """Join ``{prediction_id or key: actual}`` to the captured predictions of ``model`` that the caller's
    subject (or its group) made, then judge its rules. Another subject's ids and keys come back unknown."""
    name = rt.models.parse(model).name if "@" in model or model.startswith("models:/") else model.strip()
    if not isinstance(actuals, dict) or not actuals:
        raise InvalidInput("actuals must be a non-empty object", 'send {"<prediction_id or key>": actual, …}')
    if len(actuals) > MAX_ACTUALS:
        raise InvalidInput(
            f"{len(actuals)} actuals is more than {MAX_ACTUALS}", "split them into several calls"
        )
    caps = rt.captures
    store = await caps.opened()
    await anyio.to_thread.run_sync(caps.flush_blocking)  # every id handed out is in the table before the join
    who = joinable(rt, caller, subject)
    outcome = await anyio.to_thread.run_sync(
        lambda: store.record_actuals(name, {str(k): v for k, v in actuals.items()}, who)
    )
    if not outcome.recorded and not await anyio.to_thread.run_sync(lambda: store.has_model(name)):
        await known_model(rt, name)  # nothing of that name was ever captured: is it a model at all?
    result = ActualsResult(
        name=name, recorded=outcome.recorded, duplicates=outcome.duplicates, unknown=outcome.unknown or []
    )
    if outcome.recorded:
        await _evaluate(rt, name, caller, result, outcome.versions or set(), submit_retrain)
    return result


async def _evaluate(
    rt: Runtime,
    name: str,
    caller: Caller,
    result: ActualsResult,
    versions: set[int],
    submit_retrain: SubmitRetrain | None,
) -> None:
    """Judge the rules of the versions that just received actuals."""
    reg = rt.models.registry
    tags = await anyio.to_thread.run_sync(lambda: _model_tags(reg, name))
    rules = rules_for(rt, name, tags)
    hours = rules.get("window_hours")
    since = None if not hours else hour_start(time.time() - float(hours) * 3600)  # whole hours: sums only
    store = rt.captures.store
    summed = by_version(await anyio.to_thread.run_sync(lambda: store.quality(name, since, versions)))
    for version, (kind, stats) in sorted(summed.items()):
        live, _, n = live_metrics(kind, stats)
        for metric, value in live.items():
            rt.metrics.set_quality(name, str(version), metric, value)
        registered = await registered_metrics(rt, name, version)
        failing = judge(rules, live, registered, n) if rules else {}
        new = await anyio.to_thread.run_sync(lambda v=version, f=failing: store.set_alerts(name, v, f))  # type: ignore[misc]
        rt.captures.set_alerts(name, version, [failing[k] for k in sorted(failing)])
        for rule in new:
            result.degraded.append(Degradation(version=version, rule=rule, message=failing[rule]))
            rt.metrics.count_degradation(name, rule)
            rt.record("quality.degraded", caller, {"model": f"{name}@{version}", "rule": rule}, None,
                      time.perf_counter(), Degraded(failing[rule], "see ml_performance; retrain or roll back"))  # fmt: skip
        if new and rules.get("retrain"):
            rows = await anyio.to_thread.run_sync(lambda v=version: store.matched(name, since, [v]))  # type: ignore[misc]
            job = await _retrain(
                submit_retrain, name, version, rows, bool(rules.get("retrain_promote")), caller
            )
            if job is not None:
                result.retrain_jobs.append(job)
            else:
                result.degraded.append(Degradation(version=version, rule="retrain",
                    message=f"retrain not started: fewer than {RETRAIN_MIN_ROWS} captured inputs with actuals "
                    "(input capture needs MLGATE_CAPTURE_INPUTS; forecasters are not retrained)"))  # fmt: skip


def _model_tags(reg: Any, name: str) -> dict[str, str]:
    try:
        return dict(reg.model_tags(name))
    except NotFound:  # not a registry model (a pulled snapshot): settings only
        return {}
    except BackendError:  # logged where translated: the rules fall back to the settings
        return {}


async def _retrain(
    submit: SubmitRetrain | None, name: str, version: int, rows: list[Matched], promote: bool, caller: Caller
) -> str | None:
    """Submit ``ml_retrain`` of the version on its captured inputs with their actuals as the target."""
    if submit is None:
        log.warning("a retrain rule fired for %s@%s, but this entry point submits no jobs", name, version)
        return None
    data = [
        {**m.inputs, "actual": m.actual}
        for m in rows
        if isinstance(m.inputs, dict) and m.kind != "forecaster" and m.actual is not None
    ]
    if len(data) < RETRAIN_MIN_ROWS:
        return None
    args = {
        "model": f"{name}@{version}", "data": data, "target": "actual", "holdout": 0.2, "gates": None,
        "promote_if_better": promote, "metric": None,
    }  # fmt: skip
    return await submit(caller, args)
