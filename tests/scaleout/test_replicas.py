"""Two stateless replicas on one PostgreSQL and one MLflow server: halts, promotions, the ledger, a crash."""

from __future__ import annotations

import os
import random
import signal
import statistics
import sys
import time
from typing import Any

import anyio
import pytest
from mcp import Client

from mlgate.artifacts import json_sha256 as input_digest
from tests._support import await_until, tool_payload
from tests._support.scaleout import IRIS, Cluster

pytestmark = pytest.mark.anyio
ROW = dict(zip(IRIS, [5.1, 3.5, 1.4, 0.2], strict=True))


def report(text: str) -> None:
    print(f"[scale-out] {text}", file=sys.stderr)


async def test_halt_through_a_refuses_on_b_within_a_second(cluster: Cluster) -> None:
    async with Client(cluster.a.url) as ca, Client(cluster.b.url) as cb:
        call = {"model": "scale-iris@1", "features": [ROW]}
        assert not tool_payload(await cb.call_tool("ml_classify", call))[0]
        latencies = []
        for i in range(6):
            # land anywhere in B's polling cycle (0.5 s, in another process): the phase is what varies, on purpose
            await anyio.sleep(random.uniform(0, 0.5))
            err, out = tool_payload(
                await ca.call_tool("ml_halt", {"model": "scale-iris", "reason": f"drill {i}"})
            )
            assert not err, out
            t0 = time.monotonic()
            msg = await await_until(
                lambda: _refusal(cb, call), 1.0, what="replica B refuses within 1 s of the halt through A"
            )
            latencies.append(time.monotonic() - t0)
            assert f"drill {i}" in msg and "halted" in msg
            assert not tool_payload(await ca.call_tool("ml_resume", {"model": "scale-iris"}))[0]
            await await_until(
                lambda: _served(cb, call), 1.0, what="replica B serves within 1 s of the resume through A"
            )
        report(
            f"halt propagation A→B: max {max(latencies) * 1000:.0f} ms, "
            f"median {statistics.median(latencies) * 1000:.0f} ms over {len(latencies)} halts"
        )


async def _refusal(client: Any, call: dict[str, Any]) -> str:
    """The refusal's text ("" while the call is served)."""
    err, msg = tool_payload(await client.call_tool("ml_classify", call))
    return str(msg) if err else ""


async def _served(client: Any, call: dict[str, Any]) -> bool:
    return not tool_payload(await client.call_tool("ml_classify", call))[0]


async def _served_version(client: Any, call: dict[str, Any], want: int) -> None:
    """B keeps its alias answer until its halt poll reads A's generation bump: within one poll (0.5 s)."""

    async def serves_it() -> bool:
        err, out = tool_payload(await client.call_tool("ml_classify", call))
        assert not err, out
        return bool(out["model"]["version"] == want)

    await await_until(serves_it, 1.0, what=f"replica B serves version {want} within 1 s of the promotion")


async def test_promotion_through_a_is_served_by_b_after_its_next_poll(cluster: Cluster) -> None:
    call = {"model": "scale-iris@production", "features": [ROW]}
    async with Client(cluster.a.url) as ca, Client(cluster.b.url) as cb:
        err, out = tool_payload(await cb.call_tool("ml_classify", call))
        assert not err, out
        before = out["model"]["version"]
        target = 2 if before == 1 else 1
        err, out = tool_payload(
            await ca.call_tool("ml_promote", {"model": "scale-iris", "version": target, "force": True})
        )
        assert not err and out["promoted"], out
        await _served_version(cb, call, target)
        # and back, so the test can run again on the same cluster
        assert not tool_payload(
            await ca.call_tool("ml_promote", {"model": "scale-iris", "version": before, "force": True})
        )[0]
        await _served_version(cb, call, before)


async def test_ledger_rows_of_both_replicas_land_in_one_database(cluster: Cluster) -> None:
    marks = {"a": f"ledger-a-{time.time_ns()}", "b": f"ledger-b-{time.time_ns()}"}
    for name, replica in (("a", cluster.a), ("b", cluster.b)):
        async with Client(replica.url) as c:
            for _ in range(3):  # a halt refusal is a ledger row too; 'reason' makes it findable
                tool_payload(await c.call_tool("ml_resume", {"model": marks[name]}))
    rows = cluster.ledger("tool = 'ml_resume' and model_ref in (%s, %s)", (marks["a"], marks["b"]))
    assert sorted({r["model_ref"] for r in rows}) == sorted(marks.values())
    assert len(rows) == 6 and all(r["transport"] == "http" for r in rows)


async def test_killing_a_replica_mid_load_loses_no_ledger_row_of_a_successful_call(cluster: Cluster) -> None:
    t0 = time.monotonic()
    victim = cluster.replica("victim").ready()
    report(f"replica start to /healthz: {time.monotonic() - t0:.1f} s")
    ref = f"models:/scale-iris/{1}"
    seen: list[str] = []  # input digests of calls the clients saw succeed
    failures: list[str] = []
    stop = anyio.Event()

    async def agent(k: int) -> None:
        i = 0
        try:
            async with Client(victim.url) as c:
                while not stop.is_set():
                    i += 1
                    row = {**ROW, "sepal_length": 5.0 + k / 100 + i / 1e6}
                    args = {"model": ref, "features": [row]}
                    try:
                        err, out = tool_payload(await c.call_tool("ml_classify", args))
                    except Exception as exc:  # the process died under this call
                        failures.append(type(exc).__name__)
                        return
                    if err:
                        failures.append(str(out)[:100])
                    else:
                        seen.append(input_digest(args))
        except Exception as exc:
            failures.append(type(exc).__name__)

    async with anyio.create_task_group() as tg:
        for k in range(16):
            tg.start_soon(agent, k)
        await await_until(lambda: len(seen) >= 200, 60, what="200 successful calls before the kill")
        before = len(failures)
        os.kill(victim.proc.pid, signal.SIGKILL)
        victim.proc.wait(10)
        # the load goes on until a client has seen the replica die (not for a guessed while)
        await await_until(lambda: len(failures) > before, 30, what="a client sees the killed replica fail")
        stop.set()
        tg.cancel_scope.cancel()
    assert seen and failures, (len(seen), failures[:3])
    rows = cluster.ledger("model_ref = %s and tool = 'ml_classify' and outcome = 'ok'", (ref,))
    in_db = {r["input_digest"] for r in rows}
    missing = [d for d in seen if d not in in_db]
    report(
        f"SIGKILL mid-load: {len(seen)} successful calls seen by clients, {len(rows)} ok rows committed, "
        f"{len(missing)} missing"
    )
    assert not missing, f"{len(missing)} of {len(seen)} successful calls have no ledger row"
    # and the surviving replica serves on
    async with Client(cluster.b.url) as cb:
        assert not tool_payload(await cb.call_tool("ml_classify", {"model": ref, "features": [ROW]}))[0]
