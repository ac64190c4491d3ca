"""The local operator at a shell: who they are, and the one rule that each of their actions leaves
its ledger row, whatever the outcome — through the one audited path (``serving.audited``), which
answers only once the row is committed."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import anyio

from mlgate.serving import audited as audit
from mlgate.serving.runtime import Runtime


def audited(rt: Runtime, action: str, args: dict[str, Any], fn: Callable[[], Awaitable[Any]]) -> Any:
    """Run one lifecycle change as the local operator; one ledger row whatever the outcome, committed
    before this returns (or raises)."""
    call = audit.Call(f"models.{action}", rt.local_caller(), args, durable=True)
    return anyio.run(audit.audited, rt, call, fn)


def operator() -> str:
    """Who admits at this shell: the login name, recorded with every admission."""
    import getpass

    return f"{getpass.getuser()} (mlgate models)"


async def in_thread(fn: Callable[..., Any], *args: Any) -> Any:
    return await anyio.to_thread.run_sync(lambda: fn(*args))
