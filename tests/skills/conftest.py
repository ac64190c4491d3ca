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
from mlgate.skills.catalog import BUILTIN_DIR
from mlgate.skills.lock import lock_dir


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


def builtin_text(name: str) -> str:
    return (BUILTIN_DIR / f"{name}.yaml").read_text(encoding="utf-8")


def write_skill(folder: Path, text: str, file: str = "skill.yaml", *, lock: bool = True) -> Path:
    """Write a spec into an editable folder and (by default) lock it, as an operator would."""
    path = folder / file
    path.write_text(text, encoding="utf-8")
    if lock:
        assert lock_dir(folder, echo=lambda _m: None) == 0
    return path
