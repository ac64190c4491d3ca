"""The lifecycle of a registered model: development → staging → production → archived.

MLflow 3 has no stages, so a stage is two things kept together: the ``staging`` /
``production`` alias (what ``name@production`` resolves to; every change made here
bumps the model's alias generation, so every replica serves the new version after its
next halt poll — ``models/store.py``)
and the ``mlgate.stage`` tag on each version, with a bounded JSON history of every
change (``mlgate.stage_history``: stage, when, who, the stage before, why).

* ``promote`` moves an alias to a version after its gates pass (see ``gates.py``);
  promoting to production archives the version that held it. ``force`` skips failing
  gates, needs ``ml:admin``, and is written on the version (who, when, which gates).
* ``rollback`` restores a version that served production before; it is not gated
  (it is the way back), but it refuses versions that never served production.
* ``set_stage`` demotes (to development) or archives a version that is not serving
  production.

The alias moves first — it is the switch serving follows — then the tags. Changes of
one model are serialised in this process; every tool call also leaves a ledger row.
"""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Callable
from typing import Any

import anyio

from mlgate.auth.caller import Caller
from mlgate.clock import now_iso
from mlgate.domain import VersionInfo
from mlgate.errors import InvalidInput, NotFound, Refused
from mlgate.lifecycle import gates as gating
from mlgate.lifecycle.stage_history import history, served_production, write_stage
from mlgate.models.mlflow_registry import MlflowRegistry
from mlgate.models.ref import check_name, parse_ref
from mlgate.models.tags import TAG_SHA
from mlgate.schemas.lifecycle import GateOutcome, PromoteResult, RollbackResult, StageChangeResult
from mlgate.schemas.stamp import ModelStamp
from mlgate.serving.runtime import Runtime

TAG_FORCED_BY, TAG_FORCED_AT, TAG_FORCED_GATES = "mlgate.forced_by", "mlgate.forced_at", "mlgate.forced_gates"

_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


def model_lock(name: str) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(name, threading.Lock())


def model_name(model: str, version: int | None = None) -> str:
    """``demo-regressor`` (or ``demo-regressor@2`` when it names the same version) → the name."""
    if "@" not in model and not model.startswith("models:/"):
        return check_name(model)
    ref = parse_ref(model, allow_latest=True)
    if ref.source != "registry":
        raise InvalidInput(
            f"{model!r} is not a registered model", "register the snapshot first (ml_pull register_as)"
        )
    if ref.version is not None and version is not None and ref.version != version:
        raise InvalidInput(
            f"model {model!r} names version {ref.version} but version is {version}",
            f"send model={ref.name!r} and the version to change",
        )
    return ref.name


# -- reads -------------------------------------------------------------------------------
def version_stamp(info: VersionInfo) -> ModelStamp:
    return ModelStamp(
        name=info.name, version=info.version, ref=f"{info.name}@{info.version}", sha256=info.tags.get(TAG_SHA)
    )


def _aliases(reg: MlflowRegistry, name: str) -> tuple[dict[str, int], dict[str, str]]:
    try:
        return reg.aliases(name), reg.model_tags(name)
    except NotFound:
        raise NotFound(f"no registered model named {name!r}", "list models with ml_list_models") from None


def _metrics(reg: MlflowRegistry, info: VersionInfo) -> dict[str, float]:
    return info.metrics or reg.run_metrics(info.run_id)


# -- promote -----------------------------------------------------------------------------
async def promote(
    rt: Runtime,
    model: str,
    version: int,
    to: str = "production",
    gates: dict[str, Any] | None = None,
    force: bool = False,
    *,
    caller: Caller,
) -> PromoteResult:
    """Move ``to``'s alias to ``model`` version ``version`` if its gates pass (``force`` needs ml:admin)."""
    who = caller
    name = model_name(model, version)
    if to not in gating.GATED_STAGES:
        raise InvalidInput(
            f"cannot promote to {to!r}",
            "promote to 'staging' or 'production'; demote or archive with `mlgate models demote|archive`",
        )
    call_gates = gating.parse_gates(gates)
    if force:
        who.require_admin("force on ml_promote")
    reg = rt.models.registry

    def live(incumbent: int | None) -> GateOutcome:
        from mlgate.lifecycle.live_gate import live_not_worse

        return live_not_worse(rt.captures, name, version, incumbent)

    async with rt.moving_aliases(name, who.subject):
        return await anyio.to_thread.run_sync(_promote, reg, who, name, version, to, call_gates, force, live)


def _promote(
    reg: MlflowRegistry,
    who: Caller,
    name: str,
    version: int,
    to: str,
    call_gates: gating.Gates,
    force: bool,
    live: Callable[[int | None], GateOutcome] | None = None,
) -> PromoteResult:
    with model_lock(name):
        mv = reg.version(name, version)
        stamp = version_stamp(mv)
        aliases, model_tags = _aliases(reg, name)
        holder = aliases.get(to)
        if holder == version:
            return PromoteResult(
                model=stamp,
                to=to,
                promoted=True,
                failed_gates=[],
                previous=version,
                message=f"{name}@{version} already holds {to}; nothing changed",
            )
        if to == "staging" and aliases.get("production") == version:
            raise Refused(
                f"{name}@{version} serves production; moving it to staging would leave no production",
                "promote another version to production, or roll back",
            )
        merged = gating.merge(gating.stored_gates(model_tags, to), call_gates)
        judge_live = None if live is None else functools.partial(live, holder)
        outcomes = gating.evaluate(merged, _metrics(reg, mv), gating.latest_drift(mv.tags), judge_live)
        failed = [o for o in outcomes if not o.passed]
        if failed and not force:
            listed = "; ".join(f"{o.gate}: {o.reason}" for o in failed)
            return PromoteResult(
                model=stamp,
                to=to,
                promoted=False,
                failed_gates=failed,
                gates=outcomes,
                previous=holder,
                message=f"not promoted: {len(failed)} gate(s) failed — {listed}",
            )
        reg.set_alias(name, to, version)
        if to == "production" and aliases.get("staging") == version:
            reg.delete_alias(name, "staging")
        skipped = [o.gate for o in failed]
        note = f"promoted by {who.subject}" + (f"; forced past {', '.join(skipped)}" if skipped else "")
        write_stage(reg, name, version, to, who.subject, note)
        if skipped:
            for key, value in (
                (TAG_FORCED_BY, who.subject),
                (TAG_FORCED_AT, now_iso()),
                (TAG_FORCED_GATES, json.dumps([o.model_dump() for o in failed])[:4000]),
            ):
                reg.set_tag(name, version, key, value)
        archived = None
        if holder is not None:
            after = "archived" if to == "production" else "development"
            write_stage(reg, name, holder, after, who.subject, f"replaced by version {version} in {to}")
            archived = holder if to == "production" else None
    msg = f"{name}@{version} is now {to}"
    if holder is not None:
        msg += f"; version {holder} moved to {'archived' if to == 'production' else 'development'}"
    if skipped:
        msg += f"; FORCED past failing gates {', '.join(skipped)} (recorded on the version)"
    return PromoteResult(
        model=stamp,
        to=to,
        promoted=True,
        failed_gates=failed,
        gates=outcomes,
        archived=archived,
        previous=holder,
        forced=bool(skipped),
        skipped_gates=skipped,
        message=msg,
    )


# -- rollback ----------------------------------------------------------------------------
async def rollback(rt: Runtime, model: str, version: int | None = None, *, caller: Caller) -> RollbackResult:
    """Restore ``version`` (default: the version that served production most recently) to production."""
    who = caller
    name = model_name(model, version)
    async with rt.moving_aliases(name, who.subject):
        return await anyio.to_thread.run_sync(_rollback, rt.models.registry, who, name, version)


def _rollback(reg: MlflowRegistry, who: Caller, name: str, version: int | None) -> RollbackResult:
    with model_lock(name):
        aliases, _ = _aliases(reg, name)
        current = aliases.get("production")
        if version is None:
            version = _previous_production(reg, name, current)
        mv = reg.version(name, version)
        if version == current:
            return RollbackResult(
                model=version_stamp(mv),
                production=version,
                archived=None,
                message=f"{name}@{version} already serves production; nothing changed",
            )
        if not served_production(mv.tags):
            raise Refused(
                f"{name}@{version} never served production, so there is nothing to roll back to",
                "a version that has not served production goes through the gates: use ml_promote",
            )
        reg.set_alias(name, "production", version)
        if aliases.get("staging") == version:
            reg.delete_alias(name, "staging")
        came_from = f" from version {current}" if current is not None else ""
        write_stage(reg, name, version, "production", who.subject, f"rolled back{came_from} by {who.subject}")
        if current is not None:
            write_stage(reg, name, current, "archived", who.subject, f"rolled back to version {version}")
    return RollbackResult(
        model=version_stamp(mv),
        production=version,
        archived=current,
        message=f"{name}@production is version {version} again"
        + (f"; version {current} archived" if current is not None else ""),
    )


def _previous_production(reg: MlflowRegistry, name: str, current: int | None) -> int:
    best: tuple[str, int] | None = None
    for info in reg.versions(name):
        v = info.version
        if v == current:
            continue
        times = [e.at for e in history(info.tags, info.created_at) if e.stage == "production"]
        if times and (best is None or (max(times), v) > best):
            best = (max(times), v)
    if best is None:
        raise NotFound(f"no earlier version of {name!r} served production", "name the version to restore")
    return best[1]


# -- demote / archive --------------------------------------------------------------------
async def set_stage(
    rt: Runtime, model: str, version: int, stage: str, *, caller: Caller
) -> StageChangeResult:
    """Demote (``development``) or archive (``archived``) a version that does not serve production."""
    if stage not in ("development", "archived"):
        raise InvalidInput(
            f"set_stage moves versions down to 'development' or 'archived', not {stage!r}",
            "use promote for staging and production",
        )
    who = caller
    name = model_name(model, version)
    async with rt.moving_aliases(name, who.subject):
        return await anyio.to_thread.run_sync(_set_stage, rt.models.registry, who, name, version, stage)


def _set_stage(reg: MlflowRegistry, who: Caller, name: str, version: int, stage: str) -> StageChangeResult:
    with model_lock(name):
        stamp = version_stamp(reg.version(name, version))
        aliases, _ = _aliases(reg, name)
        if aliases.get("production") == version:
            raise Refused(
                f"{name}@{version} serves production; moving it to {stage} would leave "
                f"{name}@production unresolvable",
                "promote another version to production or roll back first; it is archived then",
            )
        removed = [a for a, v in sorted(aliases.items()) if v == version and a == "staging"]
        for alias in removed:
            reg.delete_alias(name, alias)
        verb = "archived" if stage == "archived" else "demoted"
        before = write_stage(reg, name, version, stage, who.subject, f"{verb} by {who.subject}")
    return StageChangeResult(
        model=stamp,
        stage=stage,
        previous_stage=before,
        removed_aliases=removed,
        message=f"{name}@{version} is now {stage}"
        + (f" (removed alias {', '.join(removed)})" if removed else ""),
    )


async def set_gates(rt: Runtime, model: str, stage: str, gates: dict[str, Any]) -> dict[str, Any]:
    """Store ``gates`` on the registered model for promotions to ``stage`` (empty clears them)."""
    if stage not in gating.GATED_STAGES:
        raise InvalidInput(f"gates apply to 'staging' or 'production', not {stage!r}")
    name = model_name(model)
    parsed = gating.parse_gates(gates)
    reg = rt.models.registry

    def write() -> dict[str, Any]:
        with model_lock(name):
            _, tags = _aliases(reg, name)
            value = gating.encode_stored(tags, stage, parsed)
            reg.set_model_tag(name, gating.TAG_GATES, value)
            return dict(json.loads(value))

    return await anyio.to_thread.run_sync(write)
