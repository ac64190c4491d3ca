"""Fixtures of the lifecycle tests: models of their own (names start with ``lc-``) in the session registry.

The demo models' aliases are never changed here: other tests rely on demo-*@production = version 1.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import numpy as np
import pytest
from mcp import Client

from mlgate.config import Settings
from mlgate.domain import VersionInfo
from mlgate.server.app import build_server
from mlgate.serving.runtime import Runtime
from tests._support import tool_payload

FEATURES = ["a", "b", "c", "d"]
WEIGHTS = np.array([3.0, -2.0, 1.0, 0.5])
MANAGER_SCOPES = ["ml:read", "ml:infer", "ml:manage"]


def make_data(
    n: int,
    seed: int,
    *,
    shift: float = 0.0,
    weights: np.ndarray = WEIGHTS,
    offset: float = 0.0,
    noise: float = 0.1,
) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(0.0, 1.0, (n, weights.size)) + shift
    y = x @ weights + offset + rng.normal(0.0, noise, n)
    return x, y


def records(
    x: np.ndarray, y: np.ndarray | None = None, names: list[str] = FEATURES, target: str = "y"
) -> list[dict[str, Any]]:
    out = [{n: float(v) for n, v in zip(names, row, strict=True)} for row in x]
    if y is not None:
        for rec, value in zip(out, y, strict=True):
            rec[target] = value.item() if isinstance(value, np.generic) else value
    return out


def register_ridge(
    settings: Settings,
    name: str,
    x: np.ndarray,
    y: np.ndarray,
    *,
    alias: str | None = None,
    names: list[str] = FEATURES,
    alpha: float = 0.01,
) -> VersionInfo:
    """Fit a Ridge on 80 % of (x, y), record its honest metrics on the rest, register it."""
    from sklearn.linear_model import Ridge
    from sklearn.metrics import mean_absolute_error, r2_score

    from mlgate.models.registrar import Registrar

    cut = int(len(x) * 0.8)
    est = Ridge(alpha=alpha).fit(x[:cut], y[:cut])
    pred = est.predict(x[cut:])
    metrics = {"r2": float(r2_score(y[cut:], pred)), "mae": float(mean_absolute_error(y[cut:], pred))}
    return Registrar(settings).register_sklearn(name, est, x[:cut], names, metrics, alias=alias)


def new_name(prefix: str = "lc") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


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


async def call(client: Any, tool: str, args: dict[str, Any], **kw: Any) -> tuple[bool, Any]:
    return tool_payload(await client.call_tool(tool, args, **kw))
