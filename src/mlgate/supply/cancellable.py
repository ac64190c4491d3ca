"""Blocking work in a thread that a cancelled tool call can stop, and wait for, before cleaning up.

``anyio.to_thread.run_sync`` either ignores cancellation until the thread returns, or
abandons the thread while it still writes files. ``in_thread`` does neither: on
cancellation it sets ``stop`` (which the work polls, e.g. per downloaded chunk), waits
for the thread to finish, then lets the cancellation through, so a ``finally`` that
removes a staging folder runs after the last write.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

import anyio

T = TypeVar("T")


class Stopped(Exception):
    """Raised inside the worker when the call that started it was cancelled."""


async def in_thread(fn: Callable[[], T], stop: threading.Event | None = None) -> T:
    done = threading.Event()

    def run() -> T:
        try:
            return fn()
        finally:
            done.set()

    try:
        return await anyio.to_thread.run_sync(run, abandon_on_cancel=True)
    except anyio.get_cancelled_exc_class():
        if stop is not None:
            stop.set()
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(done.wait, 120.0)
        raise
