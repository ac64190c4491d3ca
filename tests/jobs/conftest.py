"""Jobs in-process: a runtime per test with a chosen wait budget, and a model whose retrain is slow."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from mcp import Client

from mlgate.compose import App, build_runtime
from mlgate.config import Settings
from mlgate.server.app import build_server
from tests._support import tool_payload
from tests.lifecycle.conftest import FEATURES, make_data, new_name, records


@pytest.fixture
def make_runtime(demo_home: Any) -> Callable[..., App]:
    """A graph from the composition root (the runtime and its job service) on the demo home."""

    def make(**kw: Any) -> App:
        return build_runtime(Settings(home=demo_home, **kw))

    return make


@pytest.fixture
async def open_client() -> AsyncIterator[Callable[[App], Any]]:
    """``async with open_client(app) as c``: an in-memory MCP client of a server on ``app``."""
    yield lambda app: Client(build_server(app))


async def call(client: Any, tool: str, args: dict[str, Any], **kw: Any) -> tuple[bool, Any]:
    return tool_payload(await client.call_tool(tool, args, **kw))


async def wait_job(
    client: Any,
    job_id: str,
    until: tuple[str, ...] = ("succeeded", "failed", "cancelled", "interrupted"),
    timeout: float = 60,
) -> Any:
    import anyio

    deadline = time.monotonic() + timeout
    while True:
        err, out = await call(client, "ml_job", {"job_id": job_id})
        assert not err, out
        if out["job"]["status"] in until or time.monotonic() > deadline:
            return out["job"]
        await anyio.sleep(0.1)


@pytest.fixture(scope="session")
def slow_model(demo_home: Any) -> tuple[str, list[dict[str, Any]]]:
    """A registered MLP regressor (production) whose refit takes seconds, and a batch to retrain it on."""
    from sklearn.metrics import r2_score
    from sklearn.neural_network import MLPRegressor

    from mlgate.models.registrar import Registrar

    name = new_name("job")
    x, y = make_data(4000, seed=0, noise=0.5)
    est = MLPRegressor(
        hidden_layer_sizes=(256, 256), max_iter=40, tol=0.0, n_iter_no_change=1000, random_state=0
    ).fit(x[:200], y[:200])
    metrics = {"r2": float(r2_score(y[3000:], est.predict(x[3000:])))}
    Registrar(Settings(home=demo_home)).register_sklearn(
        name, est, x[:200], FEATURES, metrics, alias="production"
    )
    xb, yb = make_data(4000, seed=3, noise=0.5)
    return name, records(xb, yb)


def versions(settings: Settings, name: str) -> list[int]:
    from mlflow import MlflowClient

    client = MlflowClient(settings.tracking)
    return sorted(int(v.version) for v in client.search_model_versions(f"name='{name}'"))
