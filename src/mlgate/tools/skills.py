"""Skill tools: list the hash-locked skills, run one. Thin: the work is in skills/."""

from __future__ import annotations

from typing import Annotated, Any

import anyio
from mcp.server.mcpserver import Context
from pydantic import Field

from mlgate.schemas.skills import ListSkillsResult, RunSkillResult
from mlgate.skills import catalog
from mlgate.skills import runtime as skill_runtime
from mlgate.tools.context import caller, runtime

SkillArg = Annotated[
    str,
    Field(description="The skill and its exact version, 'name@version' (see ml.list_skills).",
          examples=["regime_aware_alpha@1", "multi_horizon_forecast@1"], max_length=100),
]
InputsArg = Annotated[
    dict[str, Any],
    Field(description="The skill's inputs, matching the `inputs` schema ml.list_skills shows (copy its `example`)."),
]


async def list_skills(ctx: Context[Any, Any]) -> ListSkillsResult:
    """List the skills: reviewed, hash-locked multi-step model workflows, each run by exact 'name@version'.

    Each entry has its description, input schema, an example `inputs`, its steps (which pinned model
    versions they call) and outputs, the SHA-256 of its spec and whether that digest matches skills.lock.
    Only entries with `runnable: true` can be run with ml.run_skill.
    """
    return await anyio.to_thread.run_sync(catalog.list_skills, runtime(ctx).settings)


async def run_skill(skill: SkillArg, inputs: InputsArg, ctx: Context[Any, Any]) -> RunSkillResult:
    """Run a hash-locked skill: its steps call pinned model versions in order, each as a direct tool call would.

    Example: {"skill": "multi_horizon_forecast@1", "inputs": { …the `example` from ml.list_skills… }}.
    Returns the skill's `outputs`, a `run_id` (the run is recorded in the audit database) and a per-step
    trace with the exact model version each step ran. A failing step fails the run with that step's error.
    Progress is reported once per step.
    """
    rt = runtime(ctx)

    async def progress(done: int, total: int, message: str) -> None:
        await ctx.report_progress(done, total, message)

    return await skill_runtime.run(rt, skill, inputs, caller=caller(ctx), progress=progress)
