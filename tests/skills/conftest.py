"""Fixtures for skills: a private state database and an editable skills folder per test."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from mlgate.config import Settings
from mlgate.server.app import build_server
from mlgate.serving.runtime import Runtime


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def skills_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "skills"
    folder.mkdir()
    return folder


@pytest.fixture
def skill_settings(demo_home: Path, tmp_path: Path, skills_dir: Path) -> Settings:
    """The demo registry, a state database of this test's own, and MLGATE_SKILLS_DIR = skills_dir.

    The demo forecaster's admission lives in the demo's state database, so its models are trusted by name."""
    return Settings(
        home=demo_home,
        state_url=f"sqlite:///{tmp_path / 'state.db'}",
        skills_dir=skills_dir,
        trusted_models=["demo-*"],
    )


@pytest.fixture
async def rt(skill_settings: Settings) -> AsyncIterator[Runtime]:
    runtime = Runtime(skill_settings)
    try:
        yield runtime
    finally:
        await runtime.aclose()


@pytest.fixture
async def client(rt: Runtime) -> AsyncIterator[Any]:
    async with Client(build_server(rt)) as c:
        yield c
