"""Fixtures of the lifecycle tests: models of their own (names start with ``lc-``) in the session registry.

The demo models' aliases are never changed here: other tests rely on demo-*@production = version 1.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from mcp import Client

from mlgate.config import Settings
from mlgate.domain import VersionInfo
from mlgate.server.app import build_server
from mlgate.serving.runtime import Runtime
from tests._support.lifecycle import make_data, new_name, register_ridge

MANAGER_SCOPES = ["ml:read", "ml:infer", "ml:manage"]


@pytest.fixture
def two_versions(settings: Settings) -> tuple[str, VersionInfo, VersionInfo]:
    """A fresh model: version 1 in production (noisy, r2 lower), version 2 in development (clean, +100 offset)."""
    name = new_name()
    x, y = make_data(600, seed=0, noise=2.0)
    v1 = register_ridge(settings, name, x, y, alias="production")
    x2, y2 = make_data(600, seed=1, offset=100.0, noise=0.1)
    v2 = register_ridge(settings, name, x2, y2)
    assert (v1.version, v2.version) == (1, 2)
    return name, v1, v2


@pytest.fixture
def runtime(settings: Settings) -> Runtime:
    return Runtime(settings)


@pytest.fixture
async def client(runtime: Runtime) -> AsyncIterator[Any]:
    async with Client(build_server(runtime)) as c:
        yield c
    await runtime.aclose()


@pytest.fixture
async def manager_client(demo_home: Any) -> AsyncIterator[Any]:
    """A caller with ml:manage but not ml:admin."""
    rt = Runtime(Settings(home=demo_home, stdio_scopes=MANAGER_SCOPES))
    async with Client(build_server(rt)) as c:
        yield c
    await rt.aclose()
