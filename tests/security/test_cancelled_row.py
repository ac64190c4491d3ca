"""A call its client cancels still leaves its ledger row (outcome "error", error class "Cancelled").

The server is the real one (``build_server``) with ``ml_retrain`` (state-changing: the wrapper
waits for the row's commit, shielded) and ``ml_predict`` (read-only: the row is group-committed)
replaced by slow stand-ins wrapped by the same ``guard``; the client is the SDK's in-memory
client, which sends ``notifications/cancelled`` when its caller stops waiting.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.server.mcpserver import Context

from mlgate.config import Settings
from mlgate.server.app import INFERENCE, REFIT, build_server
from mlgate.server.gate import ToolSpec, guard
from mlgate.serving.runtime import Runtime
from mlgate.state.db import LedgerRow
from tests._support import wait_until

pytestmark = pytest.mark.anyio


class Slow:
    """A tool body that signals when it started, then waits until cancelled (``blocks``) or answers at once."""

    def __init__(self, *, blocks: bool = True) -> None:
        self.started = anyio.Event()
        self.interrupted = anyio.Event()
        self.release = anyio.Event()
        if not blocks:
            self.release.set()

    def tool(self) -> Callable[..., Awaitable[dict[str, Any]]]:
        async def slow_tool(ctx: Context[Any, Any], model: str) -> dict[str, Any]:
            self.started.set()
            try:
                await self.release.wait()
            except anyio.get_cancelled_exc_class():
                self.interrupted.set()
                raise
            return {"model": model}

        return slow_tool


def slow_server(rt: Runtime, name: str, slow: Slow) -> Any:
    server = build_server(rt)
    server.remove_tool(name)
    annotations = REFIT if name == "ml_retrain" else INFERENCE
    scope = "ml:manage" if name == "ml_retrain" else "ml:infer"
    spec = ToolSpec(name, slow.tool(), "slow stand-in", scope, annotations)
    server.add_tool(guard(spec), name=name, annotations=annotations)
    return server


def rows_of(rt: Runtime, tool: str, model: str, timeout: float = 10.0) -> list[LedgerRow]:
    """The call's ledger rows, once there is one."""
    rows: list[LedgerRow] = wait_until(
        lambda: [r for r in rt.state.tail(50) if r.tool == tool and r.model_ref == model],
        timeout,
        every=0.05,
        what=f"a ledger row of {tool} on {model}",
    )
    return rows


@pytest.mark.parametrize("tool", ["ml_retrain", "ml_predict"])
async def test_a_cancelled_call_leaves_its_row(settings: Settings, tool: str) -> None:
    rt = Runtime(settings)
    slow = Slow()
    model = f"cancel-probe-{tool}-{time.time_ns()}@1"
    async with Client(slow_server(rt, tool, slow)) as client:
        async with anyio.create_task_group() as tg:
            tg.start_soon(client.call_tool, tool, {"model": model})
            with anyio.fail_after(10):
                await slow.started.wait()
            tg.cancel_scope.cancel()  # the client stops waiting: it sends notifications/cancelled
        with anyio.fail_after(10):
            await slow.interrupted.wait()  # the server interrupted the tool body
        rows = await anyio.to_thread.run_sync(rows_of, rt, tool, model)
    assert len(rows) == 1, rows
    assert rows[0].outcome == "error" and rows[0].error_class == "Cancelled"
    assert rows[0].error_message and "cancelled" in rows[0].error_message
    await rt.aclose()


async def test_a_call_that_finishes_is_not_recorded_as_cancelled(settings: Settings) -> None:
    """The control: the same stand-in, not cancelled, answers and leaves an "ok" row."""
    rt = Runtime(settings)
    model = f"cancel-control-{time.time_ns()}@1"
    async with Client(slow_server(rt, "ml_retrain", Slow(blocks=False))) as client:
        result = await client.call_tool("ml_retrain", {"model": model})
    assert not result.is_error
    rows = await anyio.to_thread.run_sync(rows_of, rt, "ml_retrain", model)
    assert [(r.outcome, r.error_class) for r in rows] == [("ok", None)]
    await rt.aclose()
