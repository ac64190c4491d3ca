"""Running a skill: each step through the same functions the inference tools call.

A step is the call an agent could make by hand: the caller's scope is checked for
the step's tool, the kill switch for its model (and for all serving), and then
``mlgate.serving.inference`` runs it — with the same guards, model cache and batching
as a direct call. Step results are kept as the JSON a tool would return, and later
bindings read from that JSON, so a step gets exactly what a hand-made call would send.

Each step is an audited call (``serving.audited``): its own ledger row, tool
``skill.step:<tool>``, with the model stamp that answered (ref, version, digest) and the
run's id, so ``ml_audit model=`` finds it. Every run is recorded in the state database
(``StateDB.record_run``): once when it starts and once when it ends — ok, error (the failing step's error, the rest
skipped), halted, or cancelled (the step in flight cancelled, the rest skipped; the
final record is written even as the cancellation unwinds).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

import anyio
import anyio.lowlevel
from pydantic import ValidationError

from mlgate.artifacts import json_sha256 as input_digest
from mlgate.auth.caller import Caller
from mlgate.clock import utcnow
from mlgate.errors import Halted, InvalidInput, MlgateError, NotFound
from mlgate.schemas.interfaces import BY_VERB
from mlgate.schemas.skills import RunSkillResult, StepTrace
from mlgate.serving import inference
from mlgate.serving.audited import Call, audited
from mlgate.serving.runtime import Runtime
from mlgate.skills import catalog
from mlgate.skills.bindings import INPUTS, lookup, parse_binding, substitute
from mlgate.skills.spec import CALLS, RouteSpec, SkillSpec, StepSpec
from mlgate.state.db import SkillRun, StateDB

log = logging.getLogger(__name__)

Progress = Callable[[int, int, str], Awaitable[None]]


async def run(
    rt: Runtime, skill: str, inputs: Any, *, caller: Caller, progress: Progress | None = None
) -> RunSkillResult:
    """Find ``name@version`` (locked and valid, or refused), then execute it."""
    found, spec = await anyio.to_thread.run_sync(catalog.find, rt.settings, skill)
    return await execute(rt, spec, found.digest, inputs, caller=caller, progress=progress)


def check_inputs(spec: SkillSpec, inputs: Any) -> dict[str, Any]:
    """The inputs, validated against the spec's declared types (defaults filled in)."""
    if not isinstance(inputs, dict):
        raise InvalidInput(
            f"inputs of {spec.ref} must be an object", "see its input schema in ml_list_skills"
        )
    try:
        return spec.inputs_model().model_validate(inputs).model_dump(mode="json")
    except ValidationError as exc:
        problems = "; ".join(
            ".".join(str(p) for p in ("inputs", *e["loc"])) + ": " + e["msg"] for e in exc.errors()
        )
        raise InvalidInput(
            f"{spec.ref}: {problems}",
            f"it takes: {', '.join(spec.inputs) or 'no inputs'} (schema and example in ml_list_skills)",
        ) from None


async def execute(
    rt: Runtime,
    spec: SkillSpec,
    digest: str,
    inputs: Any,
    *,
    caller: Caller,
    progress: Progress | None = None,
) -> RunSkillResult:
    checked = check_inputs(spec, inputs)
    db = rt.state  # the runtime's state database (the composition root's one)
    steps = spec.ordered_steps()
    traces = [StepTrace(id=s.id, call=s.call) for s in steps]
    run_id = uuid.uuid4().hex
    record = SkillRun(
        run_id=run_id,
        skill=spec.ref,
        digest=digest,
        status="running",
        subject=caller.subject,
        input_digest=input_digest(checked),
    )
    await _save(db, record)
    scope: dict[str, Any] = {INPUTS: checked}
    status = "error"
    outputs: dict[str, Any] | None = None
    current: StepTrace | None = None
    try:
        for i, step in enumerate(steps):
            current = traces[i]
            scope[step.id] = await _step(rt, caller, step, scope, current, progress, (i, len(steps)), run_id)
        current = None
        outputs = {key: substitute(text, scope) for key, text in spec.outputs.items()}
        status = "ok"
    except anyio.get_cancelled_exc_class():
        status = "cancelled"
        if current is not None:
            current.outcome, current.error = "cancelled", "the run was cancelled while this step ran"
        raise
    except MlgateError as exc:
        status = "halted" if isinstance(exc, Halted) else "error"
        where = f"step {current.id!r} failed: " if current is not None else "its outputs failed: "
        raise _prefixed(exc, f"skill {spec.ref} (run {run_id}) {where}") from None
    finally:
        done = replace(
            record,
            status=status,
            steps=[t.model_dump(mode="json") for t in traces],
            outputs_digest=input_digest(outputs) if outputs is not None else None,
            finished_at=utcnow(),
        )
        with anyio.CancelScope(shield=True):
            await _save(db, done)
    assert outputs is not None  # status is "ok"
    if progress is not None:
        await _notify(progress, len(steps), len(steps), f"{spec.ref}: done")
    return RunSkillResult(
        run_id=run_id, skill=spec.ref, digest=digest, status="ok", outputs=outputs, steps=traces
    )


async def _step(
    rt: Runtime,
    caller: Caller,
    step: StepSpec,
    scope: dict[str, Any],
    trace: StepTrace,
    progress: Progress | None,
    position: tuple[int, int],
    run_id: str,
) -> Any:
    """Run one step as an audited call (its row carries the run's id); fills ``trace``; returns the
    result as JSON."""
    trace.outcome = "running"
    t0 = time.perf_counter()
    tool = CALLS[step.call].tool
    # digested into the row once the body has filled it in: the model the step chose and its arguments
    sent: dict[str, Any] = {"step": step.id}
    audit = Call(f"skill.step:{tool}", caller, sent, BY_VERB[step.call].scope, what=f"{tool} (step {step.id!r})",
                 run_id=run_id)  # fmt: skip

    async def body() -> Any:
        ref, trace.route = choose_model(step, scope)
        sent["model"] = ref
        if progress is not None:
            i, n = position
            await _notify(progress, i, n, f"step {i + 1}/{n} {step.id!r}: {step.call} {ref}")
        await anyio.lowlevel.checkpoint()  # a cancelled run stops here, before the next model call
        sent["args"] = args = substitute(step.args, scope)
        return await _invoke(rt, step.call, ref, args, caller)

    try:
        result = await audited(rt, audit, body)
    except MlgateError as exc:
        # the run record keeps what the ledger keeps (class and fields, no values): the caller gets the error
        trace.outcome, trace.error = ("halted" if isinstance(exc, Halted) else "error"), exc.audit_text()
        raise
    except Exception as exc:
        trace.outcome, trace.error = "error", f"{type(exc).__name__} inside the server"
        raise
    finally:
        trace.duration_ms = round((time.perf_counter() - t0) * 1000, 3)
    trace.outcome = "ok"
    trace.model = result.model
    return result.model_dump(mode="json")


def choose_model(step: StepSpec, scope: dict[str, Any]) -> tuple[str, str | None]:
    """The pinned ref a step runs, and for a route map the value that chose it."""
    if not isinstance(step.model, RouteSpec):
        return step.model, None
    route = step.model
    value = lookup(parse_binding(route.route), scope)
    key = str(value) if isinstance(value, (str, int)) and not isinstance(value, bool) else None
    if key is not None and key in route.map:
        return route.map[key], key
    if route.default is not None:
        return route.default, key
    raise NotFound(
        f"route {route.route} is {value!r}, which the route map does not list "
        f"(routes: {', '.join(route.map)})",
        "the skill needs a new version that routes this value",
    )


async def _invoke(rt: Runtime, call: str, ref: str, args: dict[str, Any], caller: Caller) -> Any:
    if call == "predict":
        return await inference.predict(rt, ref, args["features"], caller=caller)
    if call == "classify":
        return await inference.classify(rt, ref, args["features"], caller=caller)
    if call == "forecast":
        hist, horizon = args["history"], args["horizon"]
        return await inference.forecast(rt, ref, hist, horizon, args.get("levels"), caller=caller)
    if call == "segment":
        return await inference.segment(rt, ref, args["series"], caller=caller)
    if call == "analyze":
        return await inference.analyze(rt, ref, args["texts"], caller=caller)
    raise NotFound(
        f"interface {call!r} has no runner"
    )  # pragma: no cover - CALLS and this list move together


def _prefixed(exc: MlgateError, prefix: str) -> MlgateError:
    """The same error class and hint, with where it happened in front of the message."""
    err = exc.__class__.__new__(exc.__class__)
    err.__dict__.update(exc.__dict__)
    err.message = prefix + exc.message
    err.args = (err.message,)
    return err


async def _notify(progress: Progress, done: int, total: int, message: str) -> None:
    try:
        await progress(done, total, message)
    except Exception:  # a client that went away must not fail the run
        log.debug("progress notification failed", exc_info=True)


async def _save(db: StateDB, run: SkillRun) -> None:
    await anyio.to_thread.run_sync(db.record_run, run)
