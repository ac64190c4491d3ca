"""Skill tools: list the hash-locked skills, run one. Thin: the work is in skills/."""

from __future__ import annotations

from typing import Annotated, Any

import anyio
from mcp.server.mcpserver import Context
from pydantic import Field

from mlgate.schemas.jobs import RunSkillReply
from mlgate.schemas.skills import ListSkillsResult
from mlgate.skills import catalog
from mlgate.skills import run as skill_runtime
from mlgate.tools.context import caller, runtime
from mlgate.tools.jobs import as_job

SkillArg = Annotated[
    str,
    Field(
        description="The skill and its exact version, 'name@version' (see ml_list_skills).",
        examples=["regime_aware_alpha@1", "multi_horizon_forecast@1"],
        max_length=100,
    ),
]
InputsArg = Annotated[
    dict[str, Any],
    Field(description="Inputs as in the skill's `example` (ml_list_skills)."),
]


async def list_skills(ctx: Context[Any, Any]) -> ListSkillsResult:
    """List the skills: reviewed, hash-locked multi-step workflows, run by exact 'name@version'.

    Each has its inputs schema and example, steps, outputs, spec SHA-256 and whether it matches the lock;
    only `runnable: true` entries run with ml_run_skill.
    """
    return await anyio.to_thread.run_sync(catalog.list_skills, runtime(ctx).settings)


async def run_skill(skill: SkillArg, inputs: InputsArg, ctx: Context[Any, Any]) -> RunSkillReply:
    """Run a hash-locked skill 'name@version': its steps call pinned model versions in order.

    Returns `outputs`, a `run_id` (recorded) and a per-step trace with the exact version each step ran.
    Example: {"skill": "multi_horizon_forecast@1", "inputs": {…the `example` from ml_list_skills…}}.
    """
    rt = runtime(ctx)
    _, spec = await anyio.to_thread.run_sync(catalog.find, rt.settings, skill)
    if len(spec.ordered_steps()) > 1:  # multi-step: a job (progress, wait budget, cancel)
        return await as_job(
            ctx,
            "ml_run_skill",
            {"skill": skill, "inputs": inputs},
            RunSkillReply,
            {"skill": skill, "status": "running"},
        )

    async def progress(done: int, total: int, message: str) -> None:
        await ctx.report_progress(done, total, message)

    done = await skill_runtime.run(rt, skill, inputs, caller=caller(ctx), progress=progress)
    return RunSkillReply(**dict(done), job=None)
