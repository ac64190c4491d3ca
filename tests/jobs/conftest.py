"""Jobs in-process: a runtime per test with a chosen wait budget, and a model whose retrain is slow."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from mcp import Client

from mlgate.compose import App, build_runtime
from mlgate.config import Settings
from mlgate.server.app import build_server
from tests._support.lifecycle import FEATURES, make_data, new_name, records


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
