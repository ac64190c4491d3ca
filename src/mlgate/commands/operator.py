"""The local operator at a shell: who they are, and the one rule that each of their actions leaves
its ledger row, whatever the outcome — through the one audited path (``serving.audited``), which
answers only once the row is committed."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import anyio

from mlgate.serving import audited as audit
from mlgate.serving.runtime import Runtime


def audited(
    rt: Runtime,
    action: str,
    args: dict[str, Any],
    fn: Callable[[], Awaitable[Any]],
    *,
    family: str = "models",
) -> Any:
    """Run one operator change (``family.action``: ``models.promote``, ``torchhub.admit`` …) as the local
    operator; one ledger row whatever the outcome, committed before this returns (or raises)."""
    call = audit.Call(f"{family}.{action}", rt.local_caller(), args, durable=True)
    return blocking(audit.audited, rt, call, fn)


def blocking(fn: Callable[..., Awaitable[Any]], *args: Any) -> Any:
    """``anyio.run(fn, *args)``, in a thread of its own when this thread already runs an event loop
    (a command called from async code: a test, an embedding application)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return anyio.run(fn, *args)
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(anyio.run, fn, *args).result()


def operator() -> str:
    """Who admits at this shell: the login name, recorded with every admission."""
    import getpass

    return f"{getpass.getuser()} (mlgate models)"


async def in_thread(fn: Callable[..., Any], *args: Any) -> Any:
    return await anyio.to_thread.run_sync(lambda: fn(*args))
