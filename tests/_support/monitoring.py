"""The monitoring tests' plain-MLflow registry (``Plain``: its URI and the fitted objects), their data (a Ridge's
features a, b, c, d; a classifier's x1, x2), a fresh MLGATE_HOME's settings on it, and an MCP session on a graph."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from mcp import Client

from mlgate.compose import App, build_runtime
from mlgate.config import Settings
from mlgate.server.app import build_server
from mlgate.serving.runtime import Runtime
from tests._support import tool_payload

PINS = ["numpy", "pandas", "scikit-learn"]
WEIGHTS = np.array([3.0, -2.0, 1.0, 0.5])
FEATURES = ["a", "b", "c", "d"]
LABELS = np.array(["low", "mid", "high"])


def regression_data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(0.0, 1.0, (n, 4))
    return x, x @ WEIGHTS + 10.0 + rng.normal(0.0, 0.5, n)


def classification_data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(0.0, 1.0, (n, 2))
    score = x[:, 0] + 0.5 * x[:, 1] + rng.normal(0.0, 0.6, n)
    return x, LABELS[np.digitize(score, [-0.6, 0.6])]


def records(x: np.ndarray, names: list[str]) -> list[dict[str, float]]:
    return [{n: float(v) for n, v in zip(names, row, strict=True)} for row in x]


@dataclass
class Plain:
    uri: str
    fitted: dict[str, Any]


def make_settings(plain: Plain, home: Path, **kw: Any) -> Settings:
    base: dict[str, Any] = {
        "home": home, "tracking_uri": plain.uri, "trusted_models": ["mon-*"], "capture": ["mon-*"],
        "capture_inputs": True,
    }  # fmt: skip
    base.update(kw)
    settings = Settings(**base)
    settings.ensure_home()
    return settings


class Session:
    """A graph (``mlgate.compose.build_runtime``) and an in-memory MCP client over it."""

    def __init__(self, app: App, client: Any) -> None:
        self.app = app
        self.rt: Runtime = app.runtime
        self.client = client

    async def call(self, tool: str, args: dict[str, Any]) -> tuple[bool, Any]:
        return tool_payload(await self.client.call_tool(tool, args))

    async def ok(self, tool: str, args: dict[str, Any]) -> Any:
        err, out = await self.call(tool, args)
        assert not err, out
        return out


@asynccontextmanager
async def open_session(settings: Settings) -> AsyncIterator[Session]:
    app = build_runtime(settings)
    async with Client(build_server(app)) as c:
        yield Session(app, c)
    await app.aclose()
