"""What a job of each long tool runs: the same use-case calls the tool made inline before jobs.

Each function takes the job's stored arguments (the tool's own arguments, by name) and the
``Control`` of its job, and returns the tool's result model. ``commit_at`` marks the progress
step that starts a registration (compile: step 2 of 3; retrain: step 4 of 6); a pull
commits explicitly before ``register_as``; a skill run registers nothing.
"""

from __future__ import annotations

import logging
from typing import Any

import anyio
from pydantic import BaseModel

from mlgate.auth.caller import Caller
from mlgate.jobs.runner import Control, Work
from mlgate.serving.runtime import Runtime

log = logging.getLogger("mlgate.jobs")


async def _collect(rt: Runtime, model: str) -> None:
    """Before registering a version of ``model``: remove the ones a killed attempt left pending (a retry
    follows its dead attempt instead of stacking a new version beside a half-registered one)."""
    from mlgate.jobs.gc import collect
    from mlgate.state.jobs import JobStore

    try:
        name = rt.models.parse(model).name
        store = JobStore(rt.state)
        await anyio.to_thread.run_sync(lambda: collect(rt.settings, store, name))
    except Exception:  # a bad reference fails the job itself, with its own message
        log.debug("collecting pending versions of %r failed", model, exc_info=True)


async def _pull(rt: Runtime, caller: Caller, args: dict[str, Any], control: Control) -> BaseModel:
    from mlgate.supply import torchhub_pull
    from mlgate.supply.pull import PullRequest, pull

    if torchhub_pull.is_torchhub(str(args["repo_id"])):

        async def commit() -> None:
            await control.checkpoint()
            control.commit()

        return await torchhub_pull.pull(
            rt.settings,
            str(args["repo_id"]),
            str(args.get("revision") or ""),
            register_as=args.get("register_as"),
            features=args.get("features"),
            caller=caller,
            progress=control.progress,
            before_register=commit,
        )

    patterns = args.get("patterns")
    req = PullRequest(
        str(args["repo_id"]).strip(),
        str(args["revision"]).strip(),
        tuple(patterns) if patterns else None,
        bool(args.get("allow_floating")),
        bool(args.get("allow_pickle")),
    )
    result = await pull(rt.settings, req, caller=caller, progress=control.progress)
    name = args.get("register_as")
    if name:
        from mlgate.supply.served import register_pulled

        await _collect(rt, str(name).strip())
        await control.checkpoint()
        control.commit()
        await register_pulled(rt.settings, result, str(name).strip())
    return result


async def _compile(rt: Runtime, caller: Caller, args: dict[str, Any], control: Control) -> BaseModel:
    from mlgate.supply.compile import CompileRequest, compile_version

    req = CompileRequest(
        args["model"], args["target"], args.get("data"), args.get("tolerance"), bool(args.get("force"))
    )
    await _collect(rt, str(req.model))
    return await compile_version(rt, req, caller=caller, progress=control.progress)


async def _retrain(rt: Runtime, caller: Caller, args: dict[str, Any], control: Control) -> BaseModel:
    from mlgate.lifecycle import retrain

    await _collect(rt, str(args["model"]))
    return await retrain.retrain(
        rt,
        args["model"],
        args["data"],
        args["target"],
        float(args.get("holdout", 0.2)),
        args.get("gates"),
        bool(args.get("promote_if_better", True)),
        metric=args.get("metric"),
        caller=caller,
        progress=control.progress,
    )


async def _run_skill(rt: Runtime, caller: Caller, args: dict[str, Any], control: Control) -> BaseModel:
    from mlgate.skills import run as skill_runtime

    return await skill_runtime.run(
        rt, args["skill"], args["inputs"], caller=caller, progress=control.progress
    )


WORK: dict[str, Work] = {
    "ml_pull": Work(_pull),
    "ml_compile": Work(_compile, commit_at=2),
    "ml_retrain": Work(_retrain, commit_at=4),
    "ml_run_skill": Work(_run_skill),
}
