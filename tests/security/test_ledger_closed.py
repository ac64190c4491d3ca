"""Through the server: with the state database locked, no call reports success; every success has its row."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import anyio
import pytest
from mcp import Client

from mlgate.config import Settings
from mlgate.server.app import build_server
from mlgate.server.http import unhealthy
from mlgate.serving.runtime import Runtime
from mlgate.state.db import StateDB
from mlgate.state.ledger import Ledger
from tests._support import await_until, tool_payload

pytestmark = pytest.mark.anyio


async def test_a_locked_ledger_fails_every_call_closed(demo_home: Path, tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    settings = Settings(home=demo_home, state_url=f"sqlite:///{path}", ledger_sync=True)
    rt = Runtime(settings)
    rt.ledger = Ledger(rt.state, fail_after_s=0.5)  # the setting's value, shortened for the test
    ok = 0
    async with Client(build_server(rt)) as c:
        for _ in range(3):
            err, out = tool_payload(await c.call_tool("ml_list_models", {}))
            assert not err, out
            ok += 1
        locker = sqlite3.connect(path, isolation_level=None)
        locker.execute("BEGIN EXCLUSIVE")
        try:
            t0 = time.monotonic()
            with anyio.fail_after(20):
                for _ in range(5):
                    try:
                        err, msg = tool_payload(await c.call_tool("ml_list_models", {}))
                    except (
                        Exception
                    ) as exc:  # refused by the server as an unexpected error: not a success either
                        err, msg = True, f"audit ledger ({type(exc).__name__}: {exc})"
                    assert err, "a call answered successfully while its ledger row could not be written"
                    assert "ledger" in msg or "Error executing tool" in msg, msg
            assert time.monotonic() - t0 < 10  # refused within seconds, not after the 30 s busy timeout
            assert rt.ledger.health()["ok"] is False
            problems = await unhealthy(rt)  # what /healthz answers (503) while calls are refused
            assert problems and problems[0].startswith("ledger:") and str(path) not in problems[0], problems
        finally:
            locker.execute("ROLLBACK")
            locker.close()
        await await_until(rt.ledger.healthy, every=0.05, what="the ledger recovers")
        err, out = tool_payload(await c.call_tool("ml_list_models", {}))
        assert not err, out
        ok += 1
        assert await unhealthy(rt) == []  # healthy again once a commit lands
    await rt.aclose()
    db = StateDB(f"sqlite:///{path}")
    rows = [r for r in db.tail(100) if r.tool == "ml_list_models" and r.outcome == "ok"]
    db.close()
    assert len(rows) >= ok
