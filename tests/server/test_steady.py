"""The warm server's heap is frozen after the warm-up (server/steady.py)."""

from __future__ import annotations

import gc

import pytest

from mlgate.server.steady import settle_heap, warm_then_settle

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


async def test_the_heap_is_frozen_after_the_warm_up() -> None:
    ran: list[bool] = []

    async def warm() -> None:
        ran.append(gc.get_freeze_count() == 0)

    try:
        await warm_then_settle(warm)
        assert ran == [True]
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
