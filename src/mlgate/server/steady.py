"""A warm server's tail near its transport's floor, and a start that answers ``initialize`` first.

What ``bench/tail_sources.py`` found (docs/performance.md, "Tail and start"):

- after start-up and warm-up the collector tracks ~550,000 objects (MCP's schemas, SQLAlchemy,
  MLflow, the models); nothing frees most of them, yet each full collection walks them all
  (0.2–0.7 s on this machine, on the event loop, during whichever call triggered it).
  ``settle_heap`` moves them to the permanent generation (``gc.freeze``) once the warm-up is
  done, so later collections walk only what calls create;
- over stdio the start is what a client waits for: ``server/front.py`` answers ``initialize``
  before the server is built, and the warm-up starts once the client has been answered (its next
  message) or after ``front.SILENT_CLIENT_S`` if it says nothing.
"""

from __future__ import annotations

import gc
import logging
from typing import Any

log = logging.getLogger(__name__)


def settle_heap() -> int:
    """Collect the young generations, then freeze every surviving object (never collected again,
    never walked again). Returns how many objects were frozen."""
    gc.collect(1)  # the young generations only: a full collection is the pause this avoids
    gc.freeze()
    return gc.get_freeze_count()


async def warm_then_settle(warm: Any) -> None:
    """Run the warm-up (``Warmup.run``), then freeze the heap it leaves."""
    await warm()
    log.info("heap settled: %d objects frozen", settle_heap())
