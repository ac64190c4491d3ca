"""MLGATE_MAX_INFLIGHT bounds an unbatched model too: with the version tagged ``mlgate.batching=off`` under
``MLGATE_BATCHING=auto``, calls held at a gate fill the bound, one more is refused at once ("overloaded,
retry in …", naming the setting), and once the gate opens every held call answers and the slot is free."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from mlgate.config import Settings
from mlgate.server.app import build_server
from mlgate.serving.runtime import Runtime
from tests._support import await_until, mlflow_at, tool_payload
from tests.serving import gated

pytestmark = pytest.mark.anyio


def _log_gated(uri: str) -> None:
    import mlflow
    import pandas as pd
    from mlflow.models import infer_signature

    with mlflow_at(uri, "gated"):
        frame = pd.DataFrame({"x": [1.0, 2.0]})
        with mlflow.start_run():
            mlflow.pyfunc.log_model(
                name="model", python_model=gated.Gated(), registered_model_name="gated",
                signature=infer_signature(frame, frame["x"] * 2.0), pip_requirements=["pandas"],
            )  # fmt: skip
        mlflow.MlflowClient(uri, uri).set_model_version_tag("gated", "1", "mlgate.batching", "off")


async def test_an_unbatched_model_refuses_beyond_max_inflight(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    _log_gated(uri)
    settings = Settings(
        home=tmp_path / "home", tracking_uri=uri, trusted_models=["gated"], max_inflight=3, batching="auto"
    )
    settings.ensure_home()
    rt = Runtime(settings)
    gated.ARMED.clear()
    gated.GATE.clear()
    results: list[Any] = []
    async with Client(build_server(rt)) as c:

        async def predict(x: float) -> tuple[bool, Any]:
            return tool_payload(await c.call_tool("ml_predict", {"model": "gated@1", "features": [{"x": x}]}))

        err, out = await predict(1.0)  # loaded, its cost measured
        assert not err and out["predictions"] == [2.0], out
        assert rt.executor.batchers == {}  # not batched: the bound below is the only one
        gated.ARMED.set()
        try:
            async with anyio.create_task_group() as tg:

                async def held(x: float) -> None:
                    results.append(await predict(x))

                for i in range(3):
                    tg.start_soon(held, float(i))
                # until all three are inside the model (a bound, not a timing)
                await await_until(
                    lambda: rt.executor.inflight.get(("gated", 1)) == 3, 60, what="3 calls inside"
                )
                err, msg = await predict(9.0)
                assert err and "overloaded" in msg and "retry in" in msg and "MLGATE_MAX_INFLIGHT" in msg, msg
                assert rt.executor.overloaded == 1
                gated.GATE.set()
        finally:
            gated.ARMED.clear()
            gated.GATE.set()
        assert sorted(out["predictions"][0] for err, out in results if not err) == [0.0, 2.0, 4.0]
        assert rt.executor.inflight == {}
        err, out = await predict(5.0)
        assert not err and out["predictions"] == [10.0]
    await rt.aclose()
