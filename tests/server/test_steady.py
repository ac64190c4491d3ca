"""The warm server's heap is frozen after warm-up; over stdio the warm-up waits for the first exchange."""

from __future__ import annotations

import gc
from types import SimpleNamespace
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.server.mcpserver import MCPServer

from mlgate.server.steady import FirstExchange, settle_heap, warm_then_settle

pytestmark = pytest.mark.anyio


def test_settle_heap_freezes_what_survived() -> None:
    kept = [[i] for i in range(1000)]
    try:
        frozen = settle_heap()
        assert frozen >= len(kept)
        # what other threads of the process free meanwhile leaves the permanent generation: not equal, but
        # everything that survived is in it
        assert gc.get_freeze_count() >= len(kept)
    finally:
        gc.unfreeze()


async def test_initialize_alone_does_not_start_the_warm_up() -> None:
    first = FirstExchange()

    async def call_next(ctx: Any) -> str:
        return f"answered {ctx.method}"

    assert await first(SimpleNamespace(method="initialize"), call_next) == "answered initialize"
    assert not first.answered.is_set()
    await first(SimpleNamespace(method="notifications/initialized"), call_next)
    assert first.answered.is_set()


async def test_a_real_client_session_releases_the_warm_up_and_the_heap_is_frozen() -> None:
    first = FirstExchange()
    server: MCPServer[Any] = MCPServer("probe", middleware=[first])
    ran: list[bool] = []

    async def warm() -> None:
        ran.append(first.answered.is_set())

    try:
        async with Client(server), anyio.create_task_group() as tg:
            tg.start_soon(warm_then_settle, warm, first)
        assert ran == [True]  # the warm-up ran, and only after the client's first exchange
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()


async def test_a_silent_client_still_gets_its_warm_up() -> None:
    first = FirstExchange()
    ran: list[bool] = []

    async def warm() -> None:
        ran.append(True)

    try:
        with anyio.fail_after(5):
            await first.wait(timeout=0.05)
            await warm_then_settle(warm)
        assert ran == [True]
    finally:
        gc.unfreeze()
