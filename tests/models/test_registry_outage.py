"""A registry outage is never read as "not registered": a dead tracking server gives ``BackendError``."""

from __future__ import annotations

from pathlib import Path

import pytest
from mcp import Client

from mlgate.config import Settings
from mlgate.errors import BackendError
from mlgate.models.mlflow_registry import MlflowRegistry
from mlgate.server.app import build_server
from mlgate.serving.runtime import Runtime
from tests._support import DIABETES_ROW, free_port, tool_payload


@pytest.fixture
def dead(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv(
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0"
    )  # one refused connection, not minutes of back-off
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "5")
    port = free_port()  # bound and closed: nothing listens there
    return Settings(home=tmp_path, tracking_uri=f"http://127.0.0.1:{port}")


def test_outage_is_not_absence(dead: Settings) -> None:
    reg = MlflowRegistry(dead)
    for ask in (
        lambda: reg.exists("demo-regressor", 1),
        lambda: reg.ensure_model("demo-regressor"),
        lambda: reg.find_version("demo-regressor", {"hf.repo": "acme/x"}),
        lambda: reg.version("demo-regressor", 1),
        lambda: reg.by_alias("demo-regressor", "production"),
    ):
        with pytest.raises(BackendError) as err:
            ask()
        assert "registry did not answer" in str(err.value), err.value
        assert "not registered" not in str(err.value) and "no registered model" not in str(err.value)


@pytest.mark.anyio
async def test_a_tool_call_names_the_outage(dead: Settings) -> None:
    rt = Runtime(dead)
    async with Client(build_server(rt)) as c:
        err, msg = tool_payload(
            await c.call_tool("ml_predict", {"model": "demo-regressor@1", "features": [DIABETES_ROW]})
        )
    await rt.aclose()
    assert err and "registry did not answer" in msg and "MLGATE_TRACKING_URI" in msg, msg
    assert "no registered model" not in msg, msg
