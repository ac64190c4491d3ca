"""A warm server's tail near its transport's floor, and a start that answers ``initialize`` first.

What ``bench/tail_sources.py`` found (docs/performance.md, "Tail and start"):

- after start-up and warm-up the collector tracks ~550,000 objects (MCP's schemas, SQLAlchemy,
  MLflow, the models); nothing frees most of them, yet each full collection walks them all
  (0.2–0.7 s on this machine, on the event loop, during whichever call triggered it).
  ``settle_heap`` moves them to the permanent generation (``gc.freeze``) once the warm-up is
  done, so later collections walk only what calls create;
- the warm-up (state database, the MLflow import, model loads) shares the one GIL with the
  session: started before ``initialize`` was answered over stdio, it delayed that answer.
  ``FirstExchange`` is a server middleware that says when the client has been answered (its
  next message, usually ``notifications/initialized``, has arrived); ``serve_stdio`` starts the
  warm-up then (or after ``SILENT_CLIENT_S`` if the client says nothing).
"""

from __future__ import annotations

import gc
import logging
from typing import Any

import anyio

log = logging.getLogger(__name__)

SILENT_CLIENT_S = 10.0  # a client that connects and says nothing still gets a warm server


def settle_heap() -> int:
    """Collect the young generations, then freeze every surviving object (never collected again,
    never walked again). Returns how many objects were frozen."""
    gc.collect(1)  # the young generations only: a full collection is the pause this avoids
    gc.freeze()
    return gc.get_freeze_count()


class FirstExchange:
    """Server middleware (``ServerMiddleware``): ``answered`` is set by the first inbound message that
    is not ``initialize`` (the client sends it after reading the answer, or opens with it on a
    connection without the handshake)."""

    def __init__(self) -> None:
        self.answered = anyio.Event()

    async def __call__(self, ctx: Any, call_next: Any) -> Any:
        if ctx.method != "initialize":
            self.answered.set()
        return await call_next(ctx)

    async def wait(self, timeout: float = SILENT_CLIENT_S) -> None:
        with anyio.move_on_after(timeout):
            await self.answered.wait()


async def warm_then_settle(warm: Any, first: FirstExchange | None = None) -> None:
    """Run the warm-up (``Warmup.run``), after the client's first exchange when ``first`` is given;
    then freeze the heap it leaves."""
    if first is not None:
        await first.wait()
    await warm()
    log.info("heap settled: %d objects frozen", settle_heap())
