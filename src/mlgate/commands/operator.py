"""The local operator at a shell: who they are, and the one rule that each of their actions leaves
its ledger row, whatever the outcome."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

import anyio

from mlgate.serving.runtime import Runtime


def audited(rt: Runtime, action: str, args: dict[str, Any], fn: Callable[[], Awaitable[Any]]) -> Any:
    """Run one lifecycle change as the local operator; one ledger row whatever the outcome."""
    caller = rt.local_caller()
    t0 = time.perf_counter()
    try:
        result = anyio.run(fn)
    except Exception as exc:
        rt.record(f"models.{action}", caller, args, None, t0, exc)
        raise
    rt.record(f"models.{action}", caller, args, result, t0, None)
    return result


def operator() -> str:
    """Who admits at this shell: the login name, recorded with every admission."""
    import getpass

    return f"{getpass.getuser()} (mlgate models)"


async def in_thread(fn: Callable[..., Any], *args: Any) -> Any:
    return await anyio.to_thread.run_sync(lambda: fn(*args))
