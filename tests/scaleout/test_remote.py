"""Remote inference backends behind a replica: MLServer (Open Inference Protocol) and `mlflow models serve`."""

from __future__ import annotations

import time

import pytest
from mcp import Client

from tests._support import tool_payload
from tests._support.scaleout import CLASSES, IRIS, Cluster

pytestmark = pytest.mark.anyio
ROWS = [dict(zip(IRIS, r, strict=True)) for r in ([5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3])]


def _need_mlserver(cluster: Cluster) -> None:
    if "mlserver" not in cluster.remote:
        pytest.skip(cluster.remote.get("mlserver_skip", "MLServer is not available"))


async def test_mlserver_over_the_open_inference_protocol(cluster: Cluster) -> None:
    _need_mlserver(cluster)
    async with Client(cluster.b.url) as c:
        err, out = tool_payload(
            await c.call_tool("ml_classify", {"model": "remote-iris@production", "features": ROWS})
        )
        assert not err, out
        assert out["labels"] == ["setosa", "virginica"] and out["model"]["version"] == 1
        assert (
            set(out["probabilities"][0]) == set(CLASSES)
            and abs(sum(out["probabilities"][0].values()) - 1) < 1e-6
        )
        err, out = tool_payload(await c.call_tool("ml_predict", {"model": "remote-iris@1", "features": ROWS}))
        assert not err and out["predictions"] == [0, 2], out
        # guards run before the call leaves mlgate: a missing feature never reaches the engine
        err, msg = tool_payload(
            await c.call_tool("ml_predict", {"model": "remote-iris@1", "features": [{"sepal_length": 1.0}]})
        )
        assert err and "sepal_width" in msg
        err, info = tool_payload(await c.call_tool("ml_model_info", {"model": "remote-iris@1"}))
        assert not err and [f["name"] for f in info["features"]] == IRIS


async def test_mlflow_models_serve_over_invocations(cluster: Cluster) -> None:
    async with Client(cluster.b.url) as c:
        err, out = tool_payload(
            await c.call_tool("ml_predict", {"model": "remote-mlflow@production", "features": ROWS})
        )
        assert not err, out
        assert out["predictions"] == [0, 2] and out["model"]["version"] == 1
        err, msg = tool_payload(
            await c.call_tool("ml_classify", {"model": "remote-mlflow@1", "features": ROWS})
        )
        assert err and "ml_predict" in msg  # MLflow scoring gives no probabilities: not a classifier


async def test_halt_covers_remote_models_on_every_replica(cluster: Cluster) -> None:
    call = {"model": "remote-mlflow@1", "features": ROWS[:1]}
    async with Client(cluster.a.url) as ca, Client(cluster.b.url) as cb:
        assert not tool_payload(await cb.call_tool("ml_predict", call))[0]
        assert not tool_payload(
            await ca.call_tool("ml_halt", {"model": "remote-mlflow", "reason": "engine drill"})
        )[0]
        try:
            t0 = time.monotonic()
            while not (res := tool_payload(await cb.call_tool("ml_predict", call)))[0]:
                assert time.monotonic() - t0 < 1.0
            assert "engine drill" in res[1]
        finally:
            assert not tool_payload(await ca.call_tool("ml_resume", {"model": "remote-mlflow"}))[0]
    rows = cluster.ledger("model_ref = 'remote-mlflow@1' and outcome = 'error' and error_class = 'Halted'")
    assert rows, "the refused remote call left no ledger row"


async def test_a_timeout_is_a_clear_error_and_is_not_retried(cluster: Cluster) -> None:
    async with Client(cluster.b.url) as c:
        t0 = time.monotonic()
        err, msg = tool_payload(await c.call_tool("ml_predict", {"model": "remote-slow@1", "features": ROWS}))
        took = time.monotonic() - t0
    assert err and "did not answer within 0.3 s" in msg and "/v2/models/iris/infer" in msg, msg
    assert took < 2.0, took


async def test_a_dead_endpoint_is_named_and_opens_the_breaker(cluster: Cluster) -> None:
    call = {"model": "remote-dead@1", "features": ROWS[:1]}
    messages = []
    async with Client(cluster.b.url) as c:
        for _ in range(6):
            err, msg = tool_payload(await c.call_tool("ml_predict", call))
            assert err
            messages.append(msg)
        err, status = tool_payload(await c.call_tool("ml_serving_status", {}))
    assert (
        "unreachable" in messages[0] and "http://127.0.0.1:" in messages[0] and "2 attempt(s)" in messages[0]
    )
    assert "circuit breaker for remote-dead@1 is open" in messages[-1], messages[-1]
    assert not err and "remote-dead@1" in str(status)
    # the other replica has its own breaker: it still tries (and names the endpoint)
    async with Client(cluster.a.url) as c:
        err, msg = tool_payload(await c.call_tool("ml_predict", call))
        assert err and "unreachable" in msg
