"""The operator's view: halt, resume, and what serving looks like now."""

from __future__ import annotations

import time

import anyio

from mlgate.auth.caller import Caller
from mlgate.domain import LoadedModel
from mlgate.errors import InvalidInput
from mlgate.models.ref import check_name, parse_ref
from mlgate.schemas.serving import (
    CachedModel,
    HaltInfo,
    HaltResult,
    ModelTraffic,
    ResumeResult,
    ServingStatus,
)
from mlgate.serving.halt_scopes import DIGEST, covers, digest_scope, served_scopes
from mlgate.serving.runtime import Runtime
from mlgate.state.db import ALL


def _scope(model: str | None) -> str | None:
    """The halt scope of ``model``: None (all serving), a registered name, ``hf:org/repo`` or
    ``sha256:<hex>`` (an artifact digest).

    A halt covers every version of a model, every revision of a Hub snapshot, and every reference
    that serves the same bytes (``halt_scopes.py``)."""
    if model is None or model.strip() in ("", ALL):
        return None
    model = model.strip()
    if model.lower().startswith(DIGEST):
        return digest_scope(model)
    if model.startswith("hf:"):
        repo = model[3:].partition("@")[0]
        parse_ref(f"hf:{repo}@main")  # validates 'org/repo' as a Hub repository id
        return f"hf:{repo.lower()}"  # Hub ids are case-insensitive: so is the halt
    return check_name(model.split("@", 1)[0])


async def halt(rt: Runtime, model: str | None, reason: str, *, caller: Caller) -> HaltResult:
    if not reason or not reason.strip():
        raise InvalidInput("a halt needs a reason", "say why, e.g. 'drift on feature bmi; investigating'")
    scope = _scope(model)
    covered, note = await anyio.to_thread.run_sync(covers, scope, rt.models.registry)
    h = await anyio.to_thread.run_sync(
        rt.killswitch.halt, scope, reason.strip()[:1000], caller.subject, covered
    )
    return HaltResult(
        halted=True, scope=h.scope, by=h.by, at=h.at, reason=h.reason, covers=list(h.covers), note=note
    )


async def resume(rt: Runtime, model: str | None, *, caller: Caller) -> ResumeResult:
    scope = _scope(model)
    lifted = await anyio.to_thread.run_sync(rt.killswitch.resume, scope, caller.subject)
    return ResumeResult(resumed=bool(lifted), scope=scope or ALL, by=caller.subject)


def serving_status(rt: Runtime) -> ServingStatus:
    halts = [
        HaltInfo(scope=h.scope, reason=h.reason, by=h.by, at=h.at, covers=list(h.covers))
        for h in rt.killswitch.snapshot()
    ]
    models = [_cached(rt, m) for _, m in rt.models.cache.items()]
    traffic = [ModelTraffic(model=m, **row) for m, row in rt.metrics.traffic().items()]
    traffic.sort(key=lambda t: (-t.calls, t.model))
    return ServingStatus(
        halts=halts,
        models=models,
        queues=rt.executor.stats(),
        cache=_cache(rt),
        breakers=rt.executor.guards.snapshot(),
        latency={t: rt.metrics.percentiles(t) for t in rt.metrics.tools()},
        ledger=rt.ledger.stats(),
        uptime_s=round(time.time() - rt.started, 1),
        traffic=traffic,
    )


def _cached(rt: Runtime, m: LoadedModel) -> CachedModel:
    found = rt.killswitch.matching(served_scopes(m))
    return CachedModel(
        name=m.info.name,
        version=m.info.version,
        bytes=m.size_bytes,
        interfaces=list(m.info.interfaces),
        halted_by=None if found is None else found[0].scope,
        halt_matched=None if found is None else found[1],
    )


def _cache(rt: Runtime) -> dict[str, int]:
    st = rt.models.cache.stats()
    return {
        "entries": st.entries,
        "bytes": st.bytes,
        "budget_bytes": st.budget_bytes,
        "hits": st.hits,
        "misses": st.misses,
        "loads": st.loads,
        "evictions": st.evictions,
    }
