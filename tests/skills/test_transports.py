"""Both built-in skills over stdio (a spawned `mlgate serve`) and streamable HTTP (a real uvicorn)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from mcp import Client, StdioServerParameters

from tests._support import await_until, mlgate_env
from tests.skills.scenarios import HEADLINES, HISTORY, exercise_skills

pytestmark = pytest.mark.anyio


async def _progress_over(client: Any) -> list[tuple[float, float | None]]:
    seen: list[tuple[float, float | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append((progress, total))

    result = await client.call_tool(
        "ml_run_skill",
        {"skill": "multi_horizon_forecast@1", "inputs": {"history": HISTORY, "headlines": HEADLINES}},
        progress_callback=on_progress,
    )
    assert not result.is_error
    # the SDK runs each progress callback as a task of its own: the last may run after the result is back
    await await_until(lambda: len(seen) >= 5, what="five progress notifications")
    return seen


async def test_skills_over_stdio(demo_home: Path) -> None:
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "mlgate", "serve"], env=mlgate_env(demo_home)
    )
    async with Client(params) as c:
        await exercise_skills(c)
        assert await _progress_over(c) == [(0, 4), (1, 4), (2, 4), (3, 4), (4, 4)]


async def test_skills_over_http(http_server: str) -> None:
    async with Client(http_server) as c:
        await exercise_skills(c)
        assert await _progress_over(c) == [(0, 4), (1, 4), (2, 4), (3, 4), (4, 4)]
